"""One book across a Dask cluster: a real ``kokoro-inbox scheduler`` and real ``kokoro-inbox worker``
processes on loopback, the stand-in engines unless the model is the point."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pytest
import requests
import soundfile
import yaml

pytest.importorskip("distributed", reason="the [dask] extra is not installed")
psutil = pytest.importorskip("psutil")

from distributed import Client, Security  # noqa: E402
from distributed.core import rpc  # noqa: E402

from daemon.config import load_config  # noqa: E402
from daemon.errors import ConfigError  # noqa: E402
from daemon.synth.cluster_certs import make_cluster_certs  # noqa: E402
from daemon.synth.dask_worker import FileId, ModelIdentity, refusal  # noqa: E402

from .daemon_helpers import ROOT, Daemon, free_port  # noqa: E402
from .epubs import simple_book  # noqa: E402

# ~200 characters each: one piece, which tone-slow reads in 0.3 s whatever its length
PARAGRAPHS = [f"Paragraph {n}: the lamps were lit along the street, the fog came in slowly from the "
              "river, and the lawyer walked on past the shuttered shops, thinking of the door and of "
              "the man who had gone in by it." for n in range(40)]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KOKORO_INBOX_", "DASK_"))}
    env["PYTHONPATH"] = str(ROOT)
    return env


def _wait(condition: Callable[[], bool], timeout: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    tail = log.read_text()[-3000:] if log is not None and log.exists() else ""
    raise AssertionError(f"timed out waiting for {what}\n{tail}")


def _stop(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # anything left of it
    except ProcessLookupError:
        pass
    process.wait(5)


def _tls_config(path: Path, certs: Path, name: str, **extra: object) -> Path:
    """A config file with executor.tls: the certificate ``name`` of the cluster in ``certs``."""
    tls = {"ca": str(certs / "ca.pem"), "cert": str(certs / f"{name}.pem"), "key": str(certs / f"{name}-key.pem")}
    path.write_text(yaml.safe_dump({"executor": {"tls": tls}, **extra}))
    return path


class SchedulerProcess:
    """``kokoro-inbox scheduler`` on a loopback port, which can be stopped and started again."""

    def __init__(self, base: Path, protocol: str = "tcp", config: Path | None = None) -> None:
        self.port = free_port()
        self.address = f"{protocol}://127.0.0.1:{self.port}"
        self.config = ["--config", str(config)] if config else []
        self.log = base / "scheduler.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> "SchedulerProcess":
        self.process = subprocess.Popen(
            [sys.executable, "-m", "daemon", "scheduler", self.address, *self.config],
            env=_env(), stdout=open(self.log, "a"), stderr=subprocess.STDOUT, start_new_session=True)
        _wait(self._listening, 30, "the scheduler to listen", self.log)
        return self

    def _listening(self) -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", self.port)) == 0

    def stop(self) -> None:
        _stop(self.process)


class WorkerCommand:
    """``kokoro-inbox worker ADDRESS --nworkers N`` as a process."""

    def __init__(self, base: Path, address: str, count: int, engine: str, models: Path | None = None,
                 certs: Path | None = None) -> None:
        self.base = base
        base.mkdir(parents=True, exist_ok=True)
        self.config = base / "worker.yaml"
        folder = {"models": {"dir": str(models or ROOT / "models")}}
        if certs:
            _tls_config(self.config, certs, "pc-study", **folder)
        else:
            self.config.write_text(yaml.safe_dump(folder))
        self.command = [sys.executable, "-m", "daemon", "worker", address, "--nworkers", str(count),
                        "--engine", engine, "--config", str(self.config)]
        self.count = count
        self.log = base / "worker.log"
        self.process: subprocess.Popen | None = None

    def start(self, wait: bool = True) -> "WorkerCommand":
        self.process = subprocess.Popen(self.command, cwd=self.base, env=_env(), stdout=open(self.log, "a"),
                                        stderr=subprocess.STDOUT, start_new_session=True)
        if wait:
            self.wait_joined(self.count)
        return self

    def joined(self) -> int:
        return self.log.read_text().count(" joined ") if self.log.exists() else 0

    def wait_joined(self, count: int, timeout: float = 90) -> None:
        _wait(lambda: self.joined() >= count, timeout, f"{count} workers to join", self.log)

    def reader_pids(self) -> list[int]:
        """The Dask worker processes (not the resource tracker the nannies also start)."""
        assert self.process is not None
        return [child.pid for child in psutil.Process(self.process.pid).children()
                if "spawn_main" in " ".join(child.cmdline())]

    def stop(self) -> None:
        _stop(self.process)


@pytest.fixture
def cluster(tmp_path):
    """A started scheduler, and a maker of worker commands for it; everything stopped after."""
    scheduler = SchedulerProcess(tmp_path).start()
    commands: list[WorkerCommand] = []

    def workers(count: int = 2, engine: str = "tone-slow", models: Path | None = None,
                wait: bool = True) -> WorkerCommand:
        command = WorkerCommand(tmp_path / f"workers-{len(commands)}", scheduler.address, count, engine, models)
        commands.append(command)
        return command.start(wait)

    yield scheduler, workers
    for command in commands:
        command.stop()
    scheduler.stop()


def _book(path: Path, paragraphs: list[str] = PARAGRAPHS[:24]) -> Path:
    half = len(paragraphs) // 2
    return simple_book(path, [("One", paragraphs[:half]), ("Two", paragraphs[half:])])


def _convert(tmp_path: Path, book: Path, output: Path, *options: str,
             models: Path | None = None, certs: Path | None = None) -> subprocess.Popen:
    config = tmp_path / "configs" / f"{output.stem}.yaml"  # not beside the book: that is its sidecar
    config.parent.mkdir(exist_ok=True)
    settings = {"models": {"dir": str(models or ROOT / "models")}, "workers": 2,
                "paths": {"processing": str(tmp_path / f"processing-{output.stem}")}}
    if certs:
        _tls_config(config, certs, "scheduler", **settings)
    else:
        config.write_text(yaml.safe_dump(settings))
    log = open(tmp_path / f"{output.stem}.log", "w")
    return subprocess.Popen([sys.executable, "-m", "daemon", "convert", "--config", str(config), "--quiet",
                             "-o", str(output), *options, str(book)],
                            cwd=tmp_path, env=_env(), stdout=log, stderr=subprocess.STDOUT, text=True)


def _finish(process: subprocess.Popen, tmp_path: Path, output: Path, timeout: float = 120) -> str:
    process.wait(timeout)
    text = (tmp_path / f"{output.stem}.log").read_text()
    assert process.returncode == 0, text[-3000:]
    return text


def _frames(tmp_path: Path, book: Path) -> int:
    """The book's length read with the tone engine by local worker processes: the reference."""
    reference = tmp_path / "reference.mp3"
    _finish(_convert(tmp_path, book, reference, "--engine", "tone"), tmp_path, reference)
    return soundfile.info(str(reference)).frames


def _checkpoints(tmp_path: Path, output: Path) -> list[Path]:
    return list((tmp_path / f"processing-{output.stem}").glob("*/segment-*.flac"))


# --------------------------------------------------------------------------- the real model

@pytest.mark.model
@pytest.mark.processes
def test_the_tiny_book_through_dask_workers_with_the_real_model(tmp_path, cluster, real_models):
    scheduler, workers = cluster
    workers(2, engine="kokoro", models=real_models)
    book = simple_book(tmp_path / "tiny.epub", [
        ("The Door", ["Mr. Utterson the lawyer was a man of a rugged countenance."]),
        ("The Street", ["The street was small and what is called quiet."])])
    output = tmp_path / "tiny.mp3"
    log = _finish(_convert(tmp_path, book, output, "--executor", scheduler.address, models=real_models),
                  tmp_path, output, timeout=300)
    audio, rate = soundfile.read(str(output))
    assert rate == 24000 and 4 < len(audio) / rate < 25, f"{len(audio) / rate:.1f} s for 122 characters"
    assert float((audio ** 2).mean()) ** 0.5 > 0.01, "speech, not silence"
    assert "segments read per worker" in log


@pytest.mark.model
@pytest.mark.processes
def test_a_worker_with_another_model_file_refuses_its_segments_and_the_book_waits(tmp_path, cluster,
                                                                                  real_models):
    """Not a corrupt file (that one would not load): a loadable model with one weight changed."""
    scheduler, workers = cluster
    other = tmp_path / "other-models"
    other.mkdir()
    model = other / "kokoro-v1.0.int8.onnx"
    shutil.copyfile(real_models / "kokoro-v1.0.int8.onnx", model)
    with open(model, "r+b") as handle:  # the middle of the file is weight data: it still loads
        handle.seek(model.stat().st_size // 2)
        byte = handle.read(1)
        handle.seek(-1, os.SEEK_CUR)
        handle.write(bytes([byte[0] ^ 1]))
    for name in ("voices-v1.0.bin", "en_core_web_sm-3.8.0"):
        (other / name).symlink_to(real_models / name)
    command = workers(1, engine="kokoro", models=other)
    assert "is not a known release" in command.log.read_text()
    book = simple_book(tmp_path / "b.epub", [("One", ["Hello there."])])
    output = tmp_path / "refused.mp3"
    process = _convert(tmp_path, book, output, "--executor", scheduler.address, models=real_models)
    log = tmp_path / "refused.log"
    waiting = f"no Dask worker at {scheduler.address} can read for this daemon, so books wait"
    try:
        _wait(lambda: waiting in log.read_text() or process.poll() is not None, 120, "the book to wait", log)
        assert process.poll() is None, "waits for a worker that can read, rather than fail"
    finally:
        process.kill()
        process.wait(10)
    text = log.read_text()
    assert "would read in another voice than the daemon" in text
    assert "its kokoro-v1.0.int8.onnx (92,361,271 bytes" in text and "not a known release" in text
    assert "Copy the daemon's model files" in text
    assert not output.exists()


@pytest.mark.processes
def test_a_worker_with_other_files_is_kept_out_and_the_book_waits_for_a_good_one(tmp_path, cluster):
    """A worker that would read in another voice (here another engine, as one with other model
    files would) refuses a segment, is named once and gets no more: alone, the book waits; a good
    worker that joins reads it all, even after it is killed and comes back at a new address."""
    scheduler, workers = cluster
    workers(1, engine="tone")
    book = _book(tmp_path / "book.epub", PARAGRAPHS[:16])
    output = tmp_path / "kept-out.mp3"
    process = _convert(tmp_path, book, output, "--engine", "tone-slow", "--executor", scheduler.address)
    log = tmp_path / "kept-out.log"
    waiting = f"no Dask worker at {scheduler.address} can read for this daemon, so books wait"
    _wait(lambda: waiting in log.read_text() or process.poll() is not None, 60, "the book to wait", log)
    assert process.poll() is None, log.read_text()[-2000:]
    good = workers(1)
    _wait(lambda: _checkpoints(tmp_path, output), 60, "the good worker's first segment", log)
    os.kill(good.reader_pids()[0], signal.SIGKILL)  # what was restricted to its old address is stranded
    text = _finish(process, tmp_path, output)
    assert re.search(r"a worker process died \(signal 9, SIGKILL\) while reading segment \d+ .*; retrying it "
                     r"\(1 of 3\)", text), "the segment it was reading is blamed, whatever was restricted"
    refused = "reads with the tone engine but the daemon asks for tone-slow"
    assert text.count(refused) == 2 and "Until then it gets no segments from this daemon" in text, \
        "named once in a warning, once in the reason for waiting"
    [readers] = re.findall(r"segments read per worker: (.*)", text)
    assert len(readers.split(", ")) == 1, readers
    chars = int(re.search(r"([\d,]+) characters, voice", text)[1].replace(",", ""))
    assert soundfile.info(str(output)).duration >= chars / 15, "no segment missing (tone: 1/15 s a character)"


# --------------------------------------------------------------------------- who may join

@pytest.mark.processes
def test_a_tls_cluster_reads_a_book_and_refuses_whoever_has_no_certificate_of_its_ca(tmp_path):
    certs = tmp_path / "certs"
    make_cluster_certs(certs, ["pc-study"])  # as `kokoro-inbox cluster-certs pc-study` (test_cluster_tls.py)
    scheduler = SchedulerProcess(tmp_path, "tls", _tls_config(tmp_path / "scheduler.yaml", certs, "scheduler"))
    worker = WorkerCommand(tmp_path / "workers", scheduler.address, 1, "tone", certs=certs)
    try:
        scheduler.start()
        worker.start()
        book = _book(tmp_path / "book.epub", PARAGRAPHS[:6])
        output = tmp_path / "tls.mp3"
        _finish(_convert(tmp_path, book, output, "--engine", "tone", "--executor", scheduler.address,
                         certs=certs), tmp_path, output)
        assert soundfile.info(str(output)).duration > 10

        ports = _listening(scheduler.process) + _listening(worker.process)
        assert {host for host, _ in ports} == {"127.0.0.1"}, f"loopback only, not 0.0.0.0: {ports}"
        assert [port for _, port in _listening(scheduler.process)] == [scheduler.port], "no HTTP server"
        assert len(ports) == 3, f"the scheduler, the nanny, the worker; no HTTP pages: {ports}"
        for _, port in ports:  # a stranger with no certificate is refused; the same call with one is answered
            with pytest.raises(OSError, match="before comm was established"):
                _identity(port, certs, None)
            assert _identity(port, certs, "scheduler")["type"] in ("QuietScheduler", "ReportingNanny", "QuietWorker")
        stranger = make_cluster_certs(tmp_path / "strangers", ["intruder"])[-1]
        with pytest.raises(OSError, match="UNKNOWN_CA|EOF occurred"):  # a certificate, but of another CA
            Client(scheduler.address, timeout=5, set_as_default=False, security=Security(
                require_encryption=True, tls_ca_file=str(certs / "ca.pem"),
                tls_client_cert=str(stranger.cert), tls_client_key=str(stranger.key)))
        with pytest.raises(OSError):  # no TLS at all
            Client(f"tcp://127.0.0.1:{scheduler.port}", timeout=5, set_as_default=False)
        assert "TLS handshake failed" in scheduler.log.read_text()
    finally:
        worker.stop()
        scheduler.stop()


def _listening(process: subprocess.Popen | None) -> list[tuple[str, int]]:
    """The (address, port) of every listening TCP socket of ``process`` and its children."""
    assert process is not None
    parent = psutil.Process(process.pid)
    return sorted((c.laddr.ip, c.laddr.port) for p in [parent, *parent.children(recursive=True)]
                  for c in p.net_connections(kind="tcp") if c.status == psutil.CONN_LISTEN)


def _identity(port: int, certs: Path, name: str | None) -> dict:
    """Ask the Dask process on ``port`` who it is, over TLS with the certificate ``name`` or none."""
    context = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    context.check_hostname = False  # the cluster's certificates name machines, not 127.0.0.1
    if name:
        context.load_cert_chain(certs / f"{name}.pem", certs / f"{name}-key.pem")

    async def ask() -> dict:
        async with rpc(f"tls://127.0.0.1:{port}", connection_args={"ssl_context": context}, timeout=5) as remote:
            return await remote.identity()
    return asyncio.run(ask())


# --------------------------------------------------------------------------- faults and elasticity

@pytest.mark.processes
def test_a_worker_killed_mid_book_is_blamed_and_the_book_is_whole(tmp_path, cluster):
    scheduler, workers = cluster
    command = workers(2)
    book = _book(tmp_path / "book.epub")
    expected = _frames(tmp_path, book)
    output = tmp_path / "killed.mp3"
    process = _convert(tmp_path, book, output, "--engine", "tone-slow", "--executor", scheduler.address)
    _wait(lambda: _checkpoints(tmp_path, output), 60, "the first finished segment")
    victim = command.reader_pids()[0]
    os.kill(victim, signal.SIGKILL)
    log = _finish(process, tmp_path, output)
    assert soundfile.info(str(output)).frames == expected, "no gap, no duplicate"
    assert re.search(r"a worker process died \(signal 9, SIGKILL\) while reading segment \d+ "
                     rf"\(worker \S+ \(tcp://127\.0\.0\.1:\d+, pid {victim}\)\); retrying it \(1 of 3\)", log), log
    _wait(lambda: len(command.reader_pids()) == 2, 30, "its nanny to start it again", command.log)
    assert victim not in command.reader_pids()


@pytest.mark.processes
def test_a_segment_that_kills_every_worker_fails_its_book_naming_the_signal(tmp_path, cluster):
    scheduler, workers = cluster
    workers(2, engine="tone-crash")
    book = _book(tmp_path / "doomed.epub", PARAGRAPHS[:6] + ["Here the worker will CRASH."] + PARAGRAPHS[6:10])
    output = tmp_path / "doomed.mp3"
    process = _convert(tmp_path, book, output, "--engine", "tone-crash", "--executor", scheduler.address)
    process.wait(120)
    text = (tmp_path / "doomed.log").read_text()
    assert process.returncode == 1, text[-2000:]
    assert re.search(r"killed \(signal 9, SIGKILL\) 3 times while reading segment \d+ of the book", text), text
    assert not output.exists()


@pytest.mark.processes
def test_a_worker_that_joins_mid_book_takes_segments_at_once(tmp_path, cluster):
    scheduler, workers = cluster
    workers(1)
    book = _book(tmp_path / "long.epub", PARAGRAPHS[:40])
    output = tmp_path / "joined.mp3"
    process = _convert(tmp_path, book, output, "--engine", "tone-slow", "--executor", scheduler.address)
    _wait(lambda: "connected to the Dask scheduler" in (tmp_path / "joined.log").read_text(), 60,
          "the conversion to start")
    late = workers(1, wait=False)
    log = _finish(process, tmp_path, output)
    counts = re.search(r"segments read per worker: (.*)", log)
    assert counts, log
    readers = dict(part.rsplit(": ", 1) for part in counts[1].split(", "))
    assert len(readers) == 2 and all(int(n) > 0 for n in readers.values()), counts[1]
    assert late.joined() == 1


@pytest.mark.processes
def test_the_scheduler_stopped_mid_book_pauses_the_daemon_and_the_book_completes(tmp_path, cluster):
    scheduler, workers = cluster
    workers(2)
    port = free_port()
    # its client gives up reconnecting after 3 s, so the daemon's own reconnection is what brings it back
    daemon = Daemon(tmp_path / "daemon", engine="tone-slow", api__enabled=True, api__port=port,
                    executor__address=scheduler.address, env={"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "3s"})
    book = _book(tmp_path / "Paused.epub")
    expected = _frames(tmp_path, book)
    try:
        daemon.start()
        assert "reading on the Dask scheduler at " + scheduler.address in daemon.log.read_text()
        shutil.copyfile(book, daemon.inbox / "Paused.epub")
        daemon.wait_for(lambda: any(s["chars_done"] for s in daemon.statuses()), 60, "the book to start")

        scheduler.stop()
        health = _wait_health(port, lambda code, reason: code == 503 and "lost the Dask scheduler" in reason)
        assert "books are paused" in health
        time.sleep(5)  # past the client's own attempts
        [status] = daemon.statuses()
        assert status["status"] == "processing" and status["error"] is None, "paused, not failed"

        scheduler.start()
        [status] = daemon.wait_finished(1, timeout=120)
        assert status["status"] == "completed", status
        _wait_health(port, lambda code, reason: code == 200)
    finally:
        daemon.stop()
    assert soundfile.info(str(daemon.outbox / "Paused.mp3")).frames == expected
    log = daemon.log.read_text()
    assert "segments in flight wait for the Dask scheduler" in log and "is back; resubmitting" in log


def _wait_health(port: int, wanted: Callable[[int, str], bool], timeout: float = 60) -> str:
    seen: list[str] = []

    def check() -> bool:
        answer = requests.get(f"http://127.0.0.1:{port}/health", timeout=5)
        seen.append(f"{answer.status_code} {answer.json()['reason']}")
        return wanted(answer.status_code, answer.json()["reason"])

    _wait(check, timeout, f"/health to change (last: {seen[-1:]})")
    return seen[-1]


# --------------------------------------------------------------------------- the small parts

def test_the_scheduler_address_in_the_config():
    def address(value: object) -> str | None:
        return load_config(None, {"executor.address": value}, environ={}).executor_address

    assert address("tcp://nas.local:8786") == "tcp://nas.local:8786"
    assert address("nas.local") == "tcp://nas.local:8786"
    assert address("192.168.1.5:9000") == "tcp://192.168.1.5:9000"
    assert load_config(None, environ={"KOKORO_INBOX_EXECUTOR_ADDRESS": "tcp://h:1"}).executor_address == "tcp://h:1"
    assert load_config(None, environ={}).executor_address is None
    with pytest.raises(ConfigError, match="not a Dask scheduler address"):
        address("http://nas.local")


def test_a_refusal_names_both_files_and_what_to_do():
    ours = FileId("kokoro-v1.0.int8.onnx", 10, "a" * 64, "kokoro-onnx model-files-v1.0")
    theirs = FileId("kokoro-v1.0.int8.onnx", 10, "b" * 64, "not a known release")
    voices = FileId("voices-v1.0.bin", 5, "c" * 64)
    wanted = ModelIdentity("kokoro", ours, voices, "misaki")
    assert refusal(wanted, wanted, "worker pc") is None
    assert refusal(ModelIdentity("kokoro", ours, voices, "misaki"), ModelIdentity("kokoro", FileId(
        ours.name, ours.size, ours.sha256, "another label"), voices, "misaki"), "w") is None, "labels don't count"
    why = refusal(ModelIdentity("kokoro", theirs, voices, "espeak-ng"), wanted, "worker pc")
    assert why.startswith("worker pc would read in another voice")
    assert "SHA-256 bbbbbbbbbbbbbbbb" in why and "SHA-256 aaaaaaaaaaaaaaaa" in why
    assert "reads English with espeak-ng, the daemon with misaki" in why
    assert "tone-slow engine" in refusal(ModelIdentity("tone-slow"), ModelIdentity("tone"), "w")


@pytest.mark.processes
@pytest.mark.parametrize("unit", ["kokoro-inbox-worker.service", "kokoro-inbox-scheduler.service"])
def test_the_worker_and_scheduler_units_pass_systemd_analyze(tmp_path, unit):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed on this machine")
    text = (ROOT / "systemd" / unit).read_text()
    # verify checks that ExecStart exists; point it at this checkout's venv
    (tmp_path / unit).write_text(text.replace("/opt/kokoro-inbox/.venv/bin/", str(ROOT / ".venv/bin") + "/"))
    result = subprocess.run(["systemd-analyze", "verify", str(tmp_path / unit)], capture_output=True, text=True)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
