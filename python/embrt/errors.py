"""Exceptions for failed embrt calls, one per absl canonical status code.

Every error embrt raises for a failed ``absl::Status`` is an :class:`embrt.Error` with the
status's ``message`` and ``code`` (a :class:`StatusCode`). INVALID_ARGUMENT is
:class:`InvalidArgumentError`, a ``ValueError``; every other code is a ``RuntimeError``
subclass, e.g. :class:`FailedPreconditionError` for a call out of order.
"""

import enum


class StatusCode(enum.IntEnum):
    """absl::StatusCode values."""
    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


class Error(Exception):
    """A failed embrt call: ``message`` (str) and ``code`` (StatusCode)."""

    def __init__(self, message, code=StatusCode.UNKNOWN):
        super().__init__(message)
        self.message = message
        try:
            self.code = StatusCode(code)
        except ValueError:
            self.code = StatusCode.UNKNOWN

    def __str__(self):
        return self.message

    def __reduce__(self):
        return (type(self), (self.message, int(self.code)))


class InvalidArgumentError(Error, ValueError):
    """INVALID_ARGUMENT: a bad config, input, gradient or checkpoint; nothing changed."""


class CancelledError(Error, RuntimeError):
    """CANCELLED."""


class UnknownError(Error, RuntimeError):
    """UNKNOWN."""


class DeadlineExceededError(Error, RuntimeError):
    """DEADLINE_EXCEEDED."""


class NotFoundError(Error, RuntimeError):
    """NOT_FOUND: e.g. a missing config file, plugin or checkpoint."""


class AlreadyExistsError(Error, RuntimeError):
    """ALREADY_EXISTS."""


class PermissionDeniedError(Error, RuntimeError):
    """PERMISSION_DENIED."""


class ResourceExhaustedError(Error, RuntimeError):
    """RESOURCE_EXHAUSTED."""


class FailedPreconditionError(Error, RuntimeError):
    """FAILED_PRECONDITION: a call out of order (e.g. dequeue before enqueue, build twice)."""


class AbortedError(Error, RuntimeError):
    """ABORTED."""


class OutOfRangeError(Error, RuntimeError):
    """OUT_OF_RANGE."""


class UnimplementedError(Error, RuntimeError):
    """UNIMPLEMENTED: the backend does not support this."""


class InternalError(Error, RuntimeError):
    """INTERNAL."""


class UnavailableError(Error, RuntimeError):
    """UNAVAILABLE."""


class DataLossError(Error, RuntimeError):
    """DATA_LOSS: a corrupt or truncated checkpoint file."""


class UnauthenticatedError(Error, RuntimeError):
    """UNAUTHENTICATED."""


_CLASSES = {
    StatusCode.CANCELLED: CancelledError,
    StatusCode.UNKNOWN: UnknownError,
    StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
    StatusCode.NOT_FOUND: NotFoundError,
    StatusCode.ALREADY_EXISTS: AlreadyExistsError,
    StatusCode.PERMISSION_DENIED: PermissionDeniedError,
    StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    StatusCode.ABORTED: AbortedError,
    StatusCode.OUT_OF_RANGE: OutOfRangeError,
    StatusCode.UNIMPLEMENTED: UnimplementedError,
    StatusCode.INTERNAL: InternalError,
    StatusCode.UNAVAILABLE: UnavailableError,
    StatusCode.DATA_LOSS: DataLossError,
    StatusCode.UNAUTHENTICATED: UnauthenticatedError,
}


def error_class(code):
    """The exception class for an absl status code (UnknownError for an unknown code)."""
    try:
        return _CLASSES.get(StatusCode(code), UnknownError)
    except ValueError:
        return UnknownError
