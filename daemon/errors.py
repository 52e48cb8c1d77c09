"""Every failure a person can act on, with a stable code and a readable sentence.

Pipeline stages raise these; the command line (and later the daemon) turns them
into an exit code or a status-file ``error`` in exactly one place.  Anything
else that escapes is a bug and is reported as such.
"""

from __future__ import annotations


class InboxError(Exception):
    """Base class: ``code`` is for machines, ``message`` for people."""

    code = "error"
    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __reduce__(self):
        # Pool workers raise these in another process; keep them picklable.
        return (self.__class__, (self.message,))


class NotAnEpub(InboxError):
    code = "not_an_epub"


class NotABookFile(InboxError):
    """An inbox entry that is not a regular file, or a link that leads out of the inbox."""

    code = "not_a_file"


class UnsafeEpub(InboxError):
    """Refused for the reader's safety: ZIP bombs, entity tricks."""

    code = "unsafe_epub"


class DrmProtected(InboxError):
    code = "drm_protected"


class NoText(InboxError):
    code = "no_text"


class UnsupportedLanguage(InboxError):
    code = "unsupported_language"


class InvalidSetting(InboxError):
    """A sidecar, form field or command-line value that is out of bounds."""

    code = "invalid_setting"
    exit_code = 2

    def __init__(self, message: str, key: str = "") -> None:
        super().__init__(message)
        self.key = key

    def __reduce__(self):
        return (self.__class__, (self.message, self.key))


class ConfigError(InboxError):
    code = "config_error"
    exit_code = 2


class StartupError(InboxError):
    """The daemon cannot start: another one holds the folders, the port is taken, ..."""

    code = "startup_error"
    exit_code = 2


class ModelMissing(InboxError):
    code = "model_missing"
    exit_code = 3


class SynthesisFailed(InboxError):
    code = "synthesis_failed"


class ModelMismatch(InboxError):
    """A worker on another machine holds other model files than the daemon: it refuses the
    segment rather than read it in another voice.  ``worker`` is its Dask address, so the
    daemon can send that segment, and the rest of its books, to other workers."""

    code = "model_mismatch"

    def __init__(self, message: str, worker: str = "") -> None:
        super().__init__(message)
        self.worker = worker

    def __reduce__(self):
        return (self.__class__, (self.message, self.worker))


class OutputError(InboxError):
    """The outbox (or the processing folder) cannot take what is written (full, read-only, gone)."""

    code = "output_error"


class Cancelled(InboxError):
    code = "cancelled"


class TryLater(InboxError):
    """The book cannot be read right now (a network share's I/O error, a file still changing
    while it was read): not the book's fault, so it is offered again later, never failed."""

    code = "try_later"


class TooSlowToRead(InboxError):
    """Reading the book (unzipping, parsing, planning its speech) went past its time budget."""

    code = "too_slow_to_read"
