"""embrt.Embedding, checkpoints and ServingLookup through the numpy binding."""

import pathlib
import pydoc
import threading

import numpy as np
import pytest

import embrt

# watched: dense ids; favorited: sparse [2, 3]; friends: ragged. video tables start at 0.5,
# user at 1.0 (conftest.SMALL_CONFIG); SGD with lr 0.1.
DENSE = np.array([1, 2], dtype=np.int64)
SPARSE = (np.array([[0, 0], [0, 1], [1, 0]]), np.array([3, 4, 5]), [2, 3])
RAGGED = (np.array([0, 1, 3]), np.array([1, 2, 3]))


def inputs():
    return {"watched": DENSE, "favorited": SPARSE, "friends": RAGGED}


def built(config):
    emb = embrt.Embedding(config)
    emb.build()
    return emb


def test_config_as_text_path_and_dict_agree(small_config, tmp_path):
    path = tmp_path / "small.textproto"
    path.write_text(small_config)
    as_dict = {
        "tables": [{"name": "video", "vocabulary_size": 10, "dim": 4, "combiner": "SUM",
                    "initializer": {"constant": {"value": 0.5}}},
                   {"name": "user", "vocabulary_size": 20, "dim": 2, "combiner": "MEAN",
                    "initializer": {"constant": {"value": np.float32(1.0)}}}],
        "features": [{"name": "watched", "table": "video"},
                     {"name": "favorited", "table": "video"},
                     {"name": "friends", "table": "user"}],
        "optimizer": {"sgd": {}, "learning_rate": {"constant": 0.1}},
        "backend": {"name": "cpu"},
        "per_replica_batch_size": 2,
    }
    texts = {embrt.config_to_text(*embrt.config_source(c))
             for c in (small_config, path, str(path), as_dict)}
    assert len(texts) == 1
    for config in (small_config, path, str(path), as_dict):
        emb = embrt.Embedding(config)
        assert emb.feature_names == ["watched", "favorited", "friends"]
        assert emb.table_names == ["video", "user"]


def test_dequeue_gives_the_lookups_for_every_input_kind(small_config):
    emb = built(small_config)
    emb.enqueue(inputs(), weights={"favorited": np.array([1.0, 2.0, 3.0], np.float32)})
    watched, favorited, friends = emb.dequeue()
    assert watched.shape == (2, 4) and favorited.shape == (2, 4) and friends.shape == (2, 2)
    assert watched.dtype == np.float32
    np.testing.assert_array_equal(watched, np.full((2, 4), 0.5))
    np.testing.assert_array_equal(favorited, [[1.5] * 4, [1.5] * 4])  # sum of weighted 0.5s
    np.testing.assert_array_equal(friends, np.ones((2, 2)))            # mean of 1.0s
    # The arrays view the one buffer the engine wrote into: nothing was copied into them.
    base = watched.base
    assert base is not None and favorited.base is base and friends.base is base
    assert all(a.flags.c_contiguous and a.flags.writeable
               for a in (watched, favorited, friends))
    assert emb.output_shapes() == {"watched": (2, 4), "favorited": (2, 4), "friends": (2, 2)}


def _address(array):
    return array.__array_interface__["data"][0]


def test_dequeue_never_overwrites_arrays_still_held(small_config):
    emb = built(small_config)
    held = []
    for step in range(4):  # every step's arrays stay alive
        emb.enqueue(inputs(), training=True)
        acts = emb.dequeue()
        held.append((acts, [a.copy() for a in acts]))
        emb.apply_gradients([np.ones_like(a) for a in acts])
    for acts, values in held:
        for a, v in zip(acts, values):
            np.testing.assert_array_equal(a, v)
    # The tables moved at every step, so equal arrays would mean a shared, overwritten buffer.
    assert not np.array_equal(held[0][1][0], held[-1][1][0])
    assert len({_address(acts[0]) for acts, _ in held}) == 4


def test_dequeue_reuses_a_buffer_once_nothing_views_it(small_config):
    emb = built(small_config)
    emb.enqueue(inputs(), training=False)
    first = _address(emb.dequeue()[0])  # dropped at once
    emb.enqueue(inputs(), training=False)
    kept = emb.dequeue()  # reuses the dropped buffer
    assert _address(kept[0]) == first
    emb.enqueue(inputs(), training=False)
    view_of_a_view = emb.dequeue()[1][:, 1:]  # a view keeps its buffer alive too
    emb.enqueue(inputs(), training=False)
    again = emb.dequeue()
    assert again[0].base is not kept[0].base and again[0].base is not view_of_a_view.base
    np.testing.assert_array_equal(kept[0], np.full((2, 4), 0.5))
    np.testing.assert_array_equal(view_of_a_view, [[1.0] * 3, [0.5] * 3])  # 2 ids, 1 id


def test_dequeue_into_caller_arrays(small_config):
    emb = built(small_config)
    emb.enqueue(inputs(), training=False)
    out = [np.zeros((2, 4), np.float32), np.zeros((2, 4), np.float32),
           np.zeros((2, 2), np.float32)]
    result = emb.dequeue(out=out)
    assert all(r is o for r, o in zip(result, out))
    np.testing.assert_array_equal(out[0], np.full((2, 4), 0.5))


def test_dequeue_into_wrong_buffer_names_the_feature(small_config):
    emb = built(small_config)
    emb.enqueue(inputs(), training=False)
    out = [np.zeros((2, 4), np.float32), np.zeros((2, 3), np.float32),
           np.zeros((2, 2), np.float32)]
    with pytest.raises(ValueError, match="favorited"):
        emb.dequeue(out=out)
    out[1] = np.zeros((2, 4), np.float64)
    with pytest.raises(TypeError, match="favorited.*float32"):
        emb.dequeue(out=out)


def test_apply_gradients_updates_the_touched_rows(small_config):
    emb = built(small_config)
    emb.enqueue([DENSE, SPARSE, RAGGED])
    acts = emb.dequeue()
    emb.apply_gradients([np.ones_like(a) for a in acts])
    emb.synchronize()
    assert emb.step == 1
    video = emb.tables()["video"]["parameters"]
    # Row 1: watched once (sum combiner, gain 1). Row 3: favorited once.
    np.testing.assert_allclose(video[1], 0.5 - 0.1, rtol=1e-6)
    np.testing.assert_allclose(video[3], 0.5 - 0.1, rtol=1e-6)
    np.testing.assert_array_equal(video[0], 0.5)  # untouched
    user = emb.tables()["user"]["parameters"]
    # friends row 1 holds users 2 and 3 (mean: gain 1/2 each).
    np.testing.assert_allclose(user[2], 1.0 - 0.05, rtol=1e-6)


def test_mapping_gradients_with_a_missing_feature_are_zero(small_config):
    warnings = []
    emb = embrt.Embedding(small_config, warning_sink=warnings.append)
    emb.build()
    emb.enqueue(inputs())
    acts = emb.dequeue_dict()
    emb.apply_gradients({"watched": np.ones_like(acts["watched"])})
    assert warnings and "favorited" in " ".join(warnings)
    assert emb.tables()["video"]["parameters"][3][0] == pytest.approx(0.5)


def test_ids_of_other_integer_dtypes_and_lists_are_accepted(small_config):
    emb = built(small_config)
    emb.enqueue([[1, 2], (SPARSE[0].astype(np.int32), SPARSE[1].astype(np.uint16), (2, 3)),
                 (RAGGED[0].astype(np.int32), list(RAGGED[1]))], training=False)
    np.testing.assert_array_equal(emb.dequeue()[0], np.full((2, 4), 0.5))


def test_non_contiguous_ids_are_converted(small_config):
    emb = built(small_config)
    ids = np.array([[1, 9], [2, 9]])[:, 0]  # a strided view
    assert not ids.flags.c_contiguous
    emb.enqueue([ids, SPARSE, RAGGED], training=False)
    np.testing.assert_array_equal(emb.dequeue()[0], np.full((2, 4), 0.5))


def test_weights_as_tuples_shaped_like_the_ids(small_config):
    emb = built(small_config)
    weights = [None, (SPARSE[0], np.array([1.0, 2.0, 3.0]), SPARSE[2]), None]
    emb.enqueue([DENSE, SPARSE, RAGGED], weights, training=False)
    np.testing.assert_array_equal(emb.dequeue()[1], [[1.5] * 4, [1.5] * 4])


def test_checkpoint_round_trip_tables_and_serving(small_config, tmp_path):
    emb = built(small_config)
    emb.enqueue(inputs())
    acts = emb.dequeue()
    emb.apply_gradients([np.full_like(a, 0.3) for a in acts])
    path = emb.save_checkpoint(str(tmp_path / "ckpt"), keep_last=2)
    assert pathlib.Path(path).name == "ckpt-1"

    other = built(small_config)
    other.restore_checkpoint(str(tmp_path / "ckpt"))
    assert other.step == 1
    other.restore_checkpoint(str(tmp_path / "ckpt"), verify_threads=1)  # into trained tables
    assert other.step == 1
    for table, slots in emb.tables().items():
        np.testing.assert_array_equal(slots["parameters"], other.tables()[table]["parameters"])

    stored = embrt.tables_from_checkpoint(path)
    np.testing.assert_array_equal(stored["video"]["parameters"],
                                  emb.tables()["video"]["parameters"])
    assert not stored["video"]["parameters"].flags.writeable  # memory-mapped, read-only

    serving = embrt.ServingLookup(str(tmp_path / "ckpt"))
    assert serving.step == 1 and serving.feature_names == emb.feature_names
    other.enqueue(inputs(), training=False)
    trained = other.dequeue()
    served = serving.lookup([DENSE, SPARSE, RAGGED])
    # Serving gives dense ids one row each ([n, dim]); bags as in training.
    np.testing.assert_array_equal(served[0], trained[0])
    np.testing.assert_array_equal(served[1], trained[1])
    np.testing.assert_array_equal(serving.lookup_feature("friends", RAGGED), trained[2])
    np.testing.assert_array_equal(serving.lookup_feature(2, RAGGED), trained[2])
    one_thread = embrt.ServingLookup(str(tmp_path / "ckpt"), verify_threads=1)
    np.testing.assert_array_equal(one_thread.lookup_feature(2, RAGGED), trained[2])


def test_host_collectives_with_one_host(small_config):
    emb = built(small_config)
    emb.host_barrier()
    assert emb.all_gather_from_hosts(b"metrics") == [b"metrics"]


def test_backend_info(small_config):
    emb = embrt.Embedding(small_config, backend="mock")
    assert "mock" in emb.backend["path"]
    assert emb.backend["attributes"]["name"] == "mock"


def test_learning_rate_schedule_is_called_per_step(small_config):
    config = small_config.replace('learning_rate { constant: 0.1 }',
                                  'learning_rate { dynamic: "decay" }')
    steps = []
    emb = embrt.Embedding(config, learning_rate_schedules={
        "decay": lambda step: steps.append(step) or 0.1})
    emb.build()
    for _ in range(2):
        emb.enqueue(inputs())
        emb.apply_gradients([np.ones_like(a) for a in emb.dequeue()])
    assert steps == [0, 1]
    np.testing.assert_allclose(emb.tables()["video"]["parameters"][1], 0.3, rtol=1e-6)


def test_replicas_driven_from_threads_match_one_thread(small_config):
    config = small_config + "num_replicas: 2\n"

    def step(emb, replica):
        emb.enqueue(inputs(), replica=replica)
        acts = emb.dequeue(replica=replica)
        emb.apply_gradients([a * (replica + 1) for a in acts], replica=replica)

    threaded = built(config)
    for _ in range(3):
        threads = [threading.Thread(target=step, args=(threaded, r)) for r in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not any(t.is_alive() for t in threads)
    sequential = built(config)
    for _ in range(3):
        for r in range(2):
            step(sequential, r)
    assert threaded.step == sequential.step == 3
    for table in ("video", "user"):
        np.testing.assert_array_equal(threaded.tables()[table]["parameters"],
                                      sequential.tables()[table]["parameters"])


def test_help_documents_the_api():
    text = pydoc.render_doc(embrt.Embedding, renderer=pydoc.plaintext)
    for needed in ("protobuf text", "enqueue", "row_splits", "dense_shape", "replica",
                   "apply_gradients", "save_checkpoint", "GIL"):
        assert needed in text, needed
    assert "memory-mapped" in pydoc.render_doc(embrt.ServingLookup, renderer=pydoc.plaintext)
