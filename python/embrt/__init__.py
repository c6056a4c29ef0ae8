"""embrt from Python: train and serve embedding tables with TensorFlow's TPUEmbedding semantics.

    import embrt
    emb = embrt.Embedding(config)            # textproto string, path or dict
    emb.build()                              # per_replica_batch_size from the config
    emb.enqueue({"user": ids, "history": (row_splits, values)})
    activations = emb.dequeue()              # one float32 array per feature, config order
    emb.apply_gradients(gradients)           # the optimizer runs inside the backend

``embrt.torch.EmbeddingCollection`` wraps this as a ``torch.nn.Module`` with autograd.
Errors are ``embrt.Error`` subclasses (``InvalidArgumentError`` is a ``ValueError``, the others
``RuntimeError``s), see ``embrt.errors``.
"""

from . import errors
from ._embrt import ServingLookup, check_config, config_to_text, tables_from_checkpoint
from ._embedding import Embedding, config_source
from .errors import (AbortedError, AlreadyExistsError, CancelledError, DataLossError,
                     DeadlineExceededError, Error, FailedPreconditionError, InternalError,
                     InvalidArgumentError, NotFoundError, OutOfRangeError, PermissionDeniedError,
                     ResourceExhaustedError, StatusCode, UnauthenticatedError, UnavailableError,
                     UnimplementedError, UnknownError)

__all__ = [
    "Embedding", "ServingLookup", "tables_from_checkpoint", "check_config", "config_to_text",
    "config_source", "errors", "Error", "StatusCode", "InvalidArgumentError",
    "FailedPreconditionError", "NotFoundError", "DataLossError", "UnimplementedError",
    "InternalError", "AbortedError", "AlreadyExistsError", "CancelledError",
    "DeadlineExceededError", "OutOfRangeError", "PermissionDeniedError",
    "ResourceExhaustedError", "UnauthenticatedError", "UnavailableError", "UnknownError",
]
