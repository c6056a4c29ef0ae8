#!/usr/bin/env python3
"""A small DLRM trained with embrt tables from PyTorch, beside the same model in pure PyTorch.

The model (Naumov et al. 2019, "Deep Learning Recommendation Model"): a bottom MLP on the 13
dense Criteo features, one embedding table per categorical feature (26), the pairwise dot
products of all 27 vectors, and a top MLP on [bottom output, dot products] giving a click logit.

Two versions of the same model, trained on the same batches:
  embrt    embrt.torch.EmbeddingCollection (26 tables, TF-exact Adagrad inside embrt);
  pytorch  torch.nn.EmbeddingBag(sparse=True) per table + torch.optim.Adagrad configured to the
           same math: TF's Adagrad is  a <- a + g^2; w <- w - lr * g / sqrt(a)  with
           a starting at initial_accumulator_value (0.1) and no epsilon; torch's is the same with
           initial_accumulator_value=0.1, eps=0 and lr_decay=0 (torch adds eps to sqrt(a)).
Both start from the same tables (copied from embrt's initializer) and the same dense weights;
the dense parts use the same torch.optim optimizer. They print AUC and log loss on held-out
data, which agree within noise (the tables match to float tolerance: tests/test_dlrm.py).

Data: the Criteo sample under ../shared/data/criteo (label, I1..I13, C1..C26; skipped with a
message when missing) and synthetic clicks drawn from a hidden teacher model.

    PYTHONPATH=build/release/python python3 examples/python/dlrm.py [--data synthetic]
"""

import argparse
import copy
import math
import os
import pathlib
import sys
import time

import numpy as np
import torch

import embrt.torch

NUM_DENSE = 13
NUM_SPARSE = 26
REPO = pathlib.Path(__file__).resolve().parents[2]


def _criteo_dir():
    """$EMBRT_DATA_DIR/criteo, else ../shared/data/criteo beside the checkout (or beside the
    directory holding it, for git worktrees under wt/)."""
    if os.environ.get("EMBRT_DATA_DIR"):
        return pathlib.Path(os.environ["EMBRT_DATA_DIR"]) / "criteo"
    for base in (REPO.parent, REPO.parent.parent):
        if (base / "shared" / "data" / "criteo").is_dir():
            return base / "shared" / "data" / "criteo"
    return REPO.parent / "shared" / "data" / "criteo"


CRITEO_DIR = _criteo_dir()


# -- data ----------------------------------------------------------------------------------

class Dataset:
    """dense [N, 13] float32, ids [26, N] int64 (feature-major, so one feature's batch slice is
    contiguous and reaches embrt without a copy), labels [N] float32, vocab per feature."""

    def __init__(self, dense, ids, labels, vocab_sizes):
        self.dense, self.ids, self.labels = dense, ids, labels
        self.vocab_sizes = list(vocab_sizes)

    def __len__(self):
        return len(self.labels)

    def shuffled(self, seed=0):
        order = np.random.default_rng(seed).permutation(len(self))
        return Dataset(self.dense[order], np.ascontiguousarray(self.ids[:, order]),
                       self.labels[order], self.vocab_sizes)

    def split(self, fraction):
        n = int(len(self) * fraction)
        head = Dataset(self.dense[:n], np.ascontiguousarray(self.ids[:, :n]), self.labels[:n],
                       self.vocab_sizes)
        tail = Dataset(self.dense[n:], np.ascontiguousarray(self.ids[:, n:]), self.labels[n:],
                       self.vocab_sizes)
        return head, tail


def read_criteo(paths, buckets=1000):
    """Criteo lines (tab-separated, or comma-separated with a header) -> Dataset. Dense values
    become log(1 + max(x, 0)) (0 when missing); categorical hex values are hashed into
    `buckets` - 1 rows, row 0 being "missing"."""
    dense, ids, labels = [], [], []
    for path in paths:
        with open(path) as f:
            for line in f:
                line = line.rstrip("\n")
                if not line or line.startswith("label"):
                    continue
                fields = line.split("\t") if "\t" in line else line.split(",")
                if len(fields) < 1 + NUM_DENSE or len(fields) > 1 + NUM_DENSE + NUM_SPARSE:
                    continue
                # Some files strip trailing empty fields: they are missing values.
                fields += [""] * (1 + NUM_DENSE + NUM_SPARSE - len(fields))
                labels.append(float(fields[0]))
                dense.append([math.log1p(max(float(x), 0.0)) if x else 0.0
                              for x in fields[1:1 + NUM_DENSE]])
                ids.append([int(x, 16) % (buckets - 1) + 1 if x else 0
                            for x in fields[1 + NUM_DENSE:]])
    return Dataset(np.asarray(dense, np.float32), np.ascontiguousarray(np.asarray(ids).T),
                   np.asarray(labels, np.float32), [buckets] * NUM_SPARSE)


def criteo_files():
    """The Criteo sample files that exist (empty when ../shared/data is missing)."""
    names = ["train.txt", "criteo_sample.txt"]
    return [CRITEO_DIR / n for n in names if (CRITEO_DIR / n).is_file()]


def synthetic_clicks(n, vocab=1000, seed=0):
    """Zipf-distributed ids and normal dense features; labels drawn from a hidden teacher
    (a logistic model with one weight per id and per dense feature)."""
    rng = np.random.default_rng(seed)
    teacher = np.random.default_rng(1234)  # the same teacher for every seed
    id_weights = teacher.normal(0.0, 0.6, size=(NUM_SPARSE, vocab))
    dense_weights = teacher.normal(0.0, 0.5, size=NUM_DENSE)
    ranks = np.arange(1, vocab + 1)
    p = ranks ** -1.1
    p /= p.sum()
    ids = rng.choice(vocab, size=(NUM_SPARSE, n), p=p).astype(np.int64)
    dense = rng.normal(size=(n, NUM_DENSE)).astype(np.float32)
    logit = dense @ dense_weights + id_weights[np.arange(NUM_SPARSE)[:, None], ids].sum(0) - 1.0
    labels = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.float32)
    return Dataset(dense, ids, labels, [vocab] * NUM_SPARSE)


# -- model ---------------------------------------------------------------------------------

def mlp(sizes, last_activation=True):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2 or last_activation:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


class DenseTowers(torch.nn.Module):
    """Bottom MLP, pairwise interaction, top MLP: everything but the tables."""

    def __init__(self, dim, hidden=64):
        super().__init__()
        self.bottom = mlp([NUM_DENSE, hidden, dim])
        vectors = NUM_SPARSE + 1
        self.pairs = torch.triu_indices(vectors, vectors, offset=1)
        self.top = mlp([dim + self.pairs.shape[1], hidden, 1], last_activation=False)

    def forward(self, dense, embeddings):
        """`embeddings`: the 26 features' activations stacked, [26, B, dim]."""
        x = self.bottom(dense)
        t = torch.cat([x.unsqueeze(0), embeddings]).transpose(0, 1)  # [B, 27, dim]
        z = torch.bmm(t, t.transpose(1, 2))[:, self.pairs[0], self.pairs[1]]
        return self.top(torch.cat([x, z], dim=1)).squeeze(1)


def embrt_config(vocab_sizes, dim, batch, lr, threads, seed=0):
    return {
        "tables": [{"name": f"C{f + 1}", "vocabulary_size": v, "dim": dim, "combiner": "SUM",
                    "initializer": {"truncated_normal": {"stddev": 0.1, "seed": seed + f}}}
                   for f, v in enumerate(vocab_sizes)],
        "features": [{"name": f"C{f + 1}", "table": f"C{f + 1}"}
                     for f in range(len(vocab_sizes))],
        "optimizer": {"adagrad": {"initial_accumulator_value": 0.1},
                      "learning_rate": {"constant": lr}},
        "backend": {"name": "cpu", "options": {"threads": str(threads)}},
        "per_replica_batch_size": batch,
    }


class EmbrtDLRM(torch.nn.Module):
    """DLRM with the tables in embrt (the tables' optimizer runs inside embrt)."""

    def __init__(self, vocab_sizes, dim, batch, lr, threads, towers):
        super().__init__()
        self.tables = embrt.torch.EmbeddingCollection(
            embrt_config(vocab_sizes, dim, batch, lr, threads))
        self.towers = towers

    def forward(self, dense, ids):
        # One tensor of all 26 features (a view of embrt's buffer, one autograd edge).
        return self.towers(dense, self.tables(list(ids), stacked=True))


class TorchDLRM(torch.nn.Module):
    """The same model with torch.nn.EmbeddingBag(sparse=True) tables."""

    def __init__(self, vocab_sizes, dim, towers):
        super().__init__()
        self.bags = torch.nn.ModuleList(
            torch.nn.EmbeddingBag(v, dim, mode="sum", sparse=True) for v in vocab_sizes)
        self.towers = towers

    def forward(self, dense, ids):
        return self.towers(dense, torch.stack([bag(row.view(-1, 1))
                                               for bag, row in zip(self.bags, ids)]))


def torch_adagrad_like_tf(params, lr):
    """torch.optim.Adagrad with TF's TPU Adagrad math (see the module docstring)."""
    return torch.optim.Adagrad(params, lr=lr, lr_decay=0.0, initial_accumulator_value=0.1,
                               eps=0.0)


def make_models(vocab_sizes, dim=16, batch=128, lr=0.05, dense_lr=0.05, threads=1, seed=0):
    """Both models with identical starting points; returns (embrt (model, dense optimizer),
    torch (model, [table optimizer, dense optimizer]))."""
    torch.manual_seed(seed)
    towers = DenseTowers(dim)
    ours = EmbrtDLRM(vocab_sizes, dim, batch, lr, threads, towers)
    theirs = TorchDLRM(vocab_sizes, dim, copy.deepcopy(towers))
    tables = ours.tables.tables()
    with torch.no_grad():
        for f, bag in enumerate(theirs.bags):
            bag.weight.copy_(torch.tensor(tables[f"C{f + 1}"]["parameters"]))
    ours_opt = torch.optim.Adagrad(ours.towers.parameters(), lr=dense_lr)
    theirs_opts = [torch_adagrad_like_tf(theirs.bags.parameters(), lr),
                   torch.optim.Adagrad(theirs.towers.parameters(), lr=dense_lr)]
    return (ours, [ours_opt]), (theirs, theirs_opts)


# -- training and metrics ------------------------------------------------------------------

def batches(data, batch, pad=False):
    """(dense, [26 id tensors], labels, valid rows) per batch; the tail is dropped, or padded
    with the first rows when `pad` (embrt's engine is built for one batch size)."""
    n = len(data)
    for start in range(0, n, batch):
        end = min(start + batch, n)
        if end - start < batch:
            if not pad or end == start:
                return
            index = np.concatenate([np.arange(start, end), np.arange(batch - (end - start)) % n])
            yield (torch.from_numpy(data.dense[index]),
                   [torch.from_numpy(np.ascontiguousarray(data.ids[f, index]))
                    for f in range(NUM_SPARSE)],
                   torch.from_numpy(data.labels[index]), end - start)
            return
        yield (torch.from_numpy(data.dense[start:end]),
               [torch.from_numpy(data.ids[f, start:end]) for f in range(NUM_SPARSE)],
               torch.from_numpy(data.labels[start:end]), batch)


def train(model, optimizers, data, batch, epochs=1, max_steps=None):
    """Plain PyTorch training; embrt's tables update inside loss.backward()."""
    model.train()
    loss_fn = torch.nn.BCEWithLogitsLoss()
    steps = 0
    for _ in range(epochs):
        for dense, ids, labels, _ in batches(data, batch):
            for o in optimizers:
                o.zero_grad()
            loss = loss_fn(model(dense, ids), labels)
            loss.backward()
            for o in optimizers:
                o.step()
            steps += 1
            if max_steps is not None and steps >= max_steps:
                return steps
    return steps


def predict(model, data, batch):
    model.eval()
    out = []
    with torch.no_grad():
        for dense, ids, _, valid in batches(data, batch, pad=True):
            out.append(torch.sigmoid(model(dense, ids))[:valid].numpy())
    model.train()
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def auc(labels, scores):
    """Area under the ROC curve (Mann-Whitney U, ties averaged)."""
    labels = np.asarray(labels)
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = np.asarray(scores)[order]
    i = 0
    while i < len(scores):  # average ranks of ties
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    positives = labels.sum()
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    return float((ranks[labels == 1].sum() - positives * (positives + 1) / 2.0)
                 / (positives * negatives))


def log_loss(labels, scores):
    p = np.clip(scores, 1e-7, 1 - 1e-7)
    return float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)))


def run(name, train_data, test_data, batch, epochs, dim, lr, threads):
    (ours, ours_opts), (theirs, theirs_opts) = make_models(
        train_data.vocab_sizes, dim=dim, batch=batch, lr=lr, threads=threads)
    results = {}
    for label, model, opts in (("embrt", ours, ours_opts), ("pytorch", theirs, theirs_opts)):
        start = time.perf_counter()
        steps = train(model, opts, train_data, batch, epochs)
        seconds = time.perf_counter() - start
        scores = predict(model, test_data, batch)
        results[label] = (auc(test_data.labels, scores), log_loss(test_data.labels, scores))
        print(f"{name:10s} {label:8s} steps {steps:5d}  held-out {len(test_data)}: "
              f"AUC {results[label][0]:.4f}  log loss {results[label][1]:.5f}  "
              f"({seconds:.2f} s training)")
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", choices=["criteo", "synthetic", "both"], default="both")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--dim", type=int, default=16)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--synthetic_examples", type=int, default=40000)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.data in ("criteo", "both"):
        files = criteo_files()
        if not files:
            print(f"criteo: skipped, no sample under {CRITEO_DIR}")
        else:
            data = read_criteo(files).shuffled()
            train_data, test_data = data.split(0.8)
            run("criteo", train_data, test_data, args.batch, args.epochs, args.dim, args.lr,
                args.threads)
    if args.data in ("synthetic", "both"):
        data = synthetic_clicks(args.synthetic_examples)
        train_data, test_data = data.split(0.8)
        run("synthetic", train_data, test_data, args.batch, 1, args.dim, args.lr, args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
