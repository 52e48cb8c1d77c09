"""The ``kokoro-inbox`` command line.

Exit codes (README, "The command line"): 0 success, 1 conversion failed, 2 usage,
config or start-up error, 3 model files missing.  Every InboxError becomes its exit
code and one line on stderr here, and nowhere else.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import resource
import shlex
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from daemon.audio import library
from daemon.audio.book_audio import SUFFIXES
from daemon.service import scheduler
from daemon.speech.languages import LANGUAGES, VOICES
from daemon.speech.spoken import chapter_pieces
from daemon.synth.backends import make_executor
from daemon.synth.engine import EngineKind, quiet_phonemizer

from . import __version__, models
from .config import Config, load_config
from .console import JournalFormatter, VisibleFormatter, clock
from .converter import (
    ConversionResult,
    PreparedBook,
    Progress,
    convert,
    job_fingerprint,
    place,
    plan_fingerprint,
    prepare_book,
)
from .errors import InboxError, InvalidSetting, ModelMissing, StartupError
from .files import free_name, visible
from .settings import FORMATS, KEYS, LAYOUTS, SPLITS

log = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command in ("inspect", "status", "voices", "languages") and hasattr(signal, "SIGPIPE"):
        # `inspect --text | head` ends quietly; never for run or convert, whose pool uses pipes
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    setup_logging(logging.DEBUG if getattr(args, "verbose", False) else logging.INFO)
    try:
        return int(args.handler(args) or 0)
    except InboxError as error:
        print(f"kokoro-inbox: {visible(error.message)}", file=sys.stderr)
        return error.exit_code
    except OSError as error:  # a folder or file the command needs, in one sentence
        where = f" ({error.filename})" if error.filename else ""
        print(f"kokoro-inbox: {error.strerror or error}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nkokoro-inbox: interrupted; finished parts are kept, run the same command to resume",
              file=sys.stderr)
        return 130


def setup_logging(level: int) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if os.environ.get("JOURNAL_STREAM"):
        handler.setFormatter(JournalFormatter("%(name)s: %(message)s"))
    else:
        handler.setFormatter(VisibleFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("watchdog", "kokoro_onnx"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    quiet_phonemizer()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kokoro-inbox", description="EPUB to MP3 audiobooks with Kokoro.")
    parser.add_argument("--version", action="version", version=__version__)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, help="YAML config file (see config.example.yaml)")
    common.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add = commands.add_parser

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return add(name, help=help, parents=[common])

    convert_p = command("convert", "convert one book in the foreground")
    convert_p.add_argument("book", type=Path)
    convert_p.add_argument("-o", "--output", type=Path,
                           help="audiobook to write (default: beside the book; its suffix follows --format); with --layout audiobookshelf, "
                                "the library folder the book's Author/Title folder goes into "
                                "(default: the book's folder)")
    convert_p.add_argument("--layout", choices=LAYOUTS,
                           help="flat: one MP3; audiobookshelf: an Author/[Series/]Title folder with "
                                "cover and metadata.opf (default: config output.layout)")
    convert_p.add_argument("--format", choices=FORMATS,
                           help="mp3, or m4b: AAC with chapters (default: config output.format)")
    convert_p.add_argument("--split", choices=SPLITS,
                           help="one file, or 'NN - Title' files per chapter (default: config output.split)")
    convert_p.add_argument("--voice")
    convert_p.add_argument("--speed", type=float)
    convert_p.add_argument("--lang")
    convert_p.add_argument("--bitrate", type=int)
    convert_p.add_argument("--chapters", help="chapters to read, e.g. '1-3,7'")
    convert_p.add_argument("--workers", type=int, help="worker processes (default: config)")
    convert_p.add_argument("--executor", metavar="ADDRESS",
                           help="read on the workers of this Dask scheduler, e.g. tls://nas:8786 "
                                "(default: config executor.address, else worker processes here)")
    convert_p.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    convert_p.add_argument("--quiet", action="store_true", help="no progress bar")
    # For benchmarks: a JSON report of speed and peak memory, and the model-free engine.
    convert_p.add_argument("--report", type=Path, help=argparse.SUPPRESS)
    convert_p.add_argument("--engine", type=EngineKind, choices=list(EngineKind), default=EngineKind.KOKORO,
                           help=argparse.SUPPRESS)
    convert_p.add_argument("--segment-chars", type=int, help=argparse.SUPPRESS)  # bench/gpu_check.sh
    convert_p.set_defaults(handler=cmd_convert)

    inspect_p = command("inspect", "show what would be read (no model needed)")
    inspect_p.add_argument("book", type=Path)
    inspect_p.add_argument("--json", action="store_true")
    inspect_p.add_argument("--text", action="store_true", help="print the exact text to be spoken")
    inspect_p.add_argument("--phonemes", action="store_true",
                           help="print the phonemes the voice model receives (with your lexicon)")
    inspect_p.add_argument("--voice")
    inspect_p.add_argument("--lang")
    inspect_p.add_argument("--chapters", help="chapters to read, e.g. '1-3,7'")
    inspect_p.set_defaults(handler=cmd_inspect)

    models_p = command("models", "fetch or check the model files")
    models_p.add_argument("action", choices=("fetch", "check"))
    models_p.add_argument("--dir", type=Path, help="the models folder (default: config models.dir, else "
                          "./models if it holds the files, else ~/.local/share/kokoro-inbox/models)")
    models_p.set_defaults(handler=cmd_models)

    run_p = command("run", "the daemon: watch the inbox, convert books, serve the API")
    run_p.add_argument("--workers", type=int)
    run_p.add_argument("--executor", metavar="ADDRESS",
                       help="read on the workers of this Dask scheduler (default: config executor.address)")
    run_p.add_argument("--engine", type=EngineKind, choices=list(EngineKind), default=EngineKind.KOKORO,
                       help=argparse.SUPPRESS)
    run_p.set_defaults(handler=cmd_run)

    command("api", "serve the REST API on its own, over the daemon's folders").set_defaults(handler=cmd_api)

    worker_p = command("worker", "lend this machine's cores to a daemon's Dask scheduler (needs '.[dask]')")
    worker_p.add_argument("address", nargs="?", help="the scheduler, e.g. tls://nas.local:8786 "
                                                    "(default: config executor.address)")
    worker_p.add_argument("--nworkers", type=int, help="worker processes (default: config workers; "
                                                        "1 on a GPU)")
    worker_p.add_argument("--threads", type=int, help="ONNX Runtime threads in each worker process "
                                                      "(default: config threads_per_worker)")
    worker_p.add_argument("--engine", type=EngineKind, choices=list(EngineKind), default=EngineKind.KOKORO,
                          help=argparse.SUPPRESS)
    worker_p.set_defaults(handler=cmd_worker)

    scheduler_p = command("scheduler", "the Dask scheduler that the daemon and its workers meet at "
                                       "(needs '.[dask]')")
    scheduler_p.add_argument("address", nargs="?", help="where it serves, e.g. tls://nas.local:8786 "
                                                       "(default: config executor.address)")
    scheduler_p.add_argument("--dashboard", metavar="HOST:PORT",
                             help="also serve Dask's HTTP pages (state, metrics; unencrypted, no login) "
                                  "there, e.g. 127.0.0.1:8787; by default there are none")
    scheduler_p.set_defaults(handler=cmd_scheduler)

    certs_p = command("cluster-certs", "make the Dask cluster's CA and a certificate for each machine "
                                       "(never overwrites; prints what to copy where)")
    certs_p.add_argument("names", nargs="*", metavar="MACHINE",
                         help="a worker's machine to make a certificate for, e.g. pc-study")
    certs_p.add_argument("--dir", type=Path, default=Path("cluster-tls"),
                         help="the folder for the certificates (default: ./cluster-tls)")
    certs_p.add_argument("--address", help="the scheduler's address as the workers reach it, for the "
                                           "instructions (default: config executor.address when it is "
                                           "tls://, else tls://THIS-HOST:8786)")
    certs_p.set_defaults(handler=cmd_cluster_certs)

    status_p = command("status", "show jobs from the outbox status files")
    status_p.add_argument("job_id", nargs="?")
    status_p.set_defaults(handler=cmd_status)

    cancel_p = command("cancel", "cancel a queued or running job")
    cancel_p.add_argument("job_id")
    cancel_p.set_defaults(handler=cmd_cancel)

    command("voices", "list the voices").set_defaults(handler=cmd_voices)
    command("languages", "list the languages").set_defaults(handler=cmd_languages)
    return parser


def _config(args: argparse.Namespace, **overrides: Any) -> Config:
    return load_config(args.config, overrides)


# --------------------------------------------------------------------------- convert

def _flags(args: argparse.Namespace) -> dict[str, Any]:
    """The book settings given on the command line (the last layer, over sidecar and folders)."""
    return {name: getattr(args, name) for name in KEYS if getattr(args, name, None) is not None}


def _output_path(book: Path, explicit: Path | None, overwrite: bool, suffix: str) -> Path:
    if explicit is not None:
        if explicit.exists() and not overwrite:
            raise InvalidSetting(f"{explicit} exists; choose another --output or add --overwrite")
        return explicit
    return free_name(book.with_suffix(suffix))  # never overwrite an earlier audiobook


def _placement(args: argparse.Namespace, prepared: PreparedBook, fingerprint: str) -> library.Placement:
    """Where ``convert`` writes: for the library layout, a staging folder in the library
    folder (``--output``, else the book's folder), named by the job so a rerun resumes."""
    root = args.output if args.output is not None else args.book.absolute().parent
    if prepared.settings.layout == library.AUDIOBOOKSHELF and root.exists() and not root.is_dir():
        raise InvalidSetting(f"{root} is a file; with --layout audiobookshelf, --output is the library "
                             "folder that the book's Author/Title folder goes into")
    return place(root, prepared.source.stem, prepared, fingerprint)


def cmd_convert(args: argparse.Namespace) -> int:
    config = _config(args, workers=args.workers, **{"executor.address": args.executor,
                                                    "paths.processing": _convert_checkpoints(args)})
    _ensure_model(config, args.engine)
    executor = make_executor(config, args.engine, segment_chars=args.segment_chars)
    prepared = prepare_book(config, args.book, flags=_flags(args))
    fingerprint = job_fingerprint(prepared)
    placement = _placement(args, prepared, fingerprint)
    # a library book's audio goes where its placement says; a flat one where --output says
    output = None if placement.staged else \
        _output_path(args.book, args.output, args.overwrite, SUFFIXES[prepared.settings.format])
    job_dir = config.paths.processing / checkpoint_folder(prepared, args.engine, config.models_variant)
    print(visible(f"{prepared.title} by {prepared.author or 'unknown author'}: {len(prepared.chapters)} chapters, "
                  f"{prepared.chars_total:,} characters, voice {prepared.settings.voice}, "
                  f"language {prepared.settings.lang}"), file=sys.stderr)
    bar = None if args.quiet or not sys.stderr.isatty() else ProgressBar(prepared)
    # the daemon's pipeline, in the foreground (daemon/converter.py)
    result = convert(prepared, placement, job_dir, executor, scheduler.convert,
                     on_progress=bar.update if bar else _log_progress(prepared), output=output)
    if bar:
        bar.close()
    rate = result.chars_total / max(result.seconds, 1e-6)
    if args.report:
        _write_report(args.report, result)
    written = f"{result.output.parent} ({len(result.outputs)} files)" if len(result.outputs) > 1 else result.output
    print(visible(f"wrote {written} ({clock(result.audio_seconds)} of audio, "
                  f"{len(result.chapters)} chapters) in {clock(result.seconds)}, {rate:.1f} characters/s"
                  + (f"; resumed {result.segments_resumed} finished segments" if result.segments_resumed else "")),
          file=sys.stderr)
    return 0


def checkpoint_folder(prepared: PreparedBook, engine: EngineKind, variant: str) -> str:
    """Where ``convert`` keeps a book's checkpoints: named by what is read (the plan's
    identity), so a rerun in another bitrate, format or title takes them, and by the voice
    that reads it (the engine and the model's variant), so no other voice's audio is taken."""
    voice_model = variant if engine is EngineKind.KOKORO else engine.value
    return f"convert-{voice_model}-{plan_fingerprint(prepared)[:16]}"


def _convert_checkpoints(args: argparse.Namespace) -> str | None:
    """Where ``convert`` keeps what it has read so far: without a config, in the user's cache
    rather than a ``processing/`` folder in whatever folder it was run from."""
    if args.config is not None or "KOKORO_INBOX_PATHS_PROCESSING" in os.environ:
        return None
    return str(models.cache_dir() / "processing")


def _ensure_model(config: Config, engine: EngineKind) -> None:
    """The model files, or an offer to fetch them on a terminal (elsewhere: the command, exit 3)."""
    if engine is not EngineKind.KOKORO or config.executor_address:
        return  # the stand-in engines need none; Dask workers have their own
    folder = config.models_dir
    variant = config.models_variant if (folder / models.model_name(config.models_variant)).exists() else "int8"
    if not models.problems(folder, variant, tagger=False):
        return
    command = f"kokoro-inbox models fetch --dir {shlex.quote(str(folder))}"
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        raise ModelMissing(f"the Kokoro model files are not in {folder}; fetch them (about 125 MB) with: {command}")
    sys.stderr.write(f"The Kokoro model files (about 125 MB) are not in {folder}. Fetch them now? [Y/n] ")
    sys.stderr.flush()
    if sys.stdin.readline().strip().lower() not in ("", "y", "yes"):
        raise ModelMissing(f"no model files; fetch them when you like with: {command}")
    for path in models.fetch(folder, config.models_variant):
        print(f"ok  {path}", file=sys.stderr)


def _write_report(path: Path, result: ConversionResult) -> None:
    """Speed and peak memory (parent, and the largest worker) for bench/."""
    to_mb = 1 / 1024  # ru_maxrss is in KiB on Linux
    report = {
        "chars": result.chars_total, "seconds": result.seconds, "audio_seconds": result.audio_seconds,
        "chars_per_second": result.chars_total / max(result.seconds, 1e-6),
        "parent_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * to_mb,
        "worker_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * to_mb,
    }
    path.write_text(json.dumps(report, indent=2))



def _log_progress(prepared: PreparedBook) -> Callable[[Progress], None]:
    last = [0.0]

    def report(progress: Progress) -> None:
        now = time.monotonic()
        if now - last[0] >= 10 or progress.chars_done >= progress.chars_total:
            last[0] = now
            log.info("%s: %.1f%% (chapter %d), %.1f characters/s", prepared.source.name,
                     progress.percent, progress.chapter, progress.chars_per_second)
    return report


class ProgressBar:
    """One redrawn line on a terminal: chapter, percent, characters/s, ETA."""

    def __init__(self, prepared: PreparedBook) -> None:
        self.prepared = prepared

    def update(self, progress: Progress) -> None:
        width = 24
        filled = int(width * progress.percent / 100)
        eta = clock(progress.eta_seconds) if progress.eta_seconds is not None else "--:--"
        title = progress.chapter_title[:28]
        line = (f"\r[{'#' * filled}{'.' * (width - filled)}] {progress.percent:5.1f}% "
                f"ch {progress.chapter} {title!s:28} {progress.chars_per_second:5.1f} ch/s ETA {eta}")
        sys.stderr.write(line)
        sys.stderr.flush()

    def close(self) -> None:
        sys.stderr.write("\n")


# --------------------------------------------------------------------------- inspect

def cmd_inspect(args: argparse.Namespace) -> int:
    config = _config(args)
    prepared = prepare_book(config, args.book, flags=_flags(args))
    book = prepared.book
    if args.text or args.phonemes:
        to_phonemes = _phonemizer(prepared, config) if args.phonemes else None
        for chapter in prepared.chapters:
            print(f"=== {chapter.index}. {chapter.title}")
            for text, _ in chapter_pieces(chapter, prepared.settings.lang):
                print(to_phonemes(text) if to_phonemes else text)
        return 0
    record = {
        "title": book.title, "author": book.author, "language": book.language,
        "lang": prepared.settings.lang, "voice": prepared.settings.voice,
        "settings": prepared.settings.as_record(),
        "cover": bool(book.cover), "warnings": list(book.warnings),
        "chars_total": prepared.chars_total,
        "chapters": [{"index": c.index, "title": c.title, "chars": c.chars,
                      "skipped": c.skip_reason} for c in book.chapters],
        "not_read": dict(book.skipped),
    }
    if args.json:
        print(json.dumps(record, indent=2, ensure_ascii=False))
        return 0
    print(f"{book.title}\nby {book.author or 'unknown author'}")
    print(_language_decision(prepared))
    print(f"{prepared.chars_total:,} characters to read; cover: {'yes' if book.cover else 'no'}\n")
    for chapter in book.chapters:
        note = f"  (skipped: {chapter.skip_reason})" if chapter.skip_reason else ""
        print(f"{chapter.index:4}  {chapter.title[:60]:60} {chapter.chars:8,}{note}")
    if book.skipped:
        print("\nnot read aloud: " + "; ".join(f"{why} ({chars:,} characters)" for why, chars in book.skipped))
    for warning in book.warnings:
        print(f"warning: {warning}")
    return 0


def _phonemizer(prepared: PreparedBook, config: Config) -> Callable[[str], str]:
    """What the model receives for a piece: the G2P's phonemes with the lexicon spliced in."""
    from kokoro_onnx.tokenizer import Tokenizer

    from daemon.speech.g2p import Phonemizer
    from daemon.speech.pronounce import phonemes

    reader = Phonemizer(config.models_dir, Tokenizer().phonemize)
    lang, lexicon = prepared.settings.lang or "en-us", prepared.settings.pronounce
    print(f"(phonemes by {reader.reader_name(lang)})")
    return lambda text: phonemes(text, lang, lexicon, reader)


def _language_decision(prepared: PreparedBook) -> str:
    """How the language and the voice were chosen, in a line."""
    asked = prepared.requested
    settings = prepared.settings
    if asked.lang:
        why_lang = "asked for in a sidecar, a folder.yaml or --lang"
    elif prepared.book.language:
        why_lang = f"from the book's language {prepared.book.language!r}"
    else:
        why_lang = "the configured default: the book names no language"
    why_voice = "asked for" if asked.voice else f"the default voice for {settings.lang}"
    return f"read as {settings.lang} ({why_lang}); voice {settings.voice} ({why_voice})"


# --------------------------------------------------------------------------- daemon

def cmd_run(args: argparse.Namespace) -> int:
    from daemon.service.main import run_service

    config = _config(args, workers=args.workers, **{"executor.address": args.executor})
    logging.getLogger().setLevel(config.log_level.upper())
    return run_service(config, engine_kind=args.engine)


def cmd_api(args: argparse.Namespace) -> int:
    """The API without the daemon (the daemon runs elsewhere over the same folders).

    A port in use or a bad address is one sentence and exit code 2 (StartupError)."""
    from daemon.api.app import ApiServer, create_app

    config = _config(args)
    server = ApiServer(create_app(config), config.api_host, config.api_port)
    stop: list[bool] = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    server.start()
    try:
        while not stop and server.alive():
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    server.stop()
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """Dask workers on this machine, with the model of its own models folder."""
    if args.nworkers is not None and not 1 <= args.nworkers <= 256:
        raise InvalidSetting("--nworkers must be from 1 to 256")
    config = _config(args, threads_per_worker=args.threads, **{"executor.address": args.address})
    try:
        from daemon.synth.dask_security import (
            address_towards,
            cluster_security,
            listen_on,
            warn_if_unencrypted,
        )
        from daemon.synth.dask_worker import Membership, default_worker_count, serve, worker_engine
    except ImportError as error:
        raise StartupError(f"the worker needs Dask ({error.name} is not installed): "
                           "pip install 'kokoro-inbox[dask]'") from None
    address = _cluster_address(config, "kokoro-inbox worker tls://nas:8786")
    warn_if_unencrypted(address)
    listen = listen_on(config.executor_interface) or {"host": address_towards(address)}
    cluster = Membership(address, cluster_security(config), listen)
    engine = worker_engine(config, args.engine)
    return serve(cluster, args.nworkers or default_worker_count(config, engine), engine)


def _cluster_address(config: Config, example: str) -> str:
    if config.executor_address is None:
        raise InvalidSetting(f"which scheduler? give its address ({example}) or set executor.address "
                             "in the config")
    return config.executor_address


def cmd_scheduler(args: argparse.Namespace) -> int:
    """The Dask scheduler, with the cluster's TLS, listening at its own address only."""
    config = _config(args, **{"executor.address": args.address})
    try:
        from daemon.synth.dask_scheduler import serve_scheduler
    except ImportError as error:
        raise StartupError(f"the scheduler needs Dask ({error.name} is not installed): "
                           "pip install 'kokoro-inbox[dask]'") from None
    _cluster_address(config, "kokoro-inbox scheduler tls://nas.local:8786")
    return serve_scheduler(config, args.dashboard)


def cmd_cluster_certs(args: argparse.Namespace) -> int:
    try:
        from daemon.synth.cluster_certs import instructions, make_cluster_certs
    except ImportError as error:
        raise StartupError(f"making certificates needs {error.name}: pip install 'kokoro-inbox[dask]'") from None
    address = args.address or _config(args).executor_address or ""
    if not address.startswith("tls://"):
        address = f"tls://{socket.gethostname()}:8786"
    members = make_cluster_certs(args.dir.absolute(), args.names)
    print(instructions(members, address))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from .status import JobStore

    store = JobStore(_config(args).paths.outbox)  # read only: no journal
    store.load()
    if args.job_id:  # names are the inbox's, so anything in them is written out, never obeyed
        job = store.get(args.job_id)
        if job is None:
            print(visible(f"kokoro-inbox: no job {args.job_id} in {store.outbox}"), file=sys.stderr)
            return 1
        print(visible(json.dumps(job.record(), indent=2, ensure_ascii=False), keep="\n"))
        return 0
    for job in sorted(store.jobs.values(), key=lambda j: j.created_at, reverse=True):
        detail = job.error or job.output_file or ""
        print(visible(f"{job.job_id}  {job.status:10} {job.progress:5.1f}%  {job.source}  {detail}"))
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    from .mailbox import Mailbox
    from .status import is_job_id

    if not is_job_id(args.job_id):
        raise InvalidSetting(f"{args.job_id[:60]!r} is not a job id; 'kokoro-inbox status' lists them")
    Mailbox(_config(args).paths.processing).request_cancel(args.job_id)
    print(f"asked the daemon to cancel {args.job_id}")
    return 0


# --------------------------------------------------------------------------- models, lists

def cmd_models(args: argparse.Namespace) -> int:
    config = _config(args)
    if args.dir is not None:
        config = dataclasses.replace(config, models_dir=args.dir.expanduser().resolve())
    if args.action == "fetch":
        for path in models.fetch(config.models_dir, config.models_variant):
            print(f"ok  {path}")
        return 0
    found = models.problems(config.models_dir, config.models_variant)
    if found:
        for problem in found:
            print(f"kokoro-inbox: {problem}", file=sys.stderr)
        return 3
    print(f"ok  model files in {config.models_dir} are complete and verified")
    return 0


def cmd_voices(args: argparse.Namespace) -> int:
    print("\n".join(VOICES))
    return 0


def cmd_languages(args: argparse.Namespace) -> int:
    for code, language in LANGUAGES.items():
        print(f"{code:6} {language.name:22} default voice {language.default_voice}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
