"""embrt.torch.EmbeddingCollection: autograd into embrt, modes, checkpoints, replicas."""

import threading

import numpy as np
import pytest

import embrt

try:
    import torch
    import embrt.torch
except ImportError as error:  # every test is skipped (still collected: pytest exits 0)
    torch = None
    MISSING = f"python3-torch is not installed ({error})"
pytestmark = pytest.mark.skipif(torch is None, reason=MISSING if torch is None else "")

# embrt.torch trains through embrt._embrt_torch (C++) where it was built, else through numpy;
# every training test runs on both paths.
NATIVE_BUILT = torch is not None and embrt.torch._embrt_torch is not None


@pytest.fixture(params=["native", "numpy"])
def step_path(request):
    if request.param == "native" and not NATIVE_BUILT:
        pytest.skip("embrt._embrt_torch was not built (no libtorch-dev): numpy path only")
    return request.param


def collection(step_path, config=None, **kwargs):
    tables = embrt.torch.EmbeddingCollection(config, **kwargs)
    if step_path == "numpy":
        tables._native = None
    return tables


def features():
    return {"watched": torch.tensor([1, 2]),
            "favorited": (torch.tensor([[0, 0], [0, 1], [1, 0]]), torch.tensor([3, 4, 5]),
                          torch.tensor([2, 3])),
            "friends": (torch.tensor([0, 1, 3]), torch.tensor([1, 2, 3]))}


def test_forward_returns_one_tensor_per_feature(small_config, step_path):
    tables = collection(step_path, small_config)
    out = tables(features())
    assert list(out) == ["watched", "favorited", "friends"]
    assert all(isinstance(t, torch.Tensor) and t.dtype == torch.float32 and t.requires_grad
               for t in out.values())
    assert out["favorited"].shape == (2, 4) and out["friends"].shape == (2, 2)
    torch.testing.assert_close(out["favorited"], torch.tensor([[1.0] * 4, [0.5] * 4]))
    sum(t.sum() for t in out.values()).backward()
    as_list = tables(list(features().values()))
    assert isinstance(as_list, list) and len(as_list) == 3


def test_backward_runs_embrts_optimizer(small_config, step_path):
    tables = collection(step_path, small_config)
    out = tables(features())
    # d loss / d watched = 2 * activation = 1.0, other features unused (zero gradients).
    (out["watched"] ** 2).sum().backward()
    assert tables.embedding.step == 1
    video = tables.tables()["video"]["parameters"]
    np.testing.assert_allclose(video[1], 0.5 - 0.1 * 1.0, rtol=1e-6)
    np.testing.assert_allclose(video[3], 0.5, rtol=1e-6)  # favorited's gradient was zero
    assert list(tables.parameters()) == []  # the dense optimizer never sees the tables


def test_dense_part_uses_a_torch_optimizer(small_config, step_path):
    torch.manual_seed(0)
    tables = collection(step_path, small_config)
    dense = torch.nn.Linear(4 + 4 + 2, 1)
    optimizer = torch.optim.SGD(dense.parameters(), lr=0.1)
    before = dense.weight.detach().clone()
    out = tables(features())
    loss = dense(torch.cat(list(out.values()), dim=1)).pow(2).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    assert not torch.equal(before, dense.weight) and tables.embedding.step == 1


def test_inference_modes_leave_the_tables_alone(small_config, step_path):
    tables = collection(step_path, small_config)
    before = tables.tables()["video"]["parameters"].copy()
    tables.eval()
    for _ in range(2):  # no backward needed between inference steps
        out = tables(features())
        assert not out["watched"].requires_grad
    tables.train()
    with torch.no_grad():
        tables(features())
    with torch.inference_mode():
        tables(features())
    assert tables.embedding.step == 0
    np.testing.assert_array_equal(before, tables.tables()["video"]["parameters"])


def test_training_forward_without_backward_is_reported(small_config, step_path):
    tables = collection(step_path, small_config)
    tables(features())
    with pytest.raises(embrt.FailedPreconditionError, match="ApplyGradients"):
        tables(features())


def test_device_dtype_and_shape_errors_name_the_feature(small_config, step_path):
    tables = collection(step_path, small_config)
    bad_device = dict(features(), friends=(torch.tensor([0, 1, 3], device="meta"),
                                           torch.tensor([1, 2, 3])))
    with pytest.raises(ValueError, match="feature 'friends'.*CPU tensors only.*meta"):
        tables(bad_device)
    with pytest.raises(TypeError, match="'watched' ids must be integers"):
        tables(dict(features(), watched=torch.tensor([1.0, 2.0])))
    with pytest.raises(embrt.InvalidArgumentError, match="watched"):
        tables(dict(features(), watched=torch.tensor([1, 2, 3])))
    tables(features())  # nothing was enqueued by the failed calls


def test_a_torch_sparse_tensor_is_refused_with_the_tuple_form_named(small_config, step_path):
    tables = collection(step_path, small_config)
    inputs = list(features().values())
    with pytest.raises(TypeError, match="feature 'watched'.*torch.sparse_coo.*tuple"):
        tables([inputs[0].to_sparse()] + inputs[1:])
    out = tables(inputs)  # nothing was enqueued
    sum(t.sum() for t in out).backward()


def test_int32_ids_and_float64_weights(small_config, step_path):
    tables = collection(step_path, small_config)
    tables.eval()
    f = features()
    f["watched"] = f["watched"].to(torch.int32)
    out = tables(f, weights={"favorited": torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)})
    torch.testing.assert_close(out["favorited"], torch.tensor([[1.5] * 4, [1.5] * 4]))


def test_weights_that_require_grad_are_used_detached(small_config, step_path):
    tables = collection(step_path, small_config)
    weights = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    out = tables(features(), weights={"favorited": weights})
    torch.testing.assert_close(out["favorited"].detach(), torch.tensor([[1.5] * 4, [1.5] * 4]))
    out["favorited"].sum().backward()
    assert weights.grad is None and tables.embedding.step == 1


def test_tensors_kept_across_steps_are_never_overwritten(small_config, step_path):
    tables = collection(step_path, small_config)
    kept = []
    for _ in range(3):
        out = tables(features())
        (out["watched"] ** 2).sum().backward()
        view = out["watched"].detach()[1:]  # a torch view of the tensor keeps it alive
        kept.append((view, view.clone()))
        del out
    for view, values in kept:
        torch.testing.assert_close(view, values, rtol=0, atol=0)
    assert not torch.equal(kept[0][1], kept[-1][1])  # the tables moved between the steps


def test_state_dict_round_trip_through_embrt_checkpoints(small_config, step_path, tmp_path):
    model = torch.nn.Module()
    model.tables = collection(step_path, small_config,
                              checkpoint_dir=str(tmp_path / "tables"))
    model.dense = torch.nn.Linear(2, 1)

    def train_step():
        out = model.tables(features())
        (out["watched"].sum() + model.dense(out["friends"]).sum()).backward()

    train_step()
    saved_tables = model.tables.tables()["video"]["parameters"].copy()
    torch.save(model.state_dict(), tmp_path / "model.pt")
    train_step()
    assert not np.array_equal(saved_tables, model.tables.tables()["video"]["parameters"])
    model.load_state_dict(torch.load(tmp_path / "model.pt"))
    np.testing.assert_array_equal(saved_tables, model.tables.tables()["video"]["parameters"])
    assert model.tables.embedding.step == 1

    without_dir = collection(step_path, small_config)
    with pytest.raises(RuntimeError, match="checkpoint_dir"):
        without_dir.state_dict()


def test_replicas_in_threads_equal_one_replica_with_the_whole_batch(small_config, step_path):
    # Two replicas of batch 2 (gradients summed) == one replica of batch 4 on the same ids.
    two = embrt.Embedding(small_config + "num_replicas: 2\n")
    two.build()
    replicas = [collection(step_path, embedding=two, replica=r) for r in range(2)]
    ids = [torch.tensor([1, 2]), torch.tensor([2, 7])]

    def step(r):
        f = features()
        f["watched"] = ids[r]
        out = replicas[r](f)
        (out["watched"] ** 2).sum().backward()

    for _ in range(2):
        threads = [threading.Thread(target=step, args=(r,)) for r in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)

    one = collection(step_path, small_config.replace("per_replica_batch_size: 2",
                                                     "per_replica_batch_size: 4"))
    for _ in range(2):
        out = one({"watched": torch.cat(ids),
                   "favorited": (torch.tensor([[0, 0], [2, 0]]), torch.tensor([3, 3]), [4, 3]),
                   "friends": (torch.tensor([0, 1, 3, 4, 6]), torch.tensor([1, 2, 3, 1, 2, 3]))})
        (out["watched"] ** 2).sum().backward()
    assert two.step == one.embedding.step == 2
    np.testing.assert_allclose(two.tables()["video"]["parameters"],
                               one.tables()["video"]["parameters"], rtol=1e-6)


def random_step_inputs(rng, vocabulary=10):
    """Dense, sparse and ragged ids for SMALL_CONFIG's batch of 2, with random weights."""
    ids = torch.from_numpy(rng.integers(0, vocabulary, size=2))
    lengths = rng.integers(0, 3, size=2)
    splits = torch.from_numpy(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))
    ragged = torch.from_numpy(rng.integers(0, 20, size=int(lengths.sum())))
    sparse_ids = torch.from_numpy(rng.integers(0, vocabulary, size=3))
    indices = torch.tensor([[0, 0], [0, 2], [1, 1]])
    inputs = {"watched": ids, "favorited": (indices, sparse_ids, torch.tensor([2, 3])),
              "friends": (splits, ragged)}
    weights = {"favorited": torch.from_numpy(rng.random(3).astype(np.float32)),
               "friends": torch.from_numpy(rng.random(len(ragged)).astype(np.float32))}
    return inputs, weights


@pytest.mark.skipif(not NATIVE_BUILT, reason="embrt._embrt_torch was not built (no libtorch-dev)")
def test_native_and_numpy_paths_train_the_same_bits(small_config):
    adagrad = small_config.replace("optimizer { sgd {}",
                                   "optimizer { adagrad { initial_accumulator_value: 0.1 }")
    native, numpy_path = collection("native", adagrad), collection("numpy", adagrad)
    rng = np.random.default_rng(5)
    for _ in range(6):
        inputs, weights = random_step_inputs(rng)
        upstream = {name: torch.from_numpy(rng.normal(size=shape).astype(np.float32))
                    for name, shape in (("watched", (2, 4)), ("favorited", (2, 4)),
                                        ("friends", (2, 2)))}
        for tables in (native, numpy_path):
            out = tables(inputs, weights=weights)
            torch.autograd.backward([out[n] for n in upstream], list(upstream.values()))
        np.testing.assert_array_equal(native(inputs)["friends"].detach().numpy(),
                                      numpy_path(inputs)["friends"].detach().numpy())
        for tables in (native, numpy_path):  # the comparison step trains too: zero gradients
            tables.embedding.apply_gradients([None, None, None])
    for table, slots in native.tables().items():
        for slot, values in slots.items():
            np.testing.assert_array_equal(values, numpy_path.tables()[table][slot],
                                          err_msg=f"{table}/{slot}")
    assert native.embedding.step == numpy_path.embedding.step == 12


@pytest.mark.skipif(not NATIVE_BUILT, reason="embrt._embrt_torch was not built (no libtorch-dev)")
def test_native_step_takes_plain_cpu_tensors_and_leaves_the_rest_to_numpy(small_config):
    tables = collection("native", small_config)
    plain = list(features().values())
    out = tables._native(plain)
    assert isinstance(out, tuple) and len(out) == 3
    assert all(t.grad_fn is not None and t.grad_fn is out[0].grad_fn for t in out)
    sum(t.sum() for t in out).backward()
    assert tables.embedding.step == 1
    longer = torch.tensor([1, 9, 2, 9])
    others = {
        "numpy ids": [np.array([1, 2])] + plain[1:],
        "int32 ids": [torch.tensor([1, 2], dtype=torch.int32)] + plain[1:],
        "strided ids": [longer[::2]] + plain[1:],
        "list dense_shape": [plain[0], plain[1][:2] + ([2, 3],), plain[2]],
    }
    for what, inputs in others.items():
        assert tables._native(inputs) is None, what
        out = tables(inputs)  # nothing was enqueued: the numpy path takes the step
        sum(t.sum() for t in out).backward()
    float64 = [None, torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64), None]
    assert tables._native(plain, float64) is None
    assert tables.embedding.step == 1 + len(others)


def test_backward_errors_keep_embrts_exception_and_change_nothing(small_config, step_path):
    tables = collection(step_path, small_config)
    before = tables.tables()["video"]["parameters"].copy()
    out = tables(features())
    with pytest.raises(embrt.InvalidArgumentError, match="watched"):
        (out["watched"] * float("nan")).sum().backward()
    assert tables.embedding.step == 0
    np.testing.assert_array_equal(before, tables.tables()["video"]["parameters"])
    tables.embedding.apply_gradients([None, None, None])  # the step still awaits gradients
    assert tables.embedding.step == 1


def stackable_config(small_config, dim):
    """SMALL_CONFIG with both tables at `dim`: every feature's activations are [2, dim]. At dim
    4 each feature's 8 floats start on a 64-byte boundary (a stride of 16 between features),
    at dim 8 the features are adjacent."""
    return small_config.replace("dim: 4", f"dim: {dim}").replace("dim: 2", f"dim: {dim}")


@pytest.mark.parametrize("dim", [4, 8])
def test_stacked_output_is_every_feature_in_config_order(small_config, step_path, dim):
    one, other = (collection(step_path, stackable_config(small_config, dim)) for _ in range(2))
    stacked = one(features(), stacked=True)
    separate = other(features())
    assert stacked.shape == (3, 2, dim) and stacked.requires_grad
    torch.testing.assert_close(stacked.detach(), torch.stack(list(separate.values())).detach(),
                               rtol=0, atol=0)
    stacked.sum().backward()
    assert one.embedding.step == 1


@pytest.mark.parametrize("dim", [4, 8])
def test_stacked_and_separate_outputs_train_the_same_bits(small_config, step_path, dim):
    config = stackable_config(small_config, dim).replace(
        "optimizer { sgd {}", "optimizer { adagrad { initial_accumulator_value: 0.1 }")
    stacked, separate = collection(step_path, config), collection(step_path, config)
    rng = np.random.default_rng(9)
    for step in range(5):
        inputs, weights = random_step_inputs(rng)
        upstream = torch.from_numpy(rng.normal(size=(3, 2, dim)).astype(np.float32))
        if step % 2:  # a strided gradient, as from a transpose in the model
            upstream = upstream.transpose(1, 2).contiguous().transpose(1, 2)
        torch.autograd.backward(stacked(inputs, weights=weights, stacked=True), upstream)
        torch.autograd.backward(list(separate(inputs, weights=weights).values()),
                                list(upstream.unbind(0)))
    for table, slots in stacked.tables().items():
        for slot, values in slots.items():
            np.testing.assert_array_equal(values, separate.tables()[table][slot],
                                          err_msg=f"{table}/{slot}")
    assert stacked.embedding.step == separate.embedding.step == 5


def test_stacked_needs_one_shape_and_changes_nothing_otherwise(small_config, step_path):
    tables = collection(step_path, small_config)  # friends has dim 2, the others dim 4
    with pytest.raises(ValueError, match="'friends' has \\[2, 2\\] and feature 'watched' has "
                                         "\\[2, 4\\]"):
        tables(features(), stacked=True)
    if step_path == "native":  # the C++ step guards its view itself, before enqueueing
        with pytest.raises(ValueError, match="one activation shape"):
            tables._native(list(features().values()), None, True)
    # So does the binding's stacked dequeue (inference), before dequeuing.
    tables.embedding.enqueue(list(features().values()), training=False)
    with pytest.raises(ValueError, match="one activation shape"):
        tables.embedding._dequeue_stacked()
    assert len(tables.embedding.dequeue()) == 3  # the step was still there to dequeue
    out = tables(features())  # nothing was enqueued: the next step runs as usual
    sum(t.sum() for t in out.values()).backward()
    assert tables.embedding.step == 1


@pytest.mark.parametrize("dim", [4, 8])
def test_stacked_inference_views_the_buffer(small_config, step_path, dim):
    tables = collection(step_path, stackable_config(small_config, dim))
    with torch.no_grad():
        stacked = tables(features(), stacked=True)
        separate = tables(features())  # another buffer: `stacked` still views the first
    assert not stacked.requires_grad and stacked.shape == (3, 2, dim)
    # No copy: features sit 16 floats apart at dim 4 (8 floats each, 64-byte aligned).
    assert stacked.stride(0) == 16
    torch.testing.assert_close(stacked, torch.stack(list(separate.values())), rtol=0, atol=0)
    tables.eval()
    again = tables(features(), stacked=True)
    assert again.data_ptr() != stacked.data_ptr()  # the kept result is never overwritten
    torch.testing.assert_close(again, stacked, rtol=0, atol=0)


def test_stacked_single_feature(step_path):
    config = """
tables { name: "video" vocabulary_size: 10 dim: 4 combiner: SUM
         initializer { constant { value: 0.5 } } }
features { name: "watched" table: "video" }
optimizer { sgd {} learning_rate { constant: 0.1 } }
backend { name: "cpu" }
per_replica_batch_size: 2
"""
    tables = collection(step_path, config)
    stacked = tables({"watched": torch.tensor([1, 2])}, stacked=True)
    assert stacked.shape == (1, 2, 4)
    torch.testing.assert_close(stacked.detach(), torch.full((1, 2, 4), 0.5), rtol=0, atol=0)
    (stacked ** 2).sum().backward()  # d loss / d activation = 1.0: rows 1 and 2 move by -0.1
    np.testing.assert_allclose(tables.tables()["video"]["parameters"][1:3], 0.4, rtol=1e-6)
