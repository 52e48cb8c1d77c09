"""The service configuration: built once at start-up, validated, frozen.

Sources, later ones winning: built-in defaults, the YAML file, environment
variables ``KOKORO_INBOX_<SECTION>_<KEY>``, command-line flags.  Unknown keys,
wrong types, bad values and overlapping folders stop start-up with a message
naming the key, before any thread or process starts.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Mapping

import yaml

from .errors import ConfigError, InvalidSetting
from .models import default_models_dir
from .settings import BookDefaults, check_config_value, config_keys, defaults_from_config

ENV_PREFIX = "KOKORO_INBOX_"


def _choice(*options: str) -> Callable[[str, Any], Any]:
    def check(key: str, value: Any) -> Any:
        if value not in options:
            raise ConfigError(f"{key}: {value!r} is not allowed; use one of {', '.join(options)}")
        return value
    return check


def _number(low: float, high: float, integer: bool = False) -> Callable[[str, Any], Any]:
    def check(key: str, value: Any) -> Any:
        ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
        if isinstance(value, bool) or not ok_type:
            kind = "a whole number" if integer else "a number"
            raise ConfigError(f"{key}: {value!r} must be {kind} from {low} to {high}")
        if not low <= value <= high:
            raise ConfigError(f"{key}: {value!r} is out of range; allowed is {low} to {high}")
        return value
    return check


def _optional(check: Callable[[str, Any], Any]) -> Callable[[str, Any], Any]:
    """``check``, or null (written null, or left empty in an environment variable)."""
    def optional(key: str, value: Any) -> Any:
        return None if value is None else check(key, value)
    return optional


def _text_checker(optional: bool = False) -> Callable[[str, Any], Any]:
    """The check of a text value (a path, a host, a token): non-empty text, or null if ``optional``."""
    def check(key: str, value: Any) -> Any:
        if value is None and optional:
            return None
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{key}: {value!r} must be text")
        return value
    check.text = True  # type: ignore[attr-defined]  # an environment value is taken as it is
    return check


def _bool(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{key}: {value!r} must be true or false")
    return value


def _host_names(key: str, value: Any) -> tuple[str, ...]:
    """A list of host names (or one comma-separated string, handy in an environment variable)."""
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() and " " not in v.strip()
                                              for v in value):
        raise ConfigError(f"{key}: {value!r} must be a list of host names, e.g. [nas.lan], or [\"*\"]")
    return tuple(v.strip().lower().rstrip(".") for v in value)


def _provider(key: str, value: Any) -> str:
    """auto | cpu | cuda; an ONNX Runtime provider's own name (older configs) still works."""
    if value in ("auto", "cpu", "cuda") or (isinstance(value, str) and value.endswith("ExecutionProvider")):
        return value
    raise ConfigError(f"{key}: {value!r} is not allowed; use auto, cpu or cuda")


def _scheduler_address(key: str, value: Any) -> str | None:
    """A Dask scheduler: tcp://host:port (tcp:// is assumed when left out; 8786 is Dask's port)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = value.strip() if isinstance(value, str) else ""
    if text and "://" not in text:
        text = f"tcp://{text}"
    match = re.fullmatch(r"(tcp|tls)://(\[[0-9a-fA-F:]+\]|[A-Za-z0-9_.-]+)(?::(\d{1,5}))?", text)
    if not match or (match[3] and not 0 < int(match[3]) < 65536):
        raise ConfigError(f"{key}: {value!r} is not a Dask scheduler address; the form is "
                          "tls://host:8786 (or tcp:// unencrypted), or null for the local worker processes")
    return text if match[3] else f"{text}:8786"


_scheduler_address.text = True  # type: ignore[attr-defined]  # an environment value is taken as it is

TLS_FILES = ("ca", "cert", "key")


def _tls_files(key: str, value: Any) -> tuple[str, str, str] | None:
    """executor.tls: this machine's certificate for the cluster, its key and the cluster's CA,
    all three or none (the files are read when a command joins the cluster)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ConfigError(f"{key}: must be a section of ca, cert and key (files from "
                          "'kokoro-inbox cluster-certs'), e.g. {ca: ca.pem, cert: pc1.pem, key: pc1-key.pem}")
    for unknown in set(value) - set(TLS_FILES):
        raise ConfigError(f"{key}.{unknown}: unknown key; allowed in {key}: {', '.join(TLS_FILES)}")
    files = {name: _text_checker(optional=True)(f"{key}.{name}", value.get(name)) for name in TLS_FILES}
    missing = [name for name, path in files.items() if path is None]
    if len(missing) == len(TLS_FILES):
        return None
    if missing:
        raise ConfigError(f"{key}: {', '.join(missing)} missing; give ca, cert and key together")
    return files["ca"], files["cert"], files["key"]


def _check_executor(address: str | None, tls: TlsFiles | None) -> None:
    """tls:// needs the certificates; certificates with a tcp:// address are a slip that would
    leave the cluster unencrypted."""
    if address and address.startswith("tls://") and tls is None:
        raise ConfigError(f"executor.address: {address} needs executor.tls (ca, cert and key: this "
                          "machine's certificate from 'kokoro-inbox cluster-certs')")
    if address and address.startswith("tcp://") and tls is not None:
        raise ConfigError(f"executor.address: {address} is unencrypted, but executor.tls gives "
                          f"certificates; write tls://{address[len('tcp://'):]}")


def _public_url(key: str, value: Any) -> str | None:
    """Where people reach the API from outside (a reverse proxy): http(s)://host[:port][/path]."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = value.strip().rstrip("/") if isinstance(value, str) else ""
    if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", text):
        raise ConfigError(f"{key}: {value!r} is not an http(s) URL such as https://books.example.org; "
                          "null builds links from api.host and api.port")
    return text


_public_url.text = True  # type: ignore[attr-defined]  # an environment value is taken as it is


def _notify_urls(key: str, value: Any) -> tuple[str, ...]:
    """Apprise URLs, each checked by Apprise itself, so a typo stops start-up, not a message."""
    from .notify import check_urls  # imports Apprise only when there is something to check

    if isinstance(value, str):  # one environment variable: URLs separated by spaces
        value = value.split()
    if value is None:
        value = []
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"{key}: must be a list of Apprise URLs, e.g. [ntfy://ntfy.sh/my-books]")
    return check_urls(key, [v.strip() for v in value])


_notify_urls.text = True  # type: ignore[attr-defined]  # an environment value is taken as it is (# and : stay)


def _notify_events(key: str, value: Any) -> tuple[str, ...]:
    from .notify import EVENTS

    if isinstance(value, str):
        value = [part.strip() for part in value.replace(",", " ").split()]
    if value is None:
        value = []
    if not isinstance(value, list) or not all(v in EVENTS for v in value):
        raise ConfigError(f"{key}: {value!r} is not allowed; use a list of {', '.join(EVENTS)}")
    return tuple(dict.fromkeys(value))


def _workers(key: str, value: Any) -> Any:
    if value == "auto":
        return value
    return _number(1, 256, integer=True)(key, value)


def _book_section(section: str) -> dict[str, tuple[Any, Callable[[str, Any], Any]]]:
    """A section of book defaults: its keys, defaults and checks are the settings model's
    (daemon/settings.py), so a sidecar and the config file accept the same values."""
    def checker(name: str) -> Callable[[str, Any], Any]:
        def check(key: str, value: Any) -> Any:
            try:
                return check_config_value(section, name, value)
            except InvalidSetting as error:  # named as the config file names it
                raise ConfigError(f"{key}: {error.message.partition(': ')[2]}") from None
        return check
    return {name: (default, checker(name)) for name, default in config_keys(section).items()}


# section -> key -> (default, checker). A section of None holds top-level keys.
SCHEMA: dict[str | None, dict[str, tuple[Any, Callable[[str, Any], Any]]]] = {
    "paths": {name: (name, _text_checker()) for name in ("inbox", "outbox", "archive", "failed", "processing")},
    "models": {
        "dir": (None, _text_checker(optional=True)),  # null: ./models if it has the files, else the XDG folder
        "variant": ("int8", _choice("int8", "fp32")),
        "provider": ("auto", _provider),
    },
    "executor": {
        "address": (None, _scheduler_address),
        "tls": ({name: None for name in TLS_FILES}, _tls_files),
        "interface": (None, _text_checker(optional=True)),  # an address or a network interface (eth0)
    },
    "watch": {
        "mode": ("auto", _choice("auto", "native", "polling")),
        "settle_seconds": (5, _number(0, 3600)),
        "rescan_seconds": (60, _number(1, 86400)),
        "poll_seconds": (1, _number(0.1, 3600)),
        "patience_seconds": (600, _number(0, 86400)),
        "read_seconds": (300, _number(0.1, 86400)),
    },
    "defaults": _book_section("defaults"),
    "speech": {
        **_book_section("speech"),
        "lexicon": (None, _text_checker(optional=True)),  # a file: read into BookDefaults.settings.pronounce
    },
    "output": _book_section("output"),
    "api": {
        "enabled": (True, _bool),
        "host": ("127.0.0.1", _text_checker()),
        "port": (8000, _number(1, 65535, integer=True)),
        "token": (None, _text_checker(optional=True)),
        "feed_token": (None, _text_checker(optional=True)),
        "max_upload_mb": (200, _number(1, 10240, integer=True)),
        "allowed_hosts": ([], _host_names),
        "max_concurrent_uploads": (4, _number(1, 64, integer=True)),
        "max_queue": (500, _number(1, 1_000_000, integer=True)),
        "header_timeout_seconds": (5, _number(1, 120)),
        "body_window_seconds": (10, _number(1, 600)),
        "body_min_bytes_per_second": (500, _number(0, 1 << 30)),
        "public_url": (None, _public_url),
    },
    "retention": {  # days after which the daemon removes what a job left; null keeps it for ever
        "outputs_days": (None, _optional(_number(1, 36500))),
        "archive_days": (None, _optional(_number(1, 36500))),
        "failed_days": (None, _optional(_number(1, 36500))),
        "status_days": (None, _optional(_number(1, 36500))),
    },
    "notify": {
        "urls": ([], _notify_urls),
        "events": (["completed", "failed"], _notify_events),
    },
    None: {
        "workers": ("auto", _workers),
        "threads_per_worker": (1, _number(1, 64, integer=True)),
        "after_success": ("archive", _choice("archive", "delete", "keep")),
        "skip_boilerplate": (True, _bool),
        "log_level": ("info", _choice("debug", "info", "warning", "error")),
    },
}


@dataclass(frozen=True)
class Retention:
    """Days after which the daemon removes what ended jobs left behind; None keeps it."""

    outputs_days: float | None = None  # completed jobs' audiobooks
    archive_days: float | None = None  # completed jobs' sources in archive/
    failed_days: float | None = None  # failed and cancelled jobs' sources in failed/
    status_days: float | None = None  # ended jobs' status files

    @property
    def enabled(self) -> bool:
        return any(days is not None for days in (self.outputs_days, self.archive_days,
                                                 self.failed_days, self.status_days))


@dataclass(frozen=True)
class Paths:
    inbox: Path
    outbox: Path
    archive: Path
    failed: Path
    processing: Path


@dataclass(frozen=True)
class TlsFiles:
    """This machine's certificate for the Dask cluster, its private key, and the cluster's CA."""

    ca: Path
    cert: Path
    key: Path


@dataclass(frozen=True)
class Config:
    paths: Paths
    models_dir: Path
    models_variant: str
    models_provider: str
    watch_mode: str
    settle_seconds: float
    rescan_seconds: float
    workers: int
    threads_per_worker: int
    after_success: str
    skip_boilerplate: bool
    api_enabled: bool
    api_host: str
    api_port: int
    api_token: str | None
    max_upload_mb: int
    log_level: str
    source: Path | None = None
    # every book's settings before its folders, sidecar, form or flags: defaults:, speech:, output:
    book_defaults: BookDefaults = BookDefaults()
    api_allowed_hosts: tuple[str, ...] = ()
    api_max_uploads: int = 4
    api_max_queue: int = 500
    api_header_timeout: float = 5.0
    api_body_window: float = 10.0
    api_body_min_rate: float = 500.0
    executor_address: str | None = None  # a Dask scheduler; None: the local worker processes
    executor_tls: TlsFiles | None = None  # for a tls:// scheduler
    executor_interface: str | None = None  # where this machine's Dask processes listen; None: see dask_security
    workers_auto: bool = False  # `workers: auto`, so a GPU may choose one worker instead
    api_public_url: str | None = None  # links in notifications and the feed (behind a reverse proxy)
    api_feed_token: str | None = None  # read-only: the feed, its audio, chapters, covers (feed_token())
    notify_urls: tuple[str, ...] = ()  # Apprise URLs (daemon/notify.py)
    notify_events: tuple[str, ...] = ("completed", "failed")
    poll_seconds: float = 1.0  # the polling watcher's interval (network mounts)
    patience_seconds: float = 600.0  # how long an incomplete file may keep being written
    read_seconds: float = 300.0  # the time budget for reading and planning one book
    retention: Retention = field(default_factory=Retention)


def _dotted(section: str | None, key: str) -> str:
    return f"{section}.{key}" if section else key


def _merge_file(values: dict[str, Any], data: Mapping[str, Any], origin: str) -> None:
    for name, item in data.items():
        if name in SCHEMA and name is not None:
            if item is None:
                continue
            if not isinstance(item, dict):
                raise ConfigError(f"{name}: must be a section of keys ({origin})")
            for key, value in item.items():
                if key not in SCHEMA[name]:
                    raise ConfigError(f"{name}.{key}: unknown key ({origin}); allowed in {name}: "
                                      f"{', '.join(SCHEMA[name])}")
                values[f"{name}.{key}"] = value
        elif name in SCHEMA[None]:
            values[name] = item
        else:
            known = [s for s in SCHEMA if s] + list(SCHEMA[None])
            raise ConfigError(f"{name}: unknown key ({origin}); known keys are {', '.join(known)}")


def _merge_env(values: dict[str, Any], environ: Mapping[str, str]) -> None:
    names = {(_dotted(s, k)).replace(".", "_").upper(): _dotted(s, k)
             for s, keys in SCHEMA.items() for k in keys}
    text_keys = {_dotted(s, k) for s, keys in SCHEMA.items() for k, (_, check) in keys.items()
                 if getattr(check, "text", False)}
    for variable, raw in environ.items():
        if not variable.startswith(ENV_PREFIX) or variable == ENV_PREFIX + "CACHE":
            continue
        dotted = names.get(variable[len(ENV_PREFIX):])
        if dotted is None:
            raise ConfigError(f"{variable}: unknown setting; the form is "
                              f"{ENV_PREFIX}<SECTION>_<KEY>, e.g. {ENV_PREFIX}API_PORT")
        if dotted in text_keys:  # a token "0123" is text, not the octal number 83
            values[dotted] = raw if raw.strip() else None
            continue
        try:
            values[dotted] = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            values[dotted] = raw


def load_config(path: Path | None = None, overrides: Mapping[str, Any] | None = None,
                environ: Mapping[str, str] | None = None) -> Config:
    """Defaults, then the file, then the environment, then ``overrides`` ('section.key')."""
    values: dict[str, Any] = {_dotted(s, k): d for s, keys in SCHEMA.items() for k, (d, _) in keys.items()}
    base = Path.cwd()
    if path is not None:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except OSError as error:
            raise ConfigError(f"cannot read the config file {path}: {error.strerror or error}") from None
        except yaml.YAMLError as error:
            raise ConfigError(f"{path} is not valid YAML: {error}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path} must be a mapping of sections and keys")
        _merge_file(values, data, str(path))
        base = path.resolve().parent
    _merge_env(values, os.environ if environ is None else environ)
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key] = value
    for section, keys in SCHEMA.items():
        for key, (_, check) in keys.items():
            dotted = _dotted(section, key)
            values[dotted] = check(dotted, values[dotted])

    def folder_of(text: str) -> Path:
        return (base / os.path.expanduser(text)).resolve()

    def folder(key: str) -> Path:
        return folder_of(values[key])

    paths = Paths(*(folder(f"paths.{n}") for n in ("inbox", "outbox", "archive", "failed", "processing")))
    _check_folders(paths)
    workers = values["workers"]
    tls_files = values["executor.tls"]
    tls = TlsFiles(*(folder_of(p) for p in tls_files)) if tls_files else None
    _check_executor(values["executor.address"], tls)
    config = Config(
        paths=paths, models_variant=values["models.variant"],
        models_dir=folder("models.dir") if values["models.dir"] else
        default_models_dir(base / "models", values["models.variant"]),
        models_provider=values["models.provider"], watch_mode=values["watch.mode"],
        settle_seconds=float(values["watch.settle_seconds"]),
        rescan_seconds=float(values["watch.rescan_seconds"]),
        poll_seconds=float(values["watch.poll_seconds"]),
        patience_seconds=float(values["watch.patience_seconds"]),
        read_seconds=float(values["watch.read_seconds"]),
        retention=Retention(*(values[f"retention.{k}"] for k in ("outputs_days", "archive_days",
                                                                 "failed_days", "status_days"))),
        workers=(os.cpu_count() or 1) if workers == "auto" else workers, workers_auto=workers == "auto",
        executor_address=values["executor.address"], executor_tls=tls,
        executor_interface=values["executor.interface"],
        threads_per_worker=values["threads_per_worker"],
        after_success=values["after_success"], skip_boilerplate=values["skip_boilerplate"],
        api_enabled=values["api.enabled"], api_host=values["api.host"], api_port=values["api.port"],
        api_token=values["api.token"], max_upload_mb=values["api.max_upload_mb"],
        api_allowed_hosts=values["api.allowed_hosts"], api_max_uploads=values["api.max_concurrent_uploads"],
        api_max_queue=values["api.max_queue"],
        api_header_timeout=float(values["api.header_timeout_seconds"]),
        api_body_window=float(values["api.body_window_seconds"]),
        api_body_min_rate=float(values["api.body_min_bytes_per_second"]),
        api_public_url=values["api.public_url"],
        api_feed_token=feed_token(values["api.token"], values["api.feed_token"]),
        notify_urls=values["notify.urls"], notify_events=values["notify.events"],
        log_level=values["log_level"], source=path,
        book_defaults=defaults_from_config(
            values, _lexicon(folder("speech.lexicon")) if values["speech.lexicon"] else ()),
    )
    return config


def feed_token(token: str | None, configured: str | None) -> str | None:
    """The token the feed and what it links to also accept: ``api.feed_token``, else one
    derived from ``api.token`` by a one-way function, so it stays the same across restarts
    and tells nothing of the admin token.  It reads, never writes: a podcast URL passed
    around must not let anyone upload or cancel."""
    if token is None:
        if configured is not None:
            raise ConfigError("api.feed_token is set but api.token is not; without api.token no endpoint "
                              "asks for a token, so set api.token too")
        return None
    if configured is None:
        return hmac.new(token.encode("utf-8"), b"kokoro-inbox feed", hashlib.sha256).hexdigest()[:32]
    if hmac.compare_digest(configured.encode("utf-8"), token.encode("utf-8")):
        raise ConfigError("api.feed_token must differ from api.token: the feed's token only reads")
    return configured


def _lexicon(path: Path) -> tuple:
    """The config's pronunciation lexicon, read and checked at start-up."""
    from daemon.speech.pronounce import parse_lexicon

    from .settings import load_sidecar

    try:
        return parse_lexicon(load_sidecar(path), f"speech.lexicon ({path})")
    except InvalidSetting as error:
        raise ConfigError(error.message) from None


def _check_folders(paths: Paths) -> None:
    """The watched inbox must not contain the daemon's own folders, nor they it."""
    named = {f.name: getattr(paths, f.name) for f in fields(paths)}
    inbox = named.pop("inbox")
    for name, folder in named.items():
        if folder == inbox:
            raise ConfigError(f"paths.{name} and paths.inbox are the same folder ({folder}); "
                              "they must be separate")
        if inbox in folder.parents:
            raise ConfigError(f"paths.{name} ({folder}) lies inside paths.inbox ({inbox}): the "
                              "watcher would take the daemon's own files as new books")
        if folder in inbox.parents:
            raise ConfigError(f"paths.inbox ({inbox}) lies inside paths.{name} ({folder}); "
                              "keep the inbox separate from the daemon's folders")
    seen: dict[Path, str] = {}
    for name, folder in named.items():
        if folder in seen:
            raise ConfigError(f"paths.{name} and paths.{seen[folder]} are the same folder ({folder})")
        seen[folder] = name
