"""The error classes of the ``traces`` package."""


class TraceError(Exception):
    """Base class of every error raised by ``traces``: a bad recording, trace or argument."""


class TraceFormatError(TraceError, ValueError):
    """A file is not in the format it claims, or is corrupt or truncated (names file and offset)."""


class TraceWarning(UserWarning):
    """Suspicious but legal input, such as timestamps that go backwards and were repaired."""
