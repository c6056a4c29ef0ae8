"""embrt.Embedding: the C++ embrt::Embedding with Python conveniences (dict configs, feature
mappings). Every method maps to one C++ call; see core/include/embrt/embedding.h."""

import json
import os
from collections.abc import Mapping

from . import _embrt


def config_source(config):
    """Returns (text, source) for the C++ side: source is 'text', 'path' or 'json'.

    A dict (proto field names, enums as names: ``{"tables": [{"name": "t", "dim": 8,
    "vocabulary_size": 100, "combiner": "SUM"}], ...}``) becomes JSON; an ``os.PathLike`` or a
    string naming an existing file is read as a text-format file; any other string is
    protobuf text.
    """
    if isinstance(config, Mapping):
        return json.dumps(config, default=_json_default), "json"
    if isinstance(config, os.PathLike):
        return os.fspath(config), "path"
    if isinstance(config, bytes):
        config = config.decode()
    if isinstance(config, str):
        if "\n" not in config and "{" not in config and os.path.isfile(config):
            return config, "path"
        return config, "text"
    raise TypeError("config must be a textproto string, a path or a dict, got "
                    + type(config).__name__)


def _json_default(value):
    # numpy scalars in a dict config.
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"config value {value!r} is not JSON serializable")


class Embedding(_embrt.Embedding):
    """Embedding tables trained with TF TPUEmbedding semantics, on a backend plugin.

    Lifecycle: ``Embedding(config)`` -> ``build()`` -> steps. A training step of one replica is
    ``enqueue(training=True)``, ``dequeue()``, ``apply_gradients()``; an inference step is
    ``enqueue(training=False)``, ``dequeue()``. Anything out of order raises
    ``FailedPreconditionError``. Every call validates its input first; a failed call changes
    nothing. Errors name the feature, table and position.

    Args:
      config: the EmbeddingConfig (proto/embrt/config.proto) as protobuf text, a path to a text
        file, or a dict with the proto's field names.
      backend: overrides ``config.backend.name`` ("cpu", "mock" or a path to a plugin).
      learning_rate_schedules: {name: callable(step) -> float} for tables whose learning rate
        is ``dynamic: "name"``; called (with the GIL) at every apply_gradients.
      warning_sink: callable(str) receiving warnings (default: one line on stderr), e.g.
        ``warnings.warn``.

    Inputs (``enqueue``): one per feature, as a list in config order or a mapping by feature
    name. Each is dense ids (any integer array, any shape), ``(indices, values, dense_shape)``
    for sparse ids, or ``(row_splits, values)`` for ragged ids. Weights likewise: None, or one
    float array per id (or a tuple shaped like the ids). int64 ids and float32 weights that are
    C-contiguous are used in place; anything else is converted once.

    Threads: the GIL is released during every call that can block or run long, so several
    replicas (``num_replicas`` in the config) can be driven from Python threads, one thread
    per replica (``replica=`` on enqueue, dequeue and apply_gradients). Other methods must not
    run concurrently with any call on the same object.
    """

    def __init__(self, config, *, backend=None, learning_rate_schedules=None,
                 warning_sink=None):
        text, source = config_source(config)
        try:
            super().__init__(text, source, backend or "", dict(learning_rate_schedules or {}),
                             warning_sink)
        except BaseException:
            # The C++ object was never built, and pybind11 runs a method of such an object on
            # uninitialized memory. This frame's `self` would keep it reachable from the
            # exception's traceback, where debuggers and test runners call repr() on every
            # local: drop it, so the half-made object dies with the failed call.
            del self
            raise
        self._feature_index = {name: i for i, name in enumerate(self.feature_names)}

    def build(self, per_replica_batch_size=0, output_shapes=None):
        """Creates the engine for a per-replica batch size (0: the config's).

        ``output_shapes``: instead, one output shape (without dim) per feature, a list in config
        order or a mapping by name. A second build raises FailedPreconditionError.
        """
        if output_shapes is not None:
            output_shapes = [list(s) for s in self._in_order(output_shapes, "output_shapes")]
        super().build(per_replica_batch_size, output_shapes)

    def enqueue(self, features, weights=None, training=True, replica=0):
        """Submits one step's ids for ``replica``; returns before the lookup ends.

        ``features``: one input per feature (a list in config order or a mapping by name);
        ``weights``: None or one entry (None: all 1) per feature, list or mapping.
        ``training=False`` is an inference step (no apply_gradients follows).
        """
        features = self._in_order(features, "features")
        if weights is not None:
            weights = self._in_order(weights, "weights", missing=None)
        super().enqueue(features, weights, training, replica)

    def dequeue(self, replica=0, out=None):
        """Waits for ``replica``'s lookup; returns one float32 array per feature (config order),
        shaped ``output_shape + [dim]``. The arrays view the buffer the engine wrote into (no
        copy). That buffer is reused by a later dequeue only once no array viewing it is alive
        (nor anything made from one, such as ``torch.from_numpy`` tensors and their views), so
        arrays you keep are never overwritten; dropping them lets the next step reuse the
        memory. ``out``: arrays to write into instead (C-contiguous float32 of the right size).
        """
        return super().dequeue(replica, out)

    def dequeue_dict(self, replica=0):
        """dequeue() as {feature name: array}."""
        return dict(zip(self.feature_names, super().dequeue(replica, None)))

    def apply_gradients(self, gradients, replica=0):
        """Sends ``replica``'s d loss / d activations for the step it last dequeued: one array
        per feature shaped like its activations (a list in config order or a mapping by name;
        None or a missing name is a zero gradient, with a warning as in TF). The update runs
        once every replica has sent its gradients (summed in replica order).
        """
        super().apply_gradients(self._in_order(gradients, "gradients", missing=None), replica)

    def output_shapes(self):
        """{feature name: activation shape} (after build)."""
        return {name: self.output_shape(i) for i, name in enumerate(self.feature_names)}

    _REQUIRED = object()

    def _in_order(self, values, what, missing=_REQUIRED):
        """A mapping by feature name -> a list in config order; lists pass through."""
        if not isinstance(values, Mapping):
            return values
        unknown = [name for name in values if name not in self._feature_index]
        if unknown:
            raise _embrt_invalid(f"{what}: unknown feature(s) {unknown}; features are "
                                 f"{list(self.feature_names)}")
        result = []
        for name in self.feature_names:
            if name in values:
                result.append(values[name])
            elif missing is Embedding._REQUIRED:
                raise _embrt_invalid(f"{what}: missing feature '{name}'")
            else:
                result.append(missing)
        return result

    def __repr__(self):
        state = "built" if self.built else "not built"
        return (f"embrt.Embedding(features={list(self.feature_names)}, "
                f"tables={list(self.table_names)}, step={self.step}, {state})")


def _embrt_invalid(message):
    from .errors import InvalidArgumentError, StatusCode
    return InvalidArgumentError(message, StatusCode.INVALID_ARGUMENT)
