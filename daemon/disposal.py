"""Where a book's source goes once its job ends: archive/, failed/, deleted, or left alone.

Sources keep their subfolder and are never overwritten ('Book (2).epub').  Names
come from status records, which are checked to stay inside the inbox.  An
entry that is not a regular file (a FIFO, a device, a folder) is only ever
renamed, never copied: copying a device would read it forever.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
from pathlib import Path
from typing import Callable

from .config import Paths
from .errors import InboxError, OutputError
from .files import free_name, inside
from .status import Job

log = logging.getLogger(__name__)


class SourceDisposal:
    def __init__(self, paths: Paths, after_success: str, forget: Callable[[Path], None]) -> None:
        self.paths = paths
        self.after_success = after_success  # archive | delete | keep
        self.forget = forget  # tells the watcher a path left the inbox

    def completed(self, job: Job) -> None:
        if self.after_success == "archive":
            self._move_all(job, self.paths.archive)
        elif self.after_success == "delete":
            for path in self._sources(job):
                try:
                    path.unlink(missing_ok=True)
                except OSError as error:
                    log.error("job %s: cannot delete %s: %s", job.job_id, path, error.strerror or error)
                    continue
                self.forget(path)

    def failed(self, job: Job, error: InboxError) -> None:
        if isinstance(error, OutputError):
            return  # the outbox is the problem, not the book: the source stays where it is
        self._move_all(job, self.paths.failed)

    def _sources(self, job: Job) -> list[Path]:
        found = []
        for relative in filter(None, (job.source, job.sidecar)):
            try:
                found.append(inside(self.paths.inbox, relative))
            except ValueError:
                log.error("job %s: %r is not a name inside the inbox; left alone", job.job_id, relative)
        return found

    def _move_all(self, job: Job, root: Path) -> None:
        for source in self._sources(job):
            if os.path.lexists(source):
                self._move(job, source, root / source.relative_to(self.paths.inbox))

    def _move(self, job: Job, source: Path, wanted: Path) -> None:
        target = free_name(wanted)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if _plain(source):
                shutil.move(str(source), str(target))
            else:
                os.rename(source, target)  # never copied; across filesystems it stays put
        except OSError as error:
            log.error("job %s: cannot move %s to %s: %s", job.job_id, source, target.parent,
                      error.strerror or error)
            return
        self.forget(source)


def _plain(path: Path) -> bool:
    """A regular file or a link (shutil.move recreates a link rather than copying its target)."""
    mode = path.lstat().st_mode
    return stat.S_ISREG(mode) or stat.S_ISLNK(mode)
