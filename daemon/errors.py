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


class ModelMissing(InboxError):
    code = "model_missing"
    exit_code = 3


class SynthesisFailed(InboxError):
    code = "synthesis_failed"


class OutputError(InboxError):
    """The outbox cannot take the audiobook (full, read-only, gone)."""

    code = "output_error"
