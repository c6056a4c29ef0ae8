#!/usr/bin/env python3
"""The training step of examples/python/dlrm.py through embrt.torch against pure PyTorch.

Same batch, same ids, same gradients, same thread count (torch.set_num_threads(T) and the cpu
backend's `threads` option). Measured, in ms per step:

  embedding part   forward of the 26 tables + backward with fixed d loss / d activations +
                   the tables' Adagrad update (TF-exact math on both sides):
                     pytorch   26 x torch.nn.EmbeddingBag(sparse=True) + torch.optim.Adagrad
                     embrt     embrt.torch.EmbeddingCollection (autograd -> apply_gradients)
                     stacked   the same with forward(..., stacked=True): one tensor of all 26
                               features and one gradient for it (what DLRM's interaction stacks)
                     binding   embrt.Embedding enqueue/dequeue/apply_gradients from Python
                     C++ API   the same Enqueue/DequeueInto/ApplyGradients loop in C++
                               (embrt._embrt._time_cxx_steps), same engine, ids and gradients
  whole step       the full DLRM step (bottom MLP, interaction, top MLP, BCE loss, backward,
                   Adagrad on the tables, Adagrad on the dense part) of each model

Ratios: pytorch / embrt on the embedding part (target >= 5x), embrt / C++ API (the Python
layer's cost; target <= 1.10). Each time is the median over --repeats runs of --steps steps,
the variants interleaved (in an order that rotates) so machine load hits them alike, each run
after an untimed pass of its own over the batches (so no run pays for the caches another
variant emptied). Each ratio is the median over the repeats of the ratio of the two runs of the
same repeat, which cancels the machine's slower drifts. Both wall time and process CPU time
(all threads) are printed: on a machine shared with other jobs the CPU time is the steadier of
the two.

    PYTHONPATH=build/release/python python3 bench/python_step.py [--threads 1 2] [--batch 4096]
"""

import argparse
import os
import pathlib
import statistics
import sys
import time

import numpy as np
import torch

import embrt
import embrt.torch
from embrt import _embrt

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "examples" / "python"))
import dlrm  # noqa: E402


def make_batches(args, count):
    """`count` batches of ids per feature: dense [B] (bag 1) or ragged B x bag."""
    rng = np.random.default_rng(7)
    out = []
    for _ in range(count):
        ids = [rng.integers(0, args.vocab, size=args.batch * args.bag, dtype=np.int64)
               for _ in range(args.features)]
        out.append(ids)
    return out


def embrt_inputs(args, ids):
    if args.bag == 1:
        return [torch.from_numpy(i) for i in ids]
    splits = torch.arange(0, args.batch * args.bag + 1, args.bag, dtype=torch.int64)
    return [(splits, torch.from_numpy(i)) for i in ids]


def timed(function, steps):
    """(wall ms, process CPU ms) per step. CPU time counts every thread of the process (torch's
    and the backend's), and is what to compare when other jobs load the machine."""
    wall, cpu = time.perf_counter(), time.process_time()
    for s in range(steps):
        function(s)
    return ((time.perf_counter() - wall) / steps * 1e3,
            (time.process_time() - cpu) / steps * 1e3)




def run(args, threads):
    torch.set_num_threads(threads)
    dims = [args.dim] * args.features
    vocab_sizes = [args.vocab] * args.features
    config = dlrm.embrt_config(vocab_sizes, args.dim, args.batch, args.lr, threads)
    if args.bag > 1:
        for table in config["tables"]:
            table["combiner"] = "SUM"
    batches = make_batches(args, 4)
    rng = np.random.default_rng(8)
    grads_np = [rng.normal(size=(args.batch, d)).astype(np.float32) * 1e-3 for d in dims]
    grads = [torch.from_numpy(g) for g in grads_np]
    dense = torch.from_numpy(rng.normal(size=(args.batch, dlrm.NUM_DENSE)).astype(np.float32))
    labels = torch.from_numpy((rng.random(args.batch) < 0.25).astype(np.float32))

    # -- the embedding part alone -------------------------------------------------------------
    tables = embrt.torch.EmbeddingCollection(config)
    tables.embedding.synchronize()  # initializes the tables outside the timed loops
    binding = tables.embedding
    bags = torch.nn.ModuleList(torch.nn.EmbeddingBag(args.vocab, args.dim, mode="sum",
                                                     sparse=True) for _ in range(args.features))
    bag_opt = dlrm.torch_adagrad_like_tf(bags.parameters(), args.lr)
    offsets = torch.arange(0, args.batch * args.bag, args.bag, dtype=torch.int64)
    torch_ids = [[torch.from_numpy(i) for i in b] for b in batches]
    embrt_ids = [embrt_inputs(args, b) for b in batches]
    numpy_ids = [[t.numpy() if isinstance(t, torch.Tensor) else tuple(x.numpy() for x in t)
                  for t in b] for b in embrt_ids]

    def pytorch_step(s):
        outs = [bag(ids, offsets) for bag, ids in zip(bags, torch_ids[s % 4])]
        torch.autograd.backward(outs, grads)
        bag_opt.step()
        bag_opt.zero_grad(set_to_none=True)

    def embrt_step(s):
        torch.autograd.backward(tables(embrt_ids[s % 4]), grads)

    stacked_grads = torch.stack(grads)

    def stacked_step(s):
        torch.autograd.backward(tables(embrt_ids[s % 4], stacked=True), stacked_grads)

    def binding_step(s):
        binding.enqueue(numpy_ids[s % 4])
        binding.dequeue()
        binding.apply_gradients(grads_np)

    def cxx_steps(steps):
        # Timed inside, around the C++ loop only: the call's setup (the batches converted, 6.8 MB
        # of output buffers allocated) is not part of a step (0.36-0.63 ms a call here).
        wall, cpu = _embrt._time_cxx_steps(binding, numpy_ids, grads_np, steps)
        return wall * 1e3, cpu * 1e3

    # Warm up: first touches, allocations.
    for f in (pytorch_step, embrt_step, stacked_step, binding_step):
        timed(f, 2)
    binding.synchronize()

    def python_variant(step):
        """(warm pass, timed run) of a step driven from Python. Work still running after the
        last call belongs to the timed steps: the run ends with a synchronize."""
        def run_and_wait(s):
            step(s)
            if s == args.steps - 1:
                binding.synchronize()

        def warm_pass():
            for s in range(len(batches)):
                step(s)
            binding.synchronize()
        return warm_pass, lambda: timed(run_and_wait, args.steps)

    def measure_cxx():
        wall, cpu = cxx_steps(args.steps)
        return (wall / args.steps, cpu / args.steps)

    variants = [("pytorch", *python_variant(pytorch_step)),
                ("embrt", *python_variant(embrt_step)),
                ("stacked", *python_variant(stacked_step)),
                ("binding", *python_variant(binding_step)),
                ("cxx", lambda: cxx_steps(len(batches)), measure_cxx)]
    results = {name: [] for name, _, _ in variants}
    # Each timed run starts right after one untimed pass of the same variant over the batches,
    # so the caches hold what that variant's own steady state holds: PyTorch's step evicts
    # everything, and a run right after it would otherwise pay for refilling the caches (about
    # 2 ms over its first 5 steps here, which one untimed step did not absorb). The order also
    # rotates from repeat to repeat.
    for r in range(args.repeats):
        turn = r % len(variants)
        for name, warm, measure in variants[turn:] + variants[:turn]:
            warm()
            results[name].append(measure())
    embedding_part = {k: median(v) for k, v in results.items()}
    ratios = {pair: paired_ratio(results, *pair.split("/"))
              for pair in ("pytorch/embrt", "embrt/cxx", "stacked/cxx", "binding/cxx")}
    del tables, binding, bags, bag_opt
    if args.features != dlrm.NUM_SPARSE or args.skip_whole_step:
        return embedding_part, ratios, None

    # -- the whole DLRM step ------------------------------------------------------------------
    (ours, ours_opts), (theirs, theirs_opts) = dlrm.make_models(
        vocab_sizes, dim=args.dim, batch=args.batch, lr=args.lr, threads=threads)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    id_rows = [[torch.from_numpy(i[:args.batch]) for i in b] for b in batches]

    def whole(model, optimizers):
        def step(s):
            for o in optimizers:
                o.zero_grad(set_to_none=True)
            loss_fn(model(dense, id_rows[s % 4]), labels).backward()
            for o in optimizers:
                o.step()
        return step

    whole_results = {"pytorch": [], "embrt": []}
    ours_step, theirs_step = whole(ours, ours_opts), whole(theirs, theirs_opts)
    pairs = [("pytorch", theirs_step), ("embrt", ours_step)]
    for r in range(args.repeats):  # a warm pass before each run, the order alternating
        for name, step in pairs[r % 2:] + pairs[:r % 2]:
            timed(step, len(batches))
            whole_results[name].append(timed(step, args.steps))
    whole_step = {k: median(v) for k, v in whole_results.items()}
    return embedding_part, ratios, whole_step


def median(pairs):
    return tuple(statistics.median(p[i] for p in pairs) for i in range(2))


def paired_ratio(results, numerator, denominator):
    """(wall, CPU) medians over the repeats of numerator / denominator from the same repeat.
    The two runs of a repeat are a few seconds apart at most, so the ratio of each pair cancels
    the machine's slower drifts (this VM's speed moves by 10-30% within minutes), which a ratio
    of the two medians does not."""
    pairs = list(zip(results[numerator], results[denominator]))
    return tuple(statistics.median(a[i] / b[i] for a, b in pairs) for i in range(2))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=4096)
    parser.add_argument("--vocab", type=int, default=100_000, help="rows per table (26 tables)")
    parser.add_argument("--dim", type=int, default=16)
    parser.add_argument("--bag", type=int, default=1, help="ids per example and feature")
    parser.add_argument("--features", type=int, default=dlrm.NUM_SPARSE,
                        help="tables (one feature each); the whole DLRM step needs 26")
    parser.add_argument("--skip_whole_step", action="store_true")
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"DLRM step: batch {args.batch}, {args.features} tables x {args.vocab} rows x dim "
          f"{args.dim}, "
          f"{args.bag} id(s) per feature, Adagrad; median of {args.repeats} x {args.steps} steps")
    native = embrt.torch._embrt_torch is not None and os.environ.get("EMBRT_TORCH_NATIVE") != "0"
    print("embrt.torch's training step: " + ("C++ (embrt._embrt_torch)" if native else
                                             "numpy (embrt._embrt_torch not built or turned off)"))
    print("| threads | clock | embedding part ms: pytorch / embrt.torch / stacked / binding / "
          "C++ API | pytorch / embrt | embrt / C++ | stacked / C++ | binding / C++ | "
          "whole step ms: pytorch / embrt | pytorch / embrt |")
    print("|---|---|---|---|---|---|---|---|---|")
    for threads in args.threads:
        e, ratio, w = run(args, threads)
        for i, clock in enumerate(("wall", "CPU")):
            whole = "- | -" if w is None else (
                f"{w['pytorch'][i]:.2f} / {w['embrt'][i]:.2f} | "
                f"{w['pytorch'][i] / w['embrt'][i]:.2f}x")
            print(f"| {threads} | {clock} | {e['pytorch'][i]:.2f} / {e['embrt'][i]:.2f} / "
                  f"{e['stacked'][i]:.2f} / {e['binding'][i]:.2f} / {e['cxx'][i]:.2f} | "
                  f"{ratio['pytorch/embrt'][i]:.2f}x | {ratio['embrt/cxx'][i]:.3f} | "
                  f"{ratio['stacked/cxx'][i]:.3f} | {ratio['binding/cxx'][i]:.3f} | {whole} |",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
