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

from daemon.status import Job  # noqa: E402
from tests.daemon_helpers import Daemon, free_port  # noqa: E402
from tests.epubs import simple_book  # noqa: E402

TEXT = [f"Paragraph {n}: the lamps were lit along the street, and the fog came in slowly." for n in range(8)]
results: list[tuple[str, bool, str]] = []


def check(case: str, ok: bool, detail: str = "") -> None:
    results.append((case, ok, detail))
    print(f"{'ok  ' if ok else 'FAIL'} {case}{': ' + detail if detail else ''}", flush=True)


def book(path: Path, title: str, paragraphs: list[str] = TEXT) -> Path:
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
        began = time.perf_counter()
        try:
            requests.get(f"{d.url}/health", timeout=10)
            latencies.append(time.perf_counter() - began)
        except requests.RequestException:
            latencies.append(10.0)
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


# --------------------------------------------------------------------------- the run

def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--books", type=int, default=10)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kokoro-faults-"))
    try:
        return run(work, args.books)
    finally:
        shutil.rmtree(work, ignore_errors=True)


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
    failed = [case for case, ok, _ in results if not ok]
    print(f"\n{len(results) - len(failed)} of {len(results)} cases handled in {time.monotonic() - started:.0f} s; "
          f"{len(statuses(outbox))} status files")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
