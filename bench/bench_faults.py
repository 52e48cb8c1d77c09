"""Fault benchmark: everything a hostile or unlucky user does, at once, to one running daemon.

    .venv/bin/python bench/bench_faults.py [--books 10]

Starts the daemon (model-free tone engine, API on) over temporary folders and,
while it converts good books dropped and uploaded, throws at it: a FIFO, a
socket and a folder named like books, links out of the inbox (one to
/dev/zero), planted status files with traversal names, sidecar bombs (YAML
aliases, a billion-chapter range, 50 MB), a 253-byte book name, the same book
dropped again and again while it runs, a second daemon on the same folders, 40
concurrent uploads with one file name, an upload named folder.epub, 100 stalled
uploads and 16 clients dripping one header byte every few seconds, an upload
flood beyond the queue, and a kill -9 with a restart.  Then it checks, and
prints, that every case was handled, the daemon stayed up, no book was lost or
converted twice, and the daemon's memory stayed bounded.

Then what a network share and a hostile book do (issue 13), against a second
daemon with ``after_success: delete``: a book replaced while it converts, a
new version still being copied when the old one ends, copies that pause or
start empty, an injected EIO, an archive that refuses the move across a
restart, a name that is not UTF-8, a lone surrogate in a sidecar, a book over
its reading budget, "Hello" and 200,000 dots while /health is polled, a late
sidecar and macOS ``._`` files, a full disk, the retention policy, and a
failed copy that goes on growing.  ``--only-nas`` runs that part alone.

Last, issue 13's other points, each replayed by the test that reproduces it
with real processes (a trickling notification receiver, 8 concurrent requests
for a 40 MB cover, a 300-chapter split book, 20 voice-sample requests, the
feed's token, hostile ``?part=`` and ``Host``, hidden characters in names, a
book named ``lexicon.epub``, a Dask worker with other model files, a TLS
cluster and a client without its certificate, deep markup, 100,000 lexicon
entries, every text rule on 10^5-10^6 repeated characters): one home for each
replay, run here as the bench's cases.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from daemon.status import Job, JobStatus  # noqa: E402
from tests.daemon_helpers import Daemon, free_port  # noqa: E402
from tests.epubs import simple_book  # noqa: E402

TEXT = [f"Paragraph {n}: the lamps were lit along the street, and the fog came in slowly." for n in range(8)]
results: list[tuple[str, bool, str]] = []


def check(case: str, ok: bool, detail: str = "") -> None:
    results.append((case, ok, detail))
    print(f"{'ok  ' if ok else 'FAIL'} {case}{': ' + detail if detail else ''}", flush=True)


def book(path: Path, title: str, paragraphs: list[str] = TEXT) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return simple_book(path, [("One", paragraphs[:4]), ("Two", paragraphs[4:])], title=title)


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
    return 0.0


def statuses(outbox: Path) -> list[dict]:
    """The jobs' status files (the planted ones, which the daemon ignores, left out too)."""
    found = []
    for path in outbox.rglob("*.json"):
        if not path.name.startswith("."):
            try:
                found.append(Job.from_record(json.loads(path.read_text())).record())
            except (ValueError, TypeError):
                pass
    return found


def by_source(outbox: Path) -> dict[str, dict]:
    return {s["source"]: s for s in statuses(outbox) if s.get("source")}


def health_seconds(d: Daemon) -> float:
    """How long /health took to answer (10 s when it did not)."""
    began = time.perf_counter()
    try:
        requests.get(f"{d.url}/health", timeout=10)
    except requests.RequestException:
        return 10.0
    return time.perf_counter() - began


def wait(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


# --------------------------------------------------------------------------- the cases

def odd_entries(d: Daemon, work: Path) -> list[str]:
    os.mkfifo(d.inbox / "pipe.epub")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(d.inbox / "socket.epub"))
    (d.inbox / "folder.epub").mkdir()
    outside = book(work / "Outside.epub", "Outside")
    (d.inbox / "outside.epub").symlink_to(outside)
    (d.inbox / "zero.epub").symlink_to("/dev/zero")
    return ["pipe.epub", "socket.epub", "folder.epub", "outside.epub", "zero.epub"]


def hostile_sidecars(d: Daemon, work: Path) -> list[str]:
    bombs = {
        "Alias.yaml": "a: &a [1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nspeed: [*b,*b,*b,*b,*b]\n",
        "Range.yaml": "chapters: 1-1000000000\n",
        "Huge.yaml": "voice: af_heart\n" + "# padding\n" * 5_000_000,
    }
    names = []
    for name, text in bombs.items():
        stem = name[:-5]
        shutil.copyfile(book(work / f"{stem}.epub", stem), d.inbox / f"{stem}.epub")
        (d.inbox / name).write_text(text)
        names.append(f"{stem}.epub")
    return names


def second_daemon(d: Daemon) -> None:
    result = subprocess.run([sys.executable, "-m", "daemon", "run", "--config", str(d.config), "--engine", "tone"],
                            cwd=d.base, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    one_line = len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    check("a second daemon on the same folders refuses, one sentence, exit 2",
          result.returncode == 2 and one_line and "another kokoro-inbox daemon" in result.stderr,
          result.stderr.strip()[:120])


def same_name_uploads(d: Daemon, work: Path, count: int = 40) -> list[str]:
    books = [book(work / f"race-{n}.epub", f"Race {n}", [f"Uploader {n} wrote this sentence."] * 8)
             for n in range(count)]
    answers: list[requests.Response | None] = [None] * count

    def send(n: int) -> None:
        with open(books[n], "rb") as handle:
            answers[n] = requests.post(f"{d.url}/convert", files={"file": ("Same Name.epub", handle)},
                                       data={"voice": "af_heart"}, timeout=60)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    codes = [a.status_code if a is not None else 0 for a in answers]
    accepted = [a.json()["job_id"] for a in answers if a is not None and a.status_code == 202]
    check("40 concurrent uploads with one file name: no 500, each accepted one is its own book",
          0 not in codes and 500 not in codes and all(c in (202, 503) for c in codes),
          f"{codes.count(202)} accepted, {codes.count(503)} told to retry")
    return accepted


def stalled_clients(d: Daemon, seconds: float = 25.0) -> None:
    host, port = "127.0.0.1", int(d.url.rsplit(":", 1)[1])
    stalled = []
    for _ in range(100):  # an upload that sends its headers and a little body, then nothing
        sock = socket.create_connection((host, port), timeout=5)
        sock.sendall(b"POST /convert HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; "
                     b"boundary=X\r\nContent-Length: 1000000\r\n\r\n--X\r\n")
        stalled.append(sock)
    drippers = []
    for _ in range(16):  # one header byte every few seconds
        sock = socket.create_connection((host, port), timeout=5)
        sock.sendall(b"G")
        drippers.append(sock)
    latencies = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        latencies.append(health_seconds(d))
        for sock in drippers:
            try:
                sock.sendall(b"E")
            except OSError:
                pass
        time.sleep(0.25)
    for sock in stalled + drippers:
        sock.close()
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99)] * 1000
    check("/health answers with 100 stalled uploads and 16 drip-feeders", p99 < 1000, f"p99 {p99:.0f} ms")


def upload_flood(d: Daemon, work: Path, count: int = 200) -> None:
    flood = book(work / "flood.epub", "Flood")
    codes = []
    for n in range(count):
        with open(flood, "rb") as handle:
            codes.append(requests.post(f"{d.url}/convert", files={"file": (f"Flood {n}.epub", handle)},
                                       data={"voice": "af_heart", "speed": 1.0 + (n % 10) / 100},
                                       timeout=60).status_code)
    check(f"an upload flood of {count}: accepted or told to retry, never an error",
          set(codes) <= {202, 503}, f"{codes.count(202)} accepted, {codes.count(503)} answered 503")


def folder_named_upload(d: Daemon, work: Path) -> None:
    path = book(work / "folder.epub", "Folder")
    with open(path, "rb") as handle:
        answer = requests.post(f"{d.url}/convert", files={"file": ("folder.epub", handle)},
                               data={"voice": "am_adam"}, timeout=30)
    check("an upload named folder.epub leaves no folder.yaml for other books",
          answer.status_code == 202 and not (d.inbox / "folder.yaml").exists())


# --------------------------------------------------------------------------- the share (issue 13)

def processing(outbox: Path) -> bool:
    return any(s["status"] == "processing" for s in statuses(outbox))


def replaced_while_converting(d: Daemon, work: Path) -> None:
    first = book(work / "v1" / "Edition.epub", "First Edition", TEXT * 6)
    second = book(work / "v2" / "Edition.epub", "Second Edition")
    shutil.copyfile(first, d.inbox / "Edition.epub")
    wait(lambda: processing(d.outbox), 60)
    shutil.copyfile(second, d.inbox / "Edition.epub")  # copied over it in place, as Samba does
    done = wait(lambda: {s.get("title"): s["status"] for s in statuses(d.outbox)}.get("Second Edition")
                == "completed", 240)
    check("a book replaced while it converts (after_success: delete): the new version is converted, "
          "never deleted unconverted", done and "was replaced by another file" in d.log.read_text())


def slow_copy_over_a_converting_book(d: Daemon, work: Path) -> None:
    shutil.copyfile(book(work / "slow-1.epub", "Slow First", TEXT * 6), d.inbox / "Slow.epub")
    data = book(work / "v2" / "Slow.epub", "Slow Second").read_bytes()
    wait(lambda: by_source(d.outbox).get("Slow.epub", {}).get("status") == "processing", 60)
    kept = True
    with open(d.inbox / "Slow.epub", "wb") as out:
        out.write(data[:512])
        out.flush()
        wait(lambda: {s.get("title"): s["status"] for s in statuses(d.outbox)}.get("Slow First") == "completed", 120)
        time.sleep(1)
        kept = (d.inbox / "Slow.epub").exists()
        out.write(data[512:])
    done = wait(lambda: {s.get("title"): s["status"] for s in statuses(d.outbox)}.get("Slow Second")
                == "completed", 120)
    check("a new version still being copied when the old one's job ends stays, then is converted", kept and done)


def paused_copies(d: Daemon, work: Path) -> None:
    paused = book(work / "paused.epub", "Paused").read_bytes()
    empty = book(work / "empty.epub", "Empty First").read_bytes()
    (d.inbox / "Paused.epub").write_bytes(paused[: len(paused) // 3])
    (d.inbox / "Empty First.epub").write_bytes(b"")
    time.sleep(20)  # a network stall of 20 s: more than three settle times
    with open(d.inbox / "Paused.epub", "ab") as out:
        out.write(paused[len(paused) // 3:])
    (d.inbox / "Empty First.epub").write_bytes(empty)
    done = wait(lambda: all(by_source(d.outbox).get(n, {}).get("status") == "completed"
                            for n in ("Paused.epub", "Empty First.epub")), 120)
    check("a copy paused for 20 s and a file created empty and filled later are converted, not failed",
          done and not (d.base / "failed" / "Paused.epub").exists())


def io_error(d: Daemon, work: Path) -> None:
    shutil.copyfile(book(work / "flaky.epub", "Flaky"), d.inbox / "Flaky.epub")
    done = wait(lambda: by_source(d.outbox).get("Flaky.epub", {}).get("status") == "completed", 120)
    check("an EIO from the share during intake is tried again, with a log line, and the book converted",
          done and "Flaky.epub: cannot look at it now: Input/output error" in d.log.read_text())


def odd_names(d: Daemon, work: Path) -> None:
    shutil.copyfile(book(work / "cafe.epub", "Cafe"), os.fsencode(d.inbox) + b"/Caf\xe9.epub")
    shutil.copyfile(book(work / "odd.epub", "Odd"), d.inbox / "Odd.epub")
    (d.inbox / "Odd.yaml").write_text('title: "Na\\udce9ve"\n')
    done = wait(lambda: all(by_source(d.outbox).get(n, {}).get("status") == "completed"
                            for n in ("Caf\ufffd.epub", "Odd.epub")), 120)
    check("a name that is not UTF-8 and a lone surrogate in a sidecar: a status each, converted",
          done and by_source(d.outbox)["Caf\ufffd.epub"].get("source_bytes") == "Caf%E9.epub")


def too_slow_to_read(d: Daemon, work: Path) -> None:
    novel = [f"Chapter paragraph {n}: " + "It is a truth universally acknowledged, that a single man "
             "in possession of a good fortune, must be in want of a wife. " * 8 for n in range(6000)]
    simple_book(work / "Huge.epub", [(f"Part {n}", novel[n * 600:(n + 1) * 600]) for n in range(10)], title="Huge")
    shutil.copyfile(work / "Huge.epub", d.inbox / "Huge.epub")
    done = wait(lambda: by_source(d.outbox).get("Huge.epub", {}).get("status") == "failed", 120)
    code = by_source(d.outbox).get("Huge.epub", {}).get("error_code")
    check("a book slower to read than watch.read_seconds fails with a sentence", done and code == "too_slow_to_read")


def dots_book(d: Daemon, work: Path) -> None:
    simple_book(work / "Dots.epub", [("One", ["Hello" + "." * 200_000])], title="Dots")
    shutil.copyfile(work / "Dots.epub", d.inbox / "Dots.epub")
    latencies = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and by_source(d.outbox).get("Dots.epub", {}).get("status") \
            not in ("completed", "failed"):
        latencies.append(health_seconds(d))
        time.sleep(0.2)
    status = by_source(d.outbox).get("Dots.epub", {}).get("status")
    worst = max(latencies, default=0) * 1000
    check("'Hello' and 200,000 dots: read within its budget, /health answering meanwhile",
          status in ("completed", "failed") and worst < 1000, f"{status}, /health worst {worst:.0f} ms")


def late_sidecar(d: Daemon, work: Path) -> None:
    shutil.copyfile(book(work / "late.epub", "Late", TEXT * 6), d.inbox / "Late.epub")
    (d.inbox / "._Late.epub").write_bytes(b"\x00\x05\x16\x07 Finder")
    wait(lambda: by_source(d.outbox).get("Late.epub", {}).get("status") == "processing", 60)
    (d.inbox / "Late.yaml").write_text("voice: am_adam\n")
    wait(lambda: by_source(d.outbox).get("Late.epub", {}).get("status") == "completed", 120)
    time.sleep(1)
    check("a late sidecar is told once and leaves with its book, as do ._ files",
          d.log.read_text().count("arrived or changed after the book was taken") == 1
          and not any((d.inbox / n).exists() for n in ("Late.epub", "Late.yaml", "._Late.epub")))


def refused_removal_and_restart(d: Daemon, work: Path) -> None:
    """A source the share will not let go of (here: an immutable folder) is removed later, and
    is no second job after a restart."""
    locked = d.inbox / "locked"
    locked.mkdir()
    shutil.copyfile(book(work / "stuck.epub", "Stuck"), locked / "Stuck.epub")
    if subprocess.run(["chattr", "+i", str(locked)], capture_output=True).returncode:
        check("a source the share will not let go of (skipped: no chattr +i here)", True)
        return
    try:
        wait(lambda: "Stuck.epub cannot leave the inbox yet" in d.log.read_text(), 120)
        d.stop()
        d.start()
        wait(lambda: "locked/Stuck.epub is still in the inbox though its job ended" in d.log.read_text(), 60)
        one = [s["source"] for s in statuses(d.outbox)].count("locked/Stuck.epub") == 1
    finally:
        subprocess.run(["chattr", "-i", str(locked)], check=True)
    gone = wait(lambda: not (locked / "Stuck.epub").exists(), 60)
    check("a source that cannot be removed is tried again, and after a restart is no second job", one and gone)


def full_disk(work: Path) -> None:
    small = work / "small"
    small.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(small)],
                      capture_output=True).returncode:
        check("a book waits for disk space (skipped: cannot mount a tmpfs here)", True)
        return
    d = Daemon(work / "disk", engine="tone", paths__outbox=str(small / "outbox"),
               paths__processing=str(small / "processing")).start()
    try:
        shutil.copyfile(book(work / "big.epub", "Big"), d.inbox / "Big.epub")
        status = small / "outbox" / "Big.json"
        waited = wait(lambda: status.exists() and (json.loads(status.read_text()).get("waiting") or "")
                      .startswith("waiting for disk space"), 60)
        subprocess.run(["mount", "-o", "remount,size=1g", str(small)], check=True)
        done = wait(lambda: json.loads(status.read_text())["status"] == "completed", 90)
        check("a book waits for disk space (status says why), and starts when there is room", waited and done)
    finally:
        d.stop()
        subprocess.run(["umount", "-l", str(small)], check=False)


def taken_back(work: Path) -> None:
    d = Daemon(work / "patience", engine="tone", watch__patience_seconds=3, watch__settle_seconds=1).start()
    try:
        data = book(work / "growing.epub", "Growing").read_bytes()
        (d.inbox / "Growing.epub").write_bytes(data[:100])
        wait(lambda: (d.base / "failed" / "Growing.epub").exists(), 60)
        with open(d.base / "failed" / "Growing.epub", "ab") as out:
            out.write(data[100:])
        done = wait(lambda: [s["status"] for s in statuses(d.outbox)] == ["completed"], 90)
        check("a copy failed as incomplete that goes on growing in failed/ is taken back and converted", done)
    finally:
        d.stop()


def retention(work: Path) -> None:
    base = work / "retention"
    outbox = base / "outbox"
    outbox.mkdir(parents=True)
    ended = (time.time() - 40 * 86400)
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ended))
    old = Job(job_id=str(uuid.uuid4()), status=JobStatus.COMPLETED, source="Old.epub", source_sha256="",
              settings={}, status_file="Old.json", job_key="old", output_file="Old.mp3", created_at=when,
              finished_at=when)
    (outbox / "Old.json").write_text(json.dumps(old.record()))
    (outbox / "Old.mp3").write_bytes(b"audio")
    (outbox / "Young.mp3").write_bytes(b"audio")
    young = Job(job_id=str(uuid.uuid4()), status=JobStatus.COMPLETED, source="Young.epub", source_sha256="",
                settings={}, status_file="Young.json", job_key="young", output_file="Young.mp3",
                finished_at=time.strftime("%Y-%m-%dT%H:%M:%SZ"))
    (outbox / "Young.json").write_text(json.dumps(young.record()))
    d = Daemon(base, engine="tone", retention={"outputs_days": 30}).start()
    try:
        done = wait(lambda: not (outbox / "Old.mp3").exists(), 30)
        check("retention removes a 40-day-old audiobook and keeps a new one", done and (outbox / "Young.mp3").exists())
    finally:
        d.stop()


def share(work: Path) -> None:
    """Issue 13's share and text cases, each against a real daemon."""
    eio = {"PYTHONPATH": f"{ROOT / 'tests' / 'share_faults'}{os.pathsep}{ROOT}", "KOKORO_TEST_EIO": "Flaky:1"}
    d = Daemon(work / "nas", engine="tone-slow", env=eio, after_success="delete", workers=2,
               api__enabled=True, api__port=free_port(),
               watch__read_seconds=3, watch__patience_seconds=60, watch__settle_seconds=2).start()
    try:
        for case in (replaced_while_converting, slow_copy_over_a_converting_book, paused_copies, io_error,
                     odd_names, too_slow_to_read, dots_book, late_sidecar, refused_removal_and_restart):
            began = time.monotonic()
            case(d, work)
            print(f"     ({case.__name__}: {time.monotonic() - began:.0f} s)", flush=True)
        memory = peak_rss_mb(d.process.pid)
        check("the daemon is up after the share's cases", d.alive(), f"peak {memory:.0f} MB")
    finally:
        d.stop()
    for case in (full_disk, taken_back, retention):
        case(work)


# --------------------------------------------------------------------------- the rest (issue 13)

REPLAYED = [
    ("a trickling notification receiver delays nobody else, one warning without its secret",
     "tests/test_notify.py::test_a_trickling_receiver_delays_nobody_else_and_is_one_warning_without_its_secret"),
    ("a 300-chapter book split into files carries the cover once, thumbnails after",
     "tests/test_covers.py::test_a_book_split_into_chapters_carries_the_cover_once_and_thumbnails_after"),
    ("8 concurrent requests for a huge cover: one file, flat memory",
     "tests/test_api_faults.py::test_concurrent_requests_for_a_huge_cover_are_served_from_one_file_in_flat_memory"),
    ("20 voice-sample requests hold no API thread; the sample process dies with the API",
     "tests/test_api_faults.py::test_sample_requests_hold_no_thread_and_the_sample_process_dies_with_the_api"),
    ("the feed's token reads the feed and what it links to, nothing else",
     "tests/test_api_faults.py::test_the_feed_token_reads_the_feed_and_what_it_links_to_and_nothing_else"),
    ("?part=%B2 and Host: [::1]@evil.example are refused and never echoed",
     "tests/test_api_faults.py::test_a_part_in_other_digits_and_a_host_with_userinfo_are_refused_and_never_echoed"),
    ("bidirectional and control characters: left out of names written, escaped in status and the log",
     "tests/test_hidden_characters.py"),
    ("a book named lexicon.epub keeps its sidecar, the folder its lexicon",
     "tests/test_settings_config.py::test_a_book_named_lexicon_keeps_its_sidecar_and_the_folder_keeps_its_lexicon"),
    ("a Dask worker with other model files is kept out; the book waits for a good one",
     "tests/test_dask.py::test_a_worker_with_other_files_is_kept_out_and_the_book_waits_for_a_good_one"),
    ("a TLS cluster reads a book and refuses whoever has no certificate of its CA",
     "tests/test_dask.py::test_a_tls_cluster_reads_a_book_and_refuses_whoever_has_no_certificate_of_its_ca"),
    ("deep markup is read whole or refused with a sentence, never dropped",
     "tests/test_epub_quirks.py -k nest"),
    ("every text rule is linear on 10^5-10^6 repeated characters; lexicons capped, one pass",
     "tests/test_linear_time.py"),
    ("lexicons in 20 folders beyond 10,000 words are refused naming where they came from; 10,000 match fast",
     "tests/test_pronounce.py -k beyond_the_total or ten_thousand_entries"),
]


def replayed() -> None:
    for case, target in REPLAYED:
        began = time.monotonic()
        path, _, selector = target.partition(" -k ")
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", path]
        result = subprocess.run(command + (["-k", selector] if selector else []),
                                cwd=ROOT, capture_output=True, text=True, timeout=900)
        summary = (result.stdout.strip().splitlines() or ["no output"])[-1]
        check(case, result.returncode == 0, f"{summary} ({time.monotonic() - began:.0f} s)")


# --------------------------------------------------------------------------- the run

def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--books", type=int, default=10)
    parser.add_argument("--only-nas", action="store_true", help="only the share's and the text's cases")
    parser.add_argument("--no-replays", action="store_true", help="leave out the cases replayed by tests")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kokoro-faults-"))
    started = time.monotonic()
    try:
        if not args.only_nas:
            run(work / "hostile", args.books)
        share(work / "share")
        if not args.no_replays:
            replayed()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    failed = [case for case, ok, _ in results if not ok]
    print(f"\n{len(results) - len(failed)} of {len(results)} cases handled in {time.monotonic() - started:.0f} s")
    return 1 if failed else 0


def run(work: Path, count: int) -> int:
    outbox = work / "outbox"
    outbox.mkdir(parents=True)
    planted = {"job_id": "../../victim", "status": "processing", "source": "../victim", "source_sha256": "",
               "settings": {}, "status_file": "evil.json", "job_key": "x"}
    (outbox / "evil.json").write_text(json.dumps(planted))
    (outbox / "absolute.json").write_text(json.dumps(dict(planted, job_id=str(uuid.uuid4()), source="/etc/hostname")))
    victim = work / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me")
    d = Daemon(work, engine="tone", api__enabled=True, api__port=free_port(), api__max_queue=120,
               workers=2).start()
    started = time.monotonic()
    good = []
    for n in range(count):
        source = book(work / f"good-{n}.epub", f"Good {n}", TEXT * 2)
        shutil.copyfile(source, d.inbox / f"Good {n}.epub")
        good.append(f"Good {n}.epub")
    shutil.copyfile(work / "good-0.epub", d.inbox / "Good 0 again.epub")
    odd = odd_entries(d, work)
    bombs = hostile_sidecars(d, work)
    long_name = "Ä" * 124 + ".epub"
    shutil.copyfile(book(work / "long.epub", "Long"), d.inbox / long_name)
    second_daemon(d)
    accepted = same_name_uploads(d, work)
    folder_named_upload(d, work)
    stalled_clients(d)
    upload_flood(d, work)
    wait(lambda: "queued" in {s["status"] for s in statuses(outbox)}, 30)
    time.sleep(3)
    workers = subprocess.run(["pgrep", "-P", str(d.process.pid)], capture_output=True, text=True).stdout.split()
    os.kill(d.process.pid, signal.SIGKILL)
    d.process.wait(10)
    survivors = [pid for pid in workers if wait(lambda: not Path(f"/proc/{pid}").exists(), 10) is False]
    check("after kill -9 no worker survives", not survivors, f"{len(workers)} workers, {len(survivors)} left")
    d.start()
    expected = set(good) | {"Good 0 again.epub", long_name} | set(odd) | set(bombs)
    finished = wait(lambda: all(by_source(outbox).get(name, {}).get("status") in ("completed", "failed")
                                for name in expected)
                    and not any(s["status"] in ("queued", "processing") for s in statuses(outbox)), 900)
    unfinished = [f"{s['source']} ({s['status']})" for s in statuses(outbox) if s["status"] in ("queued", "processing")]
    check("every job ended after the restart", finished, ", ".join(unfinished[:5]))
    final = by_source(outbox)
    check("every good book completed", all(final.get(n, {}).get("status") == "completed" for n in good))
    mp3s = {s["output_file"] for s in final.values() if s.get("status") == "completed" and not s.get("duplicate_of")}
    pair = (final.get("Good 0.epub", {}), final.get("Good 0 again.epub", {}))
    check("no book converted twice (one copy of Good 0 follows the other)",
          pair[0].get("duplicate_of") == pair[1].get("job_id") or pair[1].get("duplicate_of") == pair[0].get("job_id"),
          f"{len(mp3s)} audiobooks")
    check("each odd entry refused with a status saying what it is",
          all(final.get(n, {}).get("status") == "failed" for n in odd),
          "; ".join(f"{n}: {final.get(n, {}).get('error', 'NO STATUS')[:50]}" for n in odd))
    check("each hostile sidecar failed its book with a short message",
          all(final.get(n, {}).get("status") == "failed" and len(final[n]["error"]) < 300 for n in bombs))
    check("a 253-byte book name is converted", final.get(long_name, {}).get("status") == "completed")
    uploads = {s["job_id"]: s for s in statuses(outbox)}
    check("every accepted same-name upload has its own job",
          all(job_id in uploads or (work / "processing" / ".requests" / f"upload-{job_id}.json").exists()
              for job_id in accepted))
    check("planted status files touched nothing outside the folders",
          (victim / "precious.txt").read_text() == "keep me" and Path("/etc/hostname").exists())
    check("the daemon is up", d.alive() and requests.get(f"{d.url}/health", timeout=10).status_code == 200)
    memory = peak_rss_mb(d.process.pid)
    check("the daemon's memory stayed bounded (peak after the restart)", memory < 300, f"{memory:.0f} MB")
    d.stop()
    print(f"     (the hostile run: {time.monotonic() - started:.0f} s, {len(statuses(outbox))} status files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
