"""absl statuses become Python exceptions by canonical code, keeping message and code."""

import pathlib
import pickle
import traceback

import numpy as np
import pytest

import embrt
from embrt import _embrt
from embrt.errors import StatusCode

INPUTS = [np.array([1, 2]), (np.array([[0, 0]]), np.array([3]), [2, 3]),
          (np.array([0, 1, 2]), np.array([1, 2]))]


@pytest.mark.parametrize("code", [c for c in StatusCode if c != StatusCode.OK])
def test_every_code_has_its_class(code):
    with pytest.raises(embrt.Error) as info:
        _embrt._raise_status(int(code), f"message for {code.name}")
    error = info.value
    assert error.code == code and error.message == f"message for {code.name}"
    assert str(error) == error.message
    if code == StatusCode.INVALID_ARGUMENT:
        assert isinstance(error, ValueError) and not isinstance(error, RuntimeError)
    else:
        assert isinstance(error, RuntimeError) and not isinstance(error, ValueError)
    assert type(error).__name__.replace("Error", "").lower() == code.name.replace("_", "").lower()
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error) and copy.code == code and copy.message == error.message


def test_calls_out_of_order_are_failed_precondition(small_config):
    emb = embrt.Embedding(small_config)
    with pytest.raises(embrt.FailedPreconditionError, match="before build"):
        emb.dequeue()
    emb.build()
    with pytest.raises(embrt.FailedPreconditionError) as info:
        emb.build()
    assert info.value.code == StatusCode.FAILED_PRECONDITION
    with pytest.raises(embrt.FailedPreconditionError, match="before Enqueue"):
        emb.dequeue()
    with pytest.raises(embrt.FailedPreconditionError):
        emb.apply_gradients([None, None, None])


def test_bad_config_text_names_line_and_column():
    with pytest.raises(embrt.InvalidArgumentError, match=r"line|column|\d+:\d+") as info:
        embrt.Embedding("tables { name: \"t\" dim: }")
    assert isinstance(info.value, ValueError)


def test_bad_config_dict_is_invalid_argument():
    with pytest.raises(ValueError, match="no_such_field"):
        embrt.Embedding({"tables": [{"no_such_field": 1}]})
    with pytest.raises(TypeError):
        embrt.Embedding(42)


def test_invalid_config_names_the_table(small_config):
    with pytest.raises(embrt.InvalidArgumentError, match="video"):
        embrt.Embedding(small_config.replace("dim: 4", "dim: 0"))


def test_a_rejected_config_leaves_nothing_half_made_in_the_traceback(small_config):
    unused_table = small_config.replace('features { name: "friends" table: "user" }', "")
    with pytest.raises(embrt.InvalidArgumentError, match="'user'.*not used") as info:
        embrt.Embedding(unused_table)
    # What test runners, debuggers and loggers do with a traceback: repr() every frame's locals.
    # A never-built C++ object among them would run its methods on uninitialized memory.
    frames = [frame for frame, _ in traceback.walk_tb(info.value.__traceback__)]
    assert not any(isinstance(value, _embrt.Embedding)
                   for frame in frames for value in frame.f_locals.values())
    shown = traceback.TracebackException.from_exception(info.value, capture_locals=True)
    assert "not used by any feature" in "".join(shown.format())


def test_a_negative_step_and_an_uncallable_warning_sink_are_refused_at_once(small_config):
    emb = embrt.Embedding(small_config)
    with pytest.raises(ValueError, match="step must be >= 0, got -5"):
        emb.step = -5
    assert emb.step == 0
    with pytest.raises(TypeError, match="warning_sink must be callable"):
        embrt.Embedding(small_config, warning_sink=5)


def test_missing_files_are_not_found(small_config, tmp_path):
    with pytest.raises(embrt.NotFoundError, match="nope.textproto"):
        embrt.Embedding(pathlib.Path(tmp_path / "nope.textproto"))
    with pytest.raises(embrt.NotFoundError):
        embrt.ServingLookup(str(tmp_path / "no_checkpoint"))
    with pytest.raises(embrt.Error, match="no_such_backend"):
        embrt.Embedding(small_config, backend="no_such_backend")


def test_serving_output_bound_is_value_error(small_config, tmp_path):
    emb = embrt.Embedding(small_config)
    emb.build()
    path = emb.save_checkpoint(str(tmp_path))
    bounded = embrt.ServingLookup(path, max_output_floats=8)  # "watched": dim 4, 2 rows
    assert bounded.lookup_feature("watched", np.array([1, 2], dtype=np.int64)).shape == (2, 4)
    with pytest.raises(ValueError, match="holds more than 8 floats"):
        bounded.lookup_feature("watched", np.array([1, 2, 3], dtype=np.int64))
    with pytest.raises(ValueError, match="max_output_floats must be positive"):
        embrt.ServingLookup(path, max_output_floats=0)


def test_corrupt_checkpoint_is_data_loss(small_config, tmp_path):
    emb = embrt.Embedding(small_config)
    emb.build()
    path = pathlib.Path(emb.save_checkpoint(str(tmp_path)))
    table_file = path / "video" / "parameters.f32"
    data = bytearray(table_file.read_bytes())
    data[0] ^= 0xFF
    table_file.write_bytes(bytes(data))
    with pytest.raises(embrt.DataLossError, match="parameters.f32"):
        emb.restore_checkpoint(str(tmp_path))


def test_a_failed_enqueue_changes_nothing(small_config):
    emb = embrt.Embedding(small_config)
    emb.build()
    bad = [np.array([1, 99])] + INPUTS[1:]
    with pytest.raises(embrt.InvalidArgumentError, match=r"watched.*99") as info:
        emb.enqueue(bad)
    assert info.value.code == StatusCode.INVALID_ARGUMENT
    emb.enqueue(INPUTS)  # the engine is still idle: this enqueue is accepted
    assert len(emb.dequeue()) == 3


def test_dtype_and_structure_errors_name_the_feature(small_config):
    emb = embrt.Embedding(small_config)
    emb.build()
    with pytest.raises(TypeError, match="'watched' ids must be integers.*float64"):
        emb.enqueue([np.array([1.0, 2.0])] + INPUTS[1:])
    with pytest.raises(ValueError, match="'favorited'.*tuple of 4"):
        emb.enqueue([INPUTS[0], (1, 2, 3, 4), INPUTS[2]])
    with pytest.raises(ValueError, match="'favorited' sparse indices must have shape"):
        emb.enqueue([INPUTS[0], (np.array([[0, 0, 0]]), np.array([3]), [2, 3]), INPUTS[2]])
    with pytest.raises(TypeError, match="'friends' weights must be floating point"):
        emb.enqueue(INPUTS, weights=[None, None, np.array(["a", "b"])])
    with pytest.raises(ValueError, match="missing feature 'friends'"):
        emb.enqueue({"watched": INPUTS[0], "favorited": INPUTS[1]})
    with pytest.raises(ValueError, match="unknown feature"):
        emb.enqueue({"watched": INPUTS[0], "favorited": INPUTS[1], "friends": INPUTS[2],
                     "other": INPUTS[0]})
    emb.enqueue(INPUTS)
    acts = emb.dequeue()
    with pytest.raises(embrt.InvalidArgumentError, match="friends"):
        emb.apply_gradients([acts[0], acts[1], np.zeros((2, 3), np.float32)])
    with pytest.raises(TypeError, match="'watched' gradient must be floating point"):
        emb.apply_gradients([np.array(["x"]), acts[1], acts[2]])
    emb.apply_gradients(acts)  # still pending: the failed calls changed nothing


def test_nan_gradient_names_feature_table_and_position_and_changes_nothing(small_config):
    emb = embrt.Embedding(small_config)  # the cpu backend
    emb.build()
    before = emb.tables()["user"]["parameters"].copy()
    emb.enqueue(INPUTS)
    acts = emb.dequeue()
    gradients = [np.ones_like(a) for a in acts]
    gradients[2][1, 1] = np.inf
    with pytest.raises(embrt.InvalidArgumentError,
                       match=r"feature 'friends'.*table 'user'.*inf at flat position 3"):
        emb.apply_gradients(gradients)
    assert emb.step == 0
    np.testing.assert_array_equal(emb.tables()["user"]["parameters"], before)
    gradients[2][1, 1] = 1.0
    emb.apply_gradients(gradients)  # the step can be sent again
    assert emb.step == 1
