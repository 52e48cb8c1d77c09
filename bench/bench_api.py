"""Benchmark the API under load: 50 clients polling while a book converts.

    .venv/bin/python bench/bench_api.py [--clients 50] [--book BOOK]

Converts the book through the daemon twice with the real model: once with no
clients, once with ``--clients`` threads each polling ``/status/{id}`` and
``/jobs`` every ``--interval`` seconds (the page polls every 2 s; the default
is twice as eager). Prints p50/p99 latency of the polls and the conversion's
slowdown. Targets: p99 under 50 ms, slowdown under 3%.  ``--interval 0.05``
is a stress test (about 650 requests/s on two cores), not polling.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from tests.daemon_helpers import Daemon, free_port  # noqa: E402

BENCH_BOOK = ROOT.parent / "shared" / "corpus" / "bench_jekyll-ch3-ch7.epub"


def convert(book: Path, clients: int, interval: float = 1.0) -> tuple[float, list[float]]:
    with tempfile.TemporaryDirectory() as work:
        daemon = Daemon(Path(work), engine="kokoro", api__enabled=True, api__port=free_port()).start()
        port = int(daemon.url.rsplit(":", 1)[1])
        with open(book, "rb") as handle:
            job_id = requests.post(f"{daemon.url}/convert", files={"file": (book.name, handle)},
                                   data={"voice": "af_heart"}).json()["job_id"]
        started = time.monotonic()
        latencies: list[float] = []
        stop = threading.Event()

        def client(number: int) -> None:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            paths = [f"/status/{job_id}", "/jobs"]
            count = 0
            while not stop.is_set():
                began = time.perf_counter()
                connection.request("GET", paths[(number + count) % 2])
                connection.getresponse().read()
                latencies.append(time.perf_counter() - began)
                count += 1
                time.sleep(max(0.0, interval - (time.perf_counter() - began)))

        threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
        for thread in threads:
            thread.start()
            time.sleep(interval / max(clients, 1))  # spread the clients over the interval
        while requests.get(f"{daemon.url}/status/{job_id}").json()["status"] not in ("completed", "failed"):
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        stop.set()
        for thread in threads:
            thread.join()
        daemon.stop()
        return elapsed, latencies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--book", type=Path, default=BENCH_BOOK)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between one client's polls")
    args = parser.parse_args()
    quiet, _ = convert(args.book, 0)
    print(f"{args.book.name} with no clients: {quiet:.1f} s")
    busy, latencies = convert(args.book, args.clients, args.interval)
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99)] * 1000
    print(f"with {args.clients} clients polling /status and /jobs every {args.interval} s: {busy:.1f} s; "
          f"{len(latencies)} requests ({len(latencies) / busy:.0f}/s), p50 {p50:.1f} ms, "
          f"p99 {p99:.1f} ms (target < 50 ms)")
    print(f"SLOWDOWN {100 * (busy / quiet - 1):+.1f}% (target < 3%)")


if __name__ == "__main__":
    main()
