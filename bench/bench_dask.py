"""Benchmark: one book on a Dask cluster against the local worker processes, on the same cores.

    .venv/bin/python bench/bench_dask.py [--book BOOK] [--workers 2] [--engine tone]

1. ``kokoro-inbox convert`` on local worker processes (``--workers N``, one thread each);
2. the same book through a real ``kokoro-inbox scheduler`` and N ``kokoro-inbox worker --nworkers 1
   --threads 1`` processes on this machine: characters/s of both and their ratio (target
   >= 0.95), counted from the first segment handed out to the MP3 in place (starting the
   workers is not part of it: a cluster's workers are up before the book arrives), in the
   order local, Dask, Dask, local; also per CPU-second of every process that took part;
3. the Dask path's cost per segment: round trips of a task that carries a real segment and
   returns the FLAC of that much speech without reading it, against an empty one, and
   what it would be across a 1 Gbit/s LAN;
4. the parent's rate turning FLAC checkpoints into the MP3 (with and without writing the
   checkpoint first, as it does): past that many characters/s, more workers do not help.

The machine may be shared: the load average is printed before and after each part.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import soundfile

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from daemon.converter import prepare  # noqa: E402
from daemon.synth.engine import SAMPLE_RATE, SegmentAudio, SegmentTask, encode_flac  # noqa: E402
from daemon.settings import BookSettings, output_options  # noqa: E402
from daemon.speech.spoken import SEGMENT_CHARS, plan_segments  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"
CLI = [sys.executable, "-m", "daemon"]
LAN_BITS_PER_SECOND = 1e9
LAN_ROUND_TRIP = 0.0003  # seconds, a switched home LAN
LAN_ROUND_TRIPS_PER_SEGMENT = 3  # task to the worker, result to the scheduler, and its ack


def load() -> str:
    return "load average %.2f %.2f %.2f" % os.getloadavg()


def _cpu_seconds() -> dict[int, float]:
    """CPU seconds of every process now, by pid (from /proc: the machine may be shared)."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                found[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
            except (OSError, IndexError, ValueError):
                continue
    return found


def _ours() -> set[int]:
    import psutil

    me = psutil.Process()
    return {me.pid} | {child.pid for child in me.children(recursive=True)}


class Others:
    """How much CPU processes other than this benchmark's took while a part ran."""

    def __enter__(self) -> "Others":
        self.before, self.started = _cpu_seconds(), time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        after, ours = _cpu_seconds(), _ours()
        self.seconds = sum(t - self.before.get(pid, 0.0) for pid, t in after.items() if pid not in ours)
        self.share = self.seconds / ((time.monotonic() - self.started) * (os.cpu_count() or 1))

    def __str__(self) -> str:
        warning = "  << the machine was not ours: figures unreliable" if self.share > 0.05 else ""
        return f"other processes took {self.seconds:.0f} CPU-s ({self.share:.0%} of the machine){warning}"


def env() -> dict[str, str]:
    found = {k: v for k, v in os.environ.items() if not k.startswith(("KOKORO_INBOX_", "DASK_"))}
    found["PYTHONPATH"] = str(ROOT)
    return found


def convert(book: Path, work: Path, name: str, workers: int, engine: str, *extra: str) -> dict:
    config = work / f"{name}.yaml"
    config.write_text(f"models:\n  dir: {ROOT / 'models'}\nworkers: {workers}\nthreads_per_worker: 1\n"
                      f"paths:\n  processing: {work / ('processing-' + name)}\n")
    report, output = work / f"{name}.json", work / f"{name}.mp3"
    started = time.monotonic()
    subprocess.run([*CLI, "convert", "--config", str(config), "--quiet", "--report", str(report),
                    "--engine", engine, "-o", str(output), *extra, str(book)],
                   check=True, env=env(), stderr=open(work / f"{name}.log", "w"))
    result = json.loads(report.read_text())
    result.update(wall_seconds=time.monotonic() - started, output=str(output))
    return result


class Cluster:
    """A kokoro-inbox scheduler and single-threaded kokoro-inbox workers on loopback."""

    def __init__(self, work: Path, workers: int, engine: str) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.work, self.workers, self.engine = work, workers, engine
        self.processes: list[subprocess.Popen] = []

    def __enter__(self) -> "Cluster":
        self.processes.append(subprocess.Popen(
            [*CLI, "scheduler", self.address],
            env=env(), stdout=subprocess.DEVNULL, stderr=open(self.work / "scheduler.log", "w")))
        config = self.work / "worker.yaml"
        config.write_text(f"models:\n  dir: {ROOT / 'models'}\n")
        logs = [self.work / f"worker-{n}.log" for n in range(self.workers)]
        started = time.monotonic()
        for log in logs:
            self.processes.append(subprocess.Popen(
                [*CLI, "worker", self.address, "--nworkers", "1", "--threads", "1", "--engine", self.engine,
                 "--config", str(config)], env=env(), stdout=subprocess.DEVNULL, stderr=open(log, "w")))
        while not all(" joined tcp://" in log.read_text() for log in logs):
            if time.monotonic() - started > 300:
                raise SystemExit("the workers did not join within 5 minutes; see " + str(self.work))
            time.sleep(0.2)
        print(f"  {self.workers} workers joined {self.address} in {time.monotonic() - started:.1f} s "
              "(model loaded)")
        return self

    def __exit__(self, *exc: object) -> None:
        for process in reversed(self.processes):
            process.terminate()
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


def _echo(task: SegmentTask, flac_path: str, frames: int) -> tuple:
    """Runs on a worker (pickled by value): a segment's round trip without the reading."""
    from pathlib import Path as _Path

    from daemon.synth.engine import SegmentAudio as _Audio

    flac = _Path(flac_path).read_bytes() if flac_path else b""
    return _Audio(flac, frames if flac else 0, sum(len(t) for t, _ in task.pieces), 0.0), "echo"


def overhead(address: str, task: SegmentTask, flac_path: Path, frames: int, rounds: int) -> dict:
    from distributed import Client

    with Client(address, set_as_default=False) as client:
        def trips(path: str) -> list[float]:
            times = []
            for _ in range(rounds):
                started = time.perf_counter()
                client.submit(_echo, task, path, frames, pure=False).result()
                times.append(time.perf_counter() - started)
            return times[2:]  # the first ones carry the function's own transfer

        full, empty = trips(str(flac_path)), trips("")
    flac = flac_path.read_bytes()
    audio = SegmentAudio(flac, frames, SEGMENT_CHARS, 1.0)
    started = time.perf_counter()
    for _ in range(20):
        pickle.loads(pickle.dumps((audio, "worker"), protocol=5))
    return {"round_trip": statistics.median(full), "empty_round_trip": statistics.median(empty),
            "pickle": (time.perf_counter() - started) / 20, "task_bytes": len(pickle.dumps(task)),
            "result_bytes": len(flac)}


def mp3_rate(flacs: list[bytes], frames: int, work: Path) -> tuple[float, float, float]:
    """Audio seconds the parent turns into the MP3 per second of wall time, as BookRun does it
    (checkpoint written, atomic and fsynced, then fed to BookAudio): at the model's level, and
    with the default loudness normalisation (meters, gain, limiter); and encoding alone."""
    from daemon.audio.book_audio import BookAudio
    from daemon.audio.formats import OutputOptions
    from daemon.files import atomic_write_bytes

    def rate(options: OutputOptions, write_checkpoints: bool) -> float:
        best = 0.0
        for _ in range(2):  # the better of two: warm caches
            folder = Path(tempfile.mkdtemp(dir=work, prefix="mp3-"))
            paths = [folder / f"segment-{n:05d}.flac" for n in range(len(flacs))]
            for path, flac in zip(paths, flacs):
                path.write_bytes(flac)
            book = BookAudio(folder / "out.mp3", options, ["Book"])
            started = time.perf_counter()
            for path, flac in zip(paths, flacs):
                if write_checkpoints:
                    atomic_write_bytes(path, flac)
                book.add(path, 0, False)
            book.close()  # flushes the encoder; tags are not what is measured
            best = max(best, frames * len(flacs) / SAMPLE_RATE / (time.perf_counter() - started))
            book.abort()
        return best

    quiet = output_options(BookSettings(loudness_lufs=None))
    return (rate(quiet, False), rate(quiet, True),
            rate(output_options(BookSettings()), True))


def measure(book: Path, work: Path, name: str, workers: int, engine: str, cluster: "Cluster",
            dask: bool) -> dict:
    """One conversion, with the CPU time of everything that took part in it and of everything else."""
    import resource

    import psutil

    helpers = [psutil.Process(p.pid) for p in cluster.processes]
    helpers += [child for helper in list(helpers) for child in helper.children(recursive=True)]

    def cluster_cpu() -> float:
        return sum(sum(h.cpu_times()[:2]) for h in helpers if h.is_running())

    before = (resource.getrusage(resource.RUSAGE_CHILDREN), cluster_cpu())
    with Others() as others:
        extra = ("--executor", cluster.address) if dask else ()
        result = convert(book, work, name, workers, engine, *extra)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    result["cpu"] = (after.ru_utime + after.ru_stime - before[0].ru_utime - before[0].ru_stime
                     + (cluster_cpu() - before[1] if dask else 0.0))
    result["others"] = others
    label = (f"Dask, scheduler + {workers} kokoro-inbox workers x 1 thread" if dask
             else f"local pool, {workers} workers x 1 thread")
    print(f"{label}: {result['seconds']:.1f} s converting ({result['wall_seconds']:.1f} s with "
          f"{'connecting' if dask else 'start-up'}), {result['chars_per_second']:.1f} characters/s, "
          f"{result['chars'] / result['cpu']:.1f} characters per CPU-second; {load()}; {others}", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--book", type=Path, default=CORPUS / "bench_jekyll-ch3-ch7.epub")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--engine", default="kokoro", help="tone: the pipeline without the model")
    parser.add_argument("--pairs", type=int, default=2,
                        help="local/Dask pairs, in the order local, Dask, Dask, local, ... so that a load "
                             "that rises or falls weighs on both alike (default 2)")
    parser.add_argument("--rounds", type=int, default=30, help="round trips measured for the overhead")
    args = parser.parse_args()

    prepared = prepare(args.book, BookSettings())
    chars = prepared.chars_total
    print(f"book: {args.book.name}, {chars} characters; {os.cpu_count()} CPUs; {load()}", flush=True)

    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        with Cluster(work, args.workers, args.engine) as cluster:  # idle while the local pool reads
            runs: dict[bool, list[dict]] = {False: [], True: []}
            order = [dask for n in range(args.pairs) for dask in ((False, True) if n % 2 == 0 else (True, False))]
            for n, dask in enumerate(order):
                runs[dask].append(measure(args.book, work, f"run{n}", args.workers, args.engine, cluster, dask))
            local_rate = statistics.mean(r["chars_per_second"] for r in runs[False])
            dask_rate = statistics.mean(r["chars_per_second"] for r in runs[True])
            per_cpu = (statistics.mean(r["chars"] / r["cpu"] for r in runs[True])
                       / statistics.mean(r["chars"] / r["cpu"] for r in runs[False]))
            lengths = {soundfile.info(r["output"]).frames for r in runs[False] + runs[True]}
            print(f"RATIO Dask / local = {dask_rate / local_rate:.3f} (target >= 0.95; means of {args.pairs} "
                  f"each); per CPU-second {per_cpu:.3f}; the same length of audio every time: {len(lengths) == 1}")

            dask = runs[True][-1]
            speech, _ = soundfile.read(dask["output"], dtype="float32")
            seconds_per_char = len(speech) / SAMPLE_RATE / chars
            segment = plan_segments(list(prepared.chapters), workers=args.workers)[0]
            frames = int(segment.chars * seconds_per_char * SAMPLE_RATE)
            flac_path = work / "segment.flac"
            flac_path.write_bytes(encode_flac(speech[:frames]))
            task = SegmentTask(segment.pieces, "af_heart", 1.0, "en-us")
            cost = overhead(cluster.address, task, flac_path, frames, args.rounds)

        per_thread = dask_rate / args.workers
        reading = segment.chars / per_thread
        lan = (cost["round_trip"] + LAN_ROUND_TRIPS_PER_SEGMENT * LAN_ROUND_TRIP
               + (cost["result_bytes"] + cost["task_bytes"]) * 8 / LAN_BITS_PER_SECOND)
        print(f"per segment ({segment.chars} characters, {frames / SAMPLE_RATE:.0f} s of speech): task "
              f"{cost['task_bytes']:,} bytes, FLAC {cost['result_bytes']:,} bytes; round trip on loopback "
              f"{cost['round_trip'] * 1000:.1f} ms (empty task {cost['empty_round_trip'] * 1000:.1f} ms; "
              f"pickling the result {cost['pickle'] * 1000:.2f} ms); across 1 Gbit/s about {lan * 1000:.0f} ms, "
              f"{lan / reading:.3%} of the {reading:.0f} s a worker thread takes to read it", flush=True)

        step = max(1, frames)
        flacs = [encode_flac(speech[start:start + step]) for start in range(0, len(speech) - step + 1, step)]
        flacs = (flacs * (1 + 12 // max(1, len(flacs))))[:12]  # about half an hour of speech
        with Others() as others:
            alone, with_checkpoints, normalised = mp3_rate(flacs, step, work)
        ceiling = normalised / seconds_per_char
        print(f"parent MP3 encoding: {alone:.0f}x real time alone, {with_checkpoints:.0f}x with the checkpoint "
              f"written first, {normalised:.0f}x with loudness normalisation as well (the default) = "
              f"{ceiling:,.0f} characters/s of this speech; at {per_thread:.1f} characters/s "
              f"per worker thread, more than about {ceiling / per_thread:,.0f} worker threads on one book "
              f"would wait for the parent; {load()}; {others}")


if __name__ == "__main__":
    main()
