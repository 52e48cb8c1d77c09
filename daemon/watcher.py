"""Watching the inbox: which books have arrived and stopped changing.

People copy books in over Samba and NFS, from phones, with scripts.  A book is
taken only once its size and mtime (and its sidecar's) have not changed for
``settle_seconds`` (``SettleTracker``, a pure class with the clock passed in).
Events come from watchdog: inotify for local folders, the polling observer on
network and FUSE mounts (inotify never sees writes made by other machines).
Events can be lost (inotify overflow, a poller that dies with a vanished
share), so a full rescan at start-up and every ``rescan_seconds`` backs them
up, and the main loop checks that the observer is alive.

Anything named like a book is reported, including what is not a regular file
(a FIFO, a socket, a device, a folder called ``x.epub``): the intake refuses it
with a status saying what it is.  The watcher never opens such an entry: it
looks with ``lstat``/``stat`` only, and opens regular files without blocking.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import stat
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Hashable

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from .files import open_regular
from .settings import sidecar_of

log = logging.getLogger(__name__)

IGNORED_NAMES = (".*", "~*", "._*", "Thumbs.db", "desktop.ini", "*.part", "*.tmp", "*.crdownload",
                 "*.download", "*.partial", "~syncthing~*")
IGNORED_FOLDERS = ("@eaDir", "#recycle", "__MACOSX", ".*")
NETWORK_FILESYSTEMS = {"cifs", "smb3", "smbfs", "nfs", "nfs4", "9p", "afs", "ceph", "glusterfs",
                       "sshfs", "davfs", "davfs2", "virtiofs", "lustre", "gpfs", "beegfs"}
POLL_INTERVAL = 1.0  # seconds between polling observer scans (pickup within settle + ~1.5 s)


def ignored(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in IGNORED_NAMES)


def ignored_folder(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in IGNORED_FOLDERS)


def is_book(path: Path) -> bool:
    return path.suffix.lower() == ".epub" and not ignored(path.name)


def filesystem_type(path: Path, mounts_file: str = "/proc/mounts") -> str | None:
    """The type of the filesystem ``path`` lives on, from the mount table."""
    try:
        lines = Path(mounts_file).read_text().splitlines()
    except OSError:
        return None
    target = os.path.realpath(path)
    best, best_type = "", None
    for line in lines:
        parts = line.split()
        if len(parts) < 3:
            continue
        mount_point = parts[1].replace("\\040", " ")
        inside = target == mount_point or target.startswith(mount_point.rstrip("/") + "/")
        if inside and len(mount_point) >= len(best):
            best, best_type = mount_point, parts[2]
    return best_type


def choose_mode(inbox: Path, configured: str) -> str:
    """'native' (inotify) or 'polling'; auto polls network and FUSE filesystems."""
    if configured != "auto":
        return configured
    fstype = filesystem_type(inbox) or ""
    if fstype in NETWORK_FILESYSTEMS or fstype.startswith("fuse"):
        log.info("the inbox is on %s: watching it by polling", fstype)
        return "polling"
    return "native"


class _Handler(FileSystemEventHandler):
    """Runs in watchdog's thread: only records paths, the main loop does the rest."""

    def __init__(self, seen: set[Path], lock: threading.Lock) -> None:
        self.seen, self.lock = seen, lock

    def on_any_event(self, event: FileSystemEvent) -> None:
        paths = [event.src_path, getattr(event, "dest_path", "")]
        with self.lock:
            self.seen.update(Path(os.fsdecode(p)) for p in paths if p)


@dataclass
class _Settling:
    signature: Hashable
    changed_at: float
    first_seen: float


class SettleTracker:
    """Which entries have stopped changing, and since when: pure, the clock is passed in.

    The caller reports what it sees of each entry (a signature: size, mtime,
    the sidecar's too); an entry is settled once its signature has not changed
    for ``settle`` seconds.  An entry handed over is remembered with its
    signature, so it is not reported again unless it changes.
    """

    def __init__(self, settle: float) -> None:
        self.settle = settle
        self._watching: dict[Hashable, _Settling] = {}
        self._taken: dict[Hashable, Hashable] = {}

    def observe(self, key: Hashable, signature: Hashable | None, now: float) -> None:
        """What ``key`` looks like at ``now``; None means it is gone."""
        if signature is None:
            self._watching.pop(key, None)
            return
        if self._taken.get(key) == signature:
            return  # handed over already, unchanged
        entry = self._watching.get(key)
        if entry is None:
            self._watching[key] = _Settling(signature, now, now)
        elif entry.signature != signature:
            entry.signature, entry.changed_at = signature, now

    def watching(self) -> list[Hashable]:
        return list(self._watching)

    def settled(self, now: float) -> list[Hashable]:
        """Entries unchanged for ``settle`` seconds, in order of arrival."""
        due = [(e.first_seen, k) for k, e in self._watching.items() if now - e.changed_at >= self.settle]
        return [key for _, key in sorted(due, key=lambda item: item[0])]

    def quiet_for(self, key: Hashable, now: float) -> float:
        entry = self._watching.get(key)
        return now - entry.changed_at if entry else 0.0

    def hand_over(self, key: Hashable) -> None:
        entry = self._watching.pop(key)
        self._taken[key] = entry.signature

    def mark_taken(self, key: Hashable, signature: Hashable | None) -> None:
        self._watching.pop(key, None)
        self._taken[key] = signature

    def forget(self, key: Hashable) -> None:
        self._watching.pop(key, None)
        self._taken.pop(key, None)


class InboxWatcher:
    """Reports books in the inbox once they have settled, each one once."""

    def __init__(self, inbox: Path, mode: str, settle_seconds: float, rescan_seconds: float) -> None:
        self.inbox = inbox
        self.configured_mode = mode
        self.mode = "native"
        self.tracker = SettleTracker(settle_seconds)
        self.rescan_every = rescan_seconds
        self.observer: Observer | PollingObserver | None = None
        self._seen: set[Path] = set()
        self._lock = threading.Lock()
        self.next_rescan = 0.0
        self.paused_reason: str | None = None

    # ------------------------------------------------------------------ observer

    def start(self) -> None:
        self.mode = choose_mode(self.inbox, self.configured_mode)
        observer = PollingObserver(timeout=POLL_INTERVAL) if self.mode == "polling" else Observer()
        observer.schedule(_Handler(self._seen, self._lock), str(self.inbox), recursive=True)
        observer.daemon = True
        observer.start()
        self.observer = observer
        self.next_rescan = 0.0  # rescan now: whatever arrived while we were not looking
        log.info("watching %s (%s)", self.inbox, self.mode)

    def stop(self) -> None:
        if self.observer is not None:
            self.observer.stop()
            try:
                self.observer.join(timeout=5)
            except RuntimeError:
                pass
            self.observer = None

    def alive(self) -> bool:
        observer = self.observer
        if observer is None or not observer.is_alive():
            return False
        return all(emitter.is_alive() for emitter in observer.emitters)

    def check(self) -> None:
        """Pause while the inbox is gone; restart a dead observer (raises if that fails)."""
        problem = self._inbox_problem()
        if problem:
            if self.paused_reason is None:
                log.error("intake paused: %s; waiting for it to come back", problem)
                self.stop()
            self.paused_reason = problem
            return
        if self.paused_reason is not None:
            log.info("the inbox %s is back; intake resumes", self.inbox)
            self.paused_reason = None
            self.start()
            return
        if not self.alive():
            log.error("the inbox watcher stopped; restarting it")
            self.stop()
            self.start()  # an exception here ends the daemon, and systemd restarts it

    def _inbox_problem(self) -> str | None:
        try:
            if not self.inbox.is_dir():
                return f"the inbox {self.inbox} is missing (share unmounted?)"
            os.listdir(self.inbox)
        except OSError as error:
            return f"the inbox {self.inbox} cannot be read ({error.strerror or error})"
        return None

    # ------------------------------------------------------------------ books

    def poll(self, now: float | None = None) -> list[Path]:
        """Books that have settled since the last call, oldest arrival first."""
        now = time.monotonic() if now is None else now
        if self.paused_reason is not None:
            return []
        with self._lock:  # the handler holds this very set: empty it in place
            seen = set(self._seen)
            self._seen.clear()
        if now >= self.next_rescan:
            seen.update(self._scan())
            self.next_rescan = now + self.rescan_every
        seen.update(self.tracker.watching())  # a network share may change without events
        for path in seen:
            book = self._book_for(path)
            if book is not None:
                self.tracker.observe(book, _signature(book), now)
        ready = []
        for book in self.tracker.settled(now):
            # Stable but not yet a readable ZIP: maybe a writer that pauses; give it longer.
            patience = 3 * max(self.tracker.settle, 1.0)
            if self._plain_file(book) and not _opens_as_zip(book) \
                    and self.tracker.quiet_for(book, now) < patience:
                continue
            self.tracker.hand_over(book)
            ready.append(book)
        return ready

    def mark_taken(self, book: Path) -> None:
        """Already a job (resumed at start-up): not to be handed over again unless it changes."""
        self.tracker.mark_taken(book, _signature(book))

    def forget(self, book: Path) -> None:
        """The book left the inbox (archived, failed): a new file there is new."""
        self.tracker.forget(book)

    def _plain_file(self, book: Path) -> bool:
        """A regular file inside the inbox: the only kind the watcher may open."""
        try:
            real = Path(os.path.realpath(book))
            return real.is_relative_to(os.path.realpath(self.inbox)) and stat.S_ISREG(real.stat().st_mode)
        except OSError:
            return False

    def _scan(self) -> list[Path]:
        found = []
        for folder, dirs, files in os.walk(self.inbox, onerror=lambda error: None):
            found.extend(Path(folder) / name for name in files + dirs if is_book(Path(name)))
            dirs[:] = [d for d in dirs if not ignored_folder(d) and not is_book(Path(d))]
        return found

    def _book_for(self, path: Path) -> Path | None:
        """The book an event is about: the entry itself, or the book of a sidecar."""
        try:
            relative = path.relative_to(self.inbox)
        except ValueError:
            return None
        if any(ignored_folder(part) or is_book(Path(part)) for part in relative.parts[:-1]):
            return None
        if is_book(path):
            return path
        if path.suffix.lower() in (".yaml", ".yml") and not ignored(path.name):
            for candidate in path.parent.glob(f"{_glob_escape(path.stem)}.*"):
                if is_book(candidate):
                    return candidate
        return None


def _glob_escape(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)


def _signature(book: Path) -> tuple | None:
    """What the entry looks like: kind, size and mtime (of a link's target), and its sidecar's."""
    try:
        info = book.stat()
    except OSError:
        try:
            info = book.lstat()  # a dangling link is still an entry to refuse
        except OSError:
            return None
    sidecar = sidecar_of(book) if stat.S_ISREG(info.st_mode) else None
    side = None
    if sidecar is not None:
        try:
            side_stat = sidecar.stat()
            side = (sidecar.name, side_stat.st_size, side_stat.st_mtime_ns)
        except OSError:
            side = None
    return (stat.S_IFMT(info.st_mode), info.st_size, info.st_mtime_ns, side)


def _opens_as_zip(path: Path) -> bool:
    try:
        with open_regular(path) as handle, zipfile.ZipFile(handle) as archive:
            return bool(archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False
