"""embrt.torch: embrt tables as a ``torch.nn.Module`` with autograd.

    import embrt.torch
    tables = embrt.torch.EmbeddingCollection(config)          # builds the engine
    dense = MyDenseModel()
    optimizer = torch.optim.Adam(dense.parameters())            # any torch.optim optimizer
    for batch in data:
        activations = tables({"user": user_ids, "history": (row_splits, ids)})
        loss = loss_fn(dense(activations), batch.labels)
        optimizer.zero_grad()
        loss.backward()     # hands d loss / d activations to embrt: the tables update here
        optimizer.step()    # the dense part

``forward`` enqueues the ids and dequeues one float32 tensor per feature (no copy: the tensors
share the buffer embrt wrote into; embrt writes a later step into that buffer only once no
tensor or array views it any more, so a tensor you keep is never overwritten), or with
``stacked=True`` one tensor ``[num_features] + output_shape + [dim]`` of all of them (every
feature must have the same shape), for models that combine the features anyway: in inference
and on the C++ step below it is one view of that buffer (there with one autograd edge), which
saves PyTorch's per-tensor bookkeeping (bench/python_step.py, 26 features: 0.98-1.06x the C++
API's step instead of 1.02-1.25x). ``backward`` hands the gradients to
``Embedding.apply_gradients``; the optimizer of the config runs inside embrt, so the module has
no torch parameters and the dense optimizer never sees the tables.

Modes:
  * training (``module.train()`` and grad enabled): every forward must be followed by one
    ``backward`` before the next forward (embrt's enqueue -> dequeue -> apply_gradients);
    otherwise the next forward raises ``embrt.FailedPreconditionError``.
  * inference (``module.eval()``, ``torch.no_grad()`` or ``torch.inference_mode()``): an
    inference enqueue, no gradient expected, tables unchanged.

Checkpoints: ``save_checkpoint(root)`` / ``restore_checkpoint(path)`` write and read embrt
checkpoints (every table and optimizer slot). With ``checkpoint_dir=...`` the module also
takes part in ``state_dict()`` / ``load_state_dict()``: ``state_dict()`` saves an embrt
checkpoint under that directory and stores its path (as the module's extra state, not the
tables themselves), and ``load_state_dict()`` restores it, so ``torch.save(model.state_dict())``
checkpoints the dense part and the tables together.

Several replicas: build one ``embrt.Embedding`` with ``num_replicas: R`` in its config, and
wrap it once per replica, ``EmbeddingCollection(embedding=emb, replica=r)``, each driven from
its own thread (embrt releases the GIL during every call; the update runs once every replica
has called backward, gradients summed in replica order, so results do not depend on threads).

Only CPU tensors are accepted (another device raises ValueError naming the feature). Ids may
be any integer dtype (int64 is used in place, others converted once), weights any float dtype
(float32 used in place).

Speed: where embrt was built with libtorch-dev, a training step whose inputs are all CPU int64
tensors (weights None or float32) is one C++ call (embrt._embrt_torch): ids read in place,
activations as tensors whose grad_fn is a C++ node calling apply_gradients, no numpy conversion
per feature. Other inputs, or EMBRT_TORCH_NATIVE=0, take the numpy path: same results, bit for
bit.
"""

import os
from collections.abc import Mapping

import torch

from . import _embedding, _embrt

try:
    # The training step in C++ (python/torch_src/): ids read in place, a C++ autograd node.
    from . import _embrt_torch
except ImportError:  # built without libtorch-dev: the same step through numpy
    _embrt_torch = None

__all__ = ["EmbeddingCollection"]


def _to_numpy(value, name, what):
    """A CPU tensor or array-like -> something numpy takes without a copy."""
    if isinstance(value, torch.Tensor):
        if value.device.type != "cpu":
            raise ValueError(f"feature '{name}': embrt.torch takes CPU tensors only, got {what} "
                             f"on {value.device}")
        if value.layout != torch.strided:
            raise TypeError(f"feature '{name}': embrt.torch takes dense (strided) tensors, got "
                            f"{what} as a {value.layout} tensor; pass sparse ids as a tuple "
                            "(indices [nnz, rank], values [nnz], dense_shape)")
        return value.detach().numpy()
    return value


def _convert(value, name, what):
    if value is None:
        return None
    if isinstance(value, tuple):
        return tuple(_to_numpy(v, name, what) for v in value)
    return _to_numpy(value, name, what)


def _convert_all(values, names, what):
    """One input per feature -> numpy arrays (no copies), as _convert does per feature.

    Plain CPU tensors take one ``Tensor.numpy()`` call each. That call refuses any other device
    and tensors that require grad (TypeError, RuntimeError); then the checked pass converts
    again, feature by feature, and raises the error that names the feature."""
    try:
        return [v.numpy() if type(v) is torch.Tensor else _convert(v, _name(names, i), what)
                for i, v in enumerate(values)]
    except (TypeError, RuntimeError):
        return [_convert(v, _name(names, i), what) for i, v in enumerate(values)]


def _name(names, i):
    return names[i] if i < len(names) else i


def _gradients_to_numpy(grads):
    """Autograd's d loss / d activations -> numpy views (the binding converts a non-float32 or
    strided gradient once)."""
    try:
        return [g.numpy() for g in grads]
    except (TypeError, RuntimeError, AttributeError):
        # bfloat16 and other dtypes numpy lacks, gradients that require grad (create_graph),
        # None.
        return [None if g is None else
                (g if g.dtype == torch.float32 else g.float()).detach().contiguous().numpy()
                for g in grads]


class _Lookup(torch.autograd.Function):
    """Dequeue in forward; apply_gradients in backward. The anchor is an empty tensor that
    requires grad, so autograd calls backward even though embrt owns the tables."""

    @staticmethod
    def forward(ctx, anchor, collection):
        ctx.collection = collection
        # Views of one buffer that embrt reuses only once nothing views it (no copy).
        arrays = _embrt.Embedding.dequeue(collection.embedding, collection.replica, None)
        return tuple(map(torch.from_numpy, arrays))

    @staticmethod
    def backward(ctx, *grads):
        collection = ctx.collection
        _embrt.Embedding.apply_gradients(collection.embedding, _gradients_to_numpy(grads),
                                         collection.replica)
        return None, None


class EmbeddingCollection(torch.nn.Module):
    """embrt embedding tables as a torch module: ``forward(features)`` returns one tensor per
    feature and autograd sends the gradients to embrt's optimizer (see the module docstring).

    Args:
      config: an embrt config (protobuf text, a path or a dict); or pass ``embedding``.
      embedding: an existing ``embrt.Embedding`` (e.g. shared by several replicas' modules).
      replica: the replica this module drives.
      per_replica_batch_size: for build (0: the config's). The engine is built here unless it
        already is.
      checkpoint_dir: where ``state_dict()`` saves embrt checkpoints (see the module docstring).
      keep_last: checkpoints kept under ``checkpoint_dir`` (0: all).
      **embedding_kwargs: passed to ``embrt.Embedding`` (backend, learning_rate_schedules,
        warning_sink).
    """

    def __init__(self, config=None, *, embedding=None, replica=0, per_replica_batch_size=0,
                 checkpoint_dir=None, keep_last=0, **embedding_kwargs):
        super().__init__()
        if (config is None) == (embedding is None):
            raise ValueError("EmbeddingCollection needs exactly one of config and embedding")
        self.embedding = embedding if embedding is not None else _embedding.Embedding(
            config, **embedding_kwargs)
        if not self.embedding.built:
            self.embedding.build(per_replica_batch_size)
        self.replica = replica
        self.checkpoint_dir = checkpoint_dir
        self.keep_last = keep_last
        self._names = list(self.embedding.feature_names)
        self._stackable = False  # forward(stacked=True) found every feature's shape alike
        # Makes autograd call _Lookup.backward; it never gets a gradient, so one serves all steps.
        self._anchor = torch.empty(0, requires_grad=True)
        # The C++ training step, where built (EMBRT_TORCH_NATIVE=0 turns it off, e.g. to compare).
        self._native = None
        if _embrt_torch is not None and os.environ.get("EMBRT_TORCH_NATIVE", "1") != "0":
            self._native = _embrt_torch.TrainingLookup(self.embedding, replica)

    @property
    def feature_names(self):
        """Feature names, in config order (the order of list inputs and outputs)."""
        return list(self.embedding.feature_names)

    @property
    def feature_dims(self):
        """{feature name: embedding dim}."""
        return dict(zip(self.embedding.feature_names, self.embedding.feature_dims))

    def forward(self, features, weights=None, *, stacked=False):
        """Looks up one step's ids: ``features`` is a mapping by feature name (returns a dict of
        tensors) or a list in config order (returns a list). Each input is ids (dense, any
        shape), ``(indices, values, dense_shape)`` or ``(row_splits, values)``, as tensors or
        arrays; ``weights`` likewise (None: all 1). Each output is float32, shaped
        ``output_shape + [dim]``.

        With ``stacked=True`` the result is one tensor ``[num_features] + output_shape +
        [dim]`` of every feature in config order (``feature_names``), for models that combine
        the features anyway (DLRM's interaction). Every feature must then have the same
        activation shape (else ValueError naming the first that differs, before anything is
        enqueued). On the C++ training step it is a view of embrt's buffer with one autograd
        edge instead of one per feature, which saves PyTorch's per-tensor work; in inference
        it is a view of that buffer too; on the numpy training path it is ``torch.stack`` of
        the per-feature tensors (one copy)."""
        embedding, names = self.embedding, self._names
        if stacked:
            self._check_stackable()
        as_dict = isinstance(features, Mapping)
        if as_dict:
            features = embedding._in_order(features, "features")
        if isinstance(weights, Mapping):
            weights = embedding._in_order(weights, "weights", missing=None)
        training = self.training and torch.is_grad_enabled()
        if training and self._native is not None:
            # None: not every input is a plain CPU tensor; nothing was enqueued, so convert.
            outputs = self._native(features, weights, stacked)
            if outputs is not None:
                if stacked:
                    return outputs
                return dict(zip(names, outputs)) if as_dict else list(outputs)
        inputs = _convert_all(features, names, "ids")
        if weights is not None:
            weights = _convert_all(weights, names, "weights")
        # The C++ methods directly: the inputs are in config order already.
        _embrt.Embedding.enqueue(embedding, inputs, weights, training, self.replica)
        if training:
            outputs = _Lookup.apply(self._anchor, self)
        else:
            if stacked:  # one view of the dequeued buffer
                return torch.from_numpy(
                    _embrt.Embedding._dequeue_stacked(embedding, self.replica))
            outputs = tuple(map(torch.from_numpy,
                                _embrt.Embedding.dequeue(embedding, self.replica, None)))
        if stacked:
            return torch.stack(outputs)
        return dict(zip(names, outputs)) if as_dict else list(outputs)

    def _check_stackable(self):
        """Raises ValueError unless every feature's activations have one shape (checked once:
        shapes are fixed from build on)."""
        if self._stackable:
            return
        names = self._names
        if not names:
            raise ValueError("stacked=True needs at least one feature")
        first = tuple(self.embedding.output_shape(0))
        for f in range(1, len(names)):
            shape = tuple(self.embedding.output_shape(f))
            if shape != first:
                raise ValueError(
                    f"stacked=True needs one activation shape for every feature, but feature "
                    f"'{names[f]}' has {list(shape)} and feature '{names[0]}' has {list(first)}")
        self._stackable = True

    # -- checkpoints -------------------------------------------------------------------------

    def save_checkpoint(self, root, keep_last=0):
        """Writes every table and optimizer slot as an embrt checkpoint root/ckpt-<step>;
        returns its path."""
        return self.embedding.save_checkpoint(root, keep_last=keep_last)

    def restore_checkpoint(self, path_or_root):
        """Restores every table and slot (and the step) from an embrt checkpoint."""
        self.embedding.restore_checkpoint(path_or_root)

    def tables(self):
        """{table: {slot: read-only numpy array [rows, dim]}}, copied from the engine once."""
        return self.embedding.tables()

    def get_extra_state(self):
        if self.checkpoint_dir is None:
            raise RuntimeError(
                "EmbeddingCollection.state_dict() saves the tables as an embrt checkpoint: "
                "pass checkpoint_dir=... to the constructor (or use save_checkpoint())")
        path = self.save_checkpoint(self.checkpoint_dir, keep_last=self.keep_last)
        return {"embrt_checkpoint": path, "step": int(self.embedding.step)}

    def set_extra_state(self, state):
        self.restore_checkpoint(state["embrt_checkpoint"])

    def extra_repr(self):
        shapes = ", ".join(f"{n}: {d}" for n, d in self.feature_dims.items())
        return f"features={{{shapes}}}, replica={self.replica}, step={self.embedding.step}"
