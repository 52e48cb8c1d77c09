"""Watching the inbox: which books have arrived and stopped changing.

People copy books in over Samba and NFS, from phones, with scripts.  A book is
taken only once its size and mtime (and its sidecar's) have not changed for
``settle_seconds`` (``SettleTracker``, a pure class with the clock passed in).
Events come from watchdog: inotify for local folders, the polling observer on
network and FUSE mounts (inotify never sees writes made by other machines).
Events can be lost (inotify overflow, a poller that dies with a vanished
share), so a full rescan at start-up and every ``rescan_seconds`` backs them
up, and the main loop checks that the observer is alive.

A copy that pauses is not a finished book.  A settled file that does not yet
open as a ZIP but may still become one (empty, pre-allocated zeros, or the
start of a ZIP) waits for ``patience_seconds``; one that can never become one
(other bytes) goes to intake after three settle times, to fail with a reason.
Where Linux can tell (a read lease, on the machine that serves the share), a
file some program still has open for writing is not handed over at all.

On network mounts the inbox is polled every ``poll_seconds``; a folder's mtime
changes when an entry is added, removed or renamed in it, so only the folders
that changed are listed again, and only files not yet settled are looked at:
a share of thousands of books costs a ``stat`` per folder, not per file.

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

from .files import open_for_writing, open_regular
from .settings import SIDECAR_SUFFIXES, sidecar_of

log = logging.getLogger(__name__)

IGNORED_NAMES = (".*", "~*", "._*", "Thumbs.db", "desktop.ini", "*.part", "*.tmp", "*.crdownload",
                 "*.download", "*.partial", "~syncthing~*")
IGNORED_FOLDERS = ("@eaDir", "#recycle", "__MACOSX", ".*")
NETWORK_FILESYSTEMS = {"cifs", "smb3", "smbfs", "nfs", "nfs4", "9p", "afs", "ceph", "glusterfs",
                       "sshfs", "davfs", "davfs2", "virtiofs", "lustre", "gpfs", "beegfs"}
NOT_A_ZIP_PATIENCE = 3  # settle times a file that can never become a ZIP waits before intake


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


class FolderPoller:
    """What changed in a folder tree since the last look, cheaply.

    A folder's mtime changes whenever an entry is created, removed or renamed in
    it, so each look costs one ``stat`` per folder, and only folders whose mtime
    changed are listed again.  A file rewritten in place does not change its
    folder: the tracker stats the files it is settling, and the periodic full
    rescan catches the rest.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._folders: dict[Path, tuple[int, int]] = {}  # folder -> (inode, mtime_ns) when listed

    def changes(self) -> list[Path]:
        """Entries of every folder that is new or changed (book-like names and sidecars)."""
        found: list[Path] = []
        queue = [self.root, *(f for f in self._folders if f != self.root)]
        listed: set[Path] = set()
        while queue:
            folder = queue.pop()
            if folder in listed:
                continue
            listed.add(folder)
            try:
                info = os.stat(folder)
            except OSError:
                self._folders.pop(folder, None)
                continue
            stamp = (info.st_ino, info.st_mtime_ns)
            if self._folders.get(folder) == stamp:
                continue
            self._folders[folder] = stamp
            for entry in _entries(folder):
                path = Path(folder) / entry.name
                if entry.is_dir(follow_symlinks=False) and not ignored_folder(entry.name) \
                        and not is_book(path):
                    queue.append(path)
                else:
                    found.append(path)
        return found


def _entries(folder: Path) -> list[os.DirEntry]:
    try:
        with os.scandir(folder) as listing:
            return list(listing)
    except OSError:
        return []


class InboxWatcher:
    """Reports books in the inbox once they have settled, each one once."""

    def __init__(self, inbox: Path, mode: str, settle_seconds: float, rescan_seconds: float,
                 poll_seconds: float = 1.0, patience_seconds: float = 600.0) -> None:
        self.inbox = inbox
        self.configured_mode = mode
        self.mode = "native"
        self.tracker = SettleTracker(settle_seconds)
        self.rescan_every = rescan_seconds
        self.poll_every = poll_seconds
        self.patience = patience_seconds  # how long an incomplete file may keep being written
        self.observer: Observer | None = None
        self.poller: FolderPoller | None = None
        self._seen: set[Path] = set()
        self._lock = threading.Lock()
        self._again: dict[Path, float] = {}  # entries to look at again, and when
        self.next_rescan = 0.0
        self.next_poll = 0.0
        self.paused_reason: str | None = None

    # ------------------------------------------------------------------ observer

    def start(self) -> None:
        self.mode = choose_mode(self.inbox, self.configured_mode)
        if self.mode == "polling":
            self.poller = FolderPoller(self.inbox)  # polled by the main loop: no thread to die
        else:
            observer = Observer()
            observer.schedule(_Handler(self._seen, self._lock), str(self.inbox), recursive=True)
            observer.daemon = True
            observer.start()
            self.observer = observer
        self.next_rescan = self.next_poll = 0.0  # rescan now: whatever arrived while we were not looking
        log.info("watching %s (%s)", self.inbox, self.mode if self.mode == "native"
                 else f"polling), every {self.poll_every:g} s (watch.poll_seconds")

    def stop(self) -> None:
        self.poller = None
        if self.observer is not None:
            self.observer.stop()
            try:
                self.observer.join(timeout=5)
            except RuntimeError:
                pass
            self.observer = None

    def alive(self) -> bool:
        if self.mode == "polling":
            return self.poller is not None
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
        if self.poller is not None and now >= self.next_poll:
            seen.update(self.poller.changes())
            self.next_poll = now + self.poll_every
        seen.update(self.tracker.watching())  # a network share may change without events
        due = [path for path, when in self._again.items() if when <= now]
        for path in due:
            del self._again[path]
        seen.update(due)
        for path in seen:
            book = self._book_for(path)
            if book is not None:
                self.tracker.observe(book, _signature(book), now)
        ready = []
        for book in self.tracker.settled(now):
            if self._still_arriving(book, self.tracker.quiet_for(book, now)):
                continue
            self.tracker.hand_over(book)
            ready.append(book)
        return ready

    def _still_arriving(self, book: Path, quiet: float) -> bool:
        """Whether a settled entry may still be being written: a program has it open for
        writing, or it is not yet a ZIP but may become one (see the module's docstring)."""
        if not self._plain_file(book):
            return False  # not a file: intake refuses it without opening it
        if quiet < self.patience and open_for_writing(book):
            return True
        state = _completeness(book)
        if state == "zip":
            return False
        if state == "incomplete":
            return quiet < self.patience
        return quiet < NOT_A_ZIP_PATIENCE * max(self.tracker.settle, 1.0)

    def mark_taken(self, book: Path) -> None:
        """Already a job (resumed at start-up): not to be handed over again unless it changes."""
        self.tracker.mark_taken(book, _signature(book))

    def forget(self, book: Path) -> None:
        """The book left the inbox (archived, failed): a new file there is new."""
        self.tracker.forget(book)

    def look_again(self, book: Path, after: float, now: float | None = None) -> None:
        """Offer ``book`` again once ``after`` seconds have passed (it could not be read now)."""
        now = time.monotonic() if now is None else now
        self.tracker.forget(book)
        self._again[book] = now + after

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
        if path.suffix in SIDECAR_SUFFIXES and not ignored(path.name):
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


def _completeness(path: Path) -> str:
    """'zip' when the file opens as a ZIP; 'incomplete' when it may still become one (empty,
    pre-allocated zeros, the start of a ZIP); 'other' when no more bytes can make it one."""
    try:
        with open_regular(path) as handle:
            head = handle.read(4)
            handle.seek(0)
            try:
                with zipfile.ZipFile(handle) as archive:
                    if archive.namelist():
                        return "zip"
            except zipfile.BadZipFile:
                pass
    except OSError:
        return "incomplete"  # cannot be read now (a share's error): not a reason to fail it
    return "incomplete" if head[:2] == b"PK" or not head.strip(b"\0") else "other"
