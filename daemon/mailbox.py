"""The files through which the API (and the command line) and the daemon talk.

Neither side owns this protocol, so it lives here and both import it:

- upload tickets (API -> daemon): ``processing/.requests/upload-<job id>.json``, the
  promise of a job id and the upload's settings, written before the book lands in
  the inbox; the daemon closes it once the job's status file exists;
- cancel requests (API, ``kokoro-inbox cancel`` -> daemon): ``cancel-<job id>``;
- the heartbeat (daemon -> API): ``processing/.daemon.json``, what ``/health`` and
  ``/metrics`` read;
- the daemon lock: ``processing/.daemon.lock``, held for the daemon's life so a
  second daemon on the same folders refuses to start.

Everything read here is validated: ids are UUIDs, sources are plain names.
"""

from __future__ import annotations

import dataclasses
import errno
import fcntl
import json
import logging
import os
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .errors import StartupError
from .files import atomic_write_bytes, inside, present, read_regular
from .status import JobStatus, atomic_write_json, is_job_id, utc_now

log = logging.getLogger(__name__)

REQUESTS = ".requests"
HEARTBEAT = ".daemon.json"
LOCK = ".daemon.lock"
TICKET_LIMIT = 64 << 10  # bytes; a ticket is a few hundred
STALE_TICKET_SECONDS = 600.0  # a ticket whose book never arrived is dropped after this


@dataclass(frozen=True)
class UploadTicket:
    job_id: str
    source: str  # the book's name in the inbox
    settings: dict[str, Any]  # the form's voice, speed, lang
    created_at: str
    cancelled: bool = False  # cancelled before the daemon took the book

    def queued_record(self) -> dict[str, Any]:
        """What /status says of an upload the daemon has not taken in yet."""
        return {"job_id": self.job_id, "status": JobStatus.QUEUED.value, "progress": 0.0,
                "output_file": None, "error": None, "source": self.source, "settings": self.settings,
                "created_at": self.created_at, "updated_at": self.created_at}

    @classmethod
    def from_record(cls, data: Any) -> "UploadTicket":
        if not isinstance(data, dict) or not is_job_id(data.get("job_id")):
            raise ValueError("not an upload ticket")
        source, settings, created = data.get("source"), data.get("settings"), data.get("created_at")
        if not isinstance(source, str) or "/" in source or not isinstance(settings, dict) \
                or not isinstance(created, str):
            raise ValueError("not an upload ticket")
        inside(Path("."), source)
        return cls(data["job_id"], source, settings, created, data.get("cancelled") is True)


class Mailbox:
    def __init__(self, processing: Path) -> None:
        self.processing = processing
        self.requests = processing / REQUESTS

    # ------------------------------------------------------------------ uploads

    def _ticket_path(self, job_id: str) -> Path:
        if not is_job_id(job_id):
            raise ValueError(f"{job_id[:60]!r} is not a job id")
        return self.requests / f"upload-{job_id}.json"

    def post_upload(self, ticket: UploadTicket) -> None:
        self.requests.mkdir(parents=True, exist_ok=True)
        atomic_write_json(self._ticket_path(ticket.job_id), asdict(ticket))

    def upload_ticket(self, job_id: str) -> UploadTicket | None:
        try:
            data = json.loads(read_regular(self._ticket_path(job_id), TICKET_LIMIT))
            return UploadTicket.from_record(data)
        except (OSError, ValueError):
            return None

    def upload_tickets(self) -> list[UploadTicket]:
        try:
            names = os.listdir(self.requests)
        except OSError:
            return []
        ids = [n[len("upload-"):-len(".json")] for n in names
               if n.startswith("upload-") and n.endswith(".json")]
        return [t for t in map(self.upload_ticket, filter(is_job_id, ids)) if t is not None]

    def ticket_for(self, source: str) -> UploadTicket | None:
        """The upload ticket of the book at ``source`` (inbox-relative), if it came that way."""
        return next((t for t in self.upload_tickets() if t.source == source), None)

    def cancel_upload(self, job_id: str) -> bool:
        """Mark a pending upload cancelled (kept in its ticket, so a restart still honours it)."""
        ticket = self.upload_ticket(job_id)
        if ticket is None:
            return False
        self.post_upload(dataclasses.replace(ticket, cancelled=True))
        return True

    def close_upload(self, job_id: str) -> None:
        try:
            self._ticket_path(job_id).unlink(missing_ok=True)
        except (OSError, ValueError) as error:
            log.warning("job %s: cannot remove its upload ticket: %s", job_id, error)

    def drop_stale_tickets(self, inbox: Path, max_age: float = STALE_TICKET_SECONDS) -> list[str]:
        """Tickets whose book is not in the inbox long after they were written: an upload
        that failed half-way, or a book someone removed before it was taken."""
        dropped = []
        for ticket in self.upload_tickets():
            path = self._ticket_path(ticket.job_id)
            try:
                age = time.time() - path.stat().st_mtime
            except OSError:
                continue
            try:
                gone = not present(inbox / ticket.source)
            except OSError:
                continue  # the share cannot say now: the ticket stays
            if age > max_age and gone:
                self.close_upload(ticket.job_id)
                dropped.append(ticket.job_id)
        return dropped

    # ------------------------------------------------------------------ cancel

    def request_cancel(self, job_id: str) -> None:
        """Ask a running daemon (this process or another) to cancel a job."""
        if not is_job_id(job_id):
            raise ValueError(f"{job_id[:60]!r} is not a job id")
        self.requests.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self.requests / f"cancel-{job_id}", utc_now().encode())

    def take_cancel_requests(self) -> list[str]:
        try:
            names = os.listdir(self.requests)
        except OSError:
            return []
        wanted = []
        for name in names:
            if name.startswith("cancel-"):
                (self.requests / name).unlink(missing_ok=True)
                if is_job_id(name[len("cancel-"):]):
                    wanted.append(name[len("cancel-"):])
        return wanted

    # ------------------------------------------------------------------ heartbeat

    def beat(self, state: dict[str, Any]) -> None:
        """The daemon's state for /health and /metrics; raises OSError when it cannot be written."""
        atomic_write_json(self.processing / HEARTBEAT, {"pid": os.getpid(), "time": time.time(), **state})

    def heartbeat(self) -> dict[str, Any] | None:
        try:
            data = json.loads(read_regular(self.processing / HEARTBEAT, TICKET_LIMIT))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None


class DaemonLock:
    """An exclusive lock on the daemon's folders, held for its life.

    ``flock`` on a file in ``processing/``: the kernel releases it when the
    process dies however it dies, so a crash never leaves a stale lock.  The
    file says who holds it, so the second daemon can name the first.
    """

    def __init__(self, processing: Path) -> None:
        self.path = processing / LOCK
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise StartupError(f"cannot create the lock file {self.path}: {error.strerror or error}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            holder = _read_holder(fd)
            os.close(fd)
            if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise StartupError(f"another kokoro-inbox daemon ({holder}) already works on these "
                                   f"folders (lock {self.path}); stop it first") from None
            raise StartupError(f"cannot lock {self.path}: {error.strerror or error}") from None
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "started_at": utc_now()}).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None


def _read_holder(fd: int) -> str:
    try:
        data = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return f"pid {int(data['pid'])} on {str(data['host'])[:64]}, started {str(data['started_at'])[:32]}"
    except (OSError, ValueError, KeyError, TypeError):
        return "pid unknown"
