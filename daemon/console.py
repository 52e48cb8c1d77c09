"""How the command line and the journal show things: log lines with hidden characters
written out, journald's priorities, and lengths as a clock."""

from __future__ import annotations

import logging
from typing import Any

from .files import visible


class VisibleFormatter(logging.Formatter):
    """Log lines with hidden characters written out (files.visible): a book whose name holds
    terminal escapes, a line break or a bidirectional override cannot recolour the terminal,
    fake a line or read backwards; a traceback keeps its own line breaks."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = visible(record.message)
        return super().formatMessage(record)

    def formatException(self, exc_info: Any) -> str:
        return visible(super().formatException(exc_info), keep="\n")


class JournalFormatter(VisibleFormatter):
    """sd-daemon priority prefixes, so `journalctl -p err` works; journald adds the time."""

    PRIORITIES = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3,
                  logging.CRITICAL: 2}

    def format(self, record: logging.LogRecord) -> str:
        priority = self.PRIORITIES.get(record.levelno, 6)
        return "\n".join(f"<{priority}>{line}" for line in super().format(record).splitlines())


def clock(seconds: float) -> str:
    """H:MM:SS, as itunes:duration and the command line print a length."""
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
