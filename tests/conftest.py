"""Shared fixtures, and the guard that every test carries the markers its fixtures call for.

Tests that need the real model use the ``real_models`` fixture and ``@pytest.mark.model``."""

from __future__ import annotations

import multiprocessing.process
import os
import signal
import subprocess
from pathlib import Path

import pytest

from daemon import models
from daemon.files import ignore_lease_breaks

# As the daemon does: in-process watcher and disposal tests take read leases, and a test
# writing into a file in the instant one is held would otherwise end this pytest worker.
ignore_lease_breaks()

ROOT = Path(__file__).resolve().parents[1]
REAL_MODELS = ROOT / "models"


@pytest.fixture(scope="session")
def real_models() -> Path:
    """The verified model files that `make models` put in ./models.

    Missing files fail the test run (a skipped end-to-end test proves nothing);
    KOKORO_INBOX_TESTS_WITHOUT_MODEL=1 turns that into a skip for quick local runs.
    """
    found = models.problems(REAL_MODELS, "int8")
    if found:
        if os.environ.get("KOKORO_INBOX_TESTS_WITHOUT_MODEL") == "1":
            pytest.skip("model files missing: " + " ".join(found))
        pytest.fail("model files missing (run 'make models'): " + " ".join(found))
    return REAL_MODELS


# A test says what it is with its markers, written on it: `@pytest.mark.model` (the real model,
# minutes) and `@pytest.mark.processes` (it starts the daemon, the worker pool, the book reader, a
# server or the CLI: seconds), or a module's `pytestmark` when every test in it is one.
# `make test-fast` (`-m "not model and not processes"`) leaves both out. This file only guards:
# a test that takes one of these fixtures without its marker fails collection, naming both.
MARKER_FOR_FIXTURE = {
    "real_models": "model",
    "daemon": "processes",  # daemon processes (below)
    "served": "processes",  # a daemon with its API (test_api.py)
    "api": "processes",  # the API on its own (test_api_faults.py)
    "cluster": "processes",  # a Dask scheduler and workers (test_dask.py)
}

# The longest model tests (minutes each on two cores), queued apart from the other model tests.
LONG_MODEL_TESTS = {
    "tests/test_convert_e2e.py::test_a_2000_character_sentence_is_read_whole",
    "tests/test_convert_e2e.py::test_a_killed_conversion_resumes_from_its_checkpoints",
    "tests/test_convert_e2e.py::test_cli_converts_a_book_into_a_tagged_chaptered_mp3",
}


def missing_markers(item: pytest.Item) -> list[str]:
    """What a test lacks: "add @pytest.mark.model (it uses real_models)", one line per marker."""
    fixtures = set(getattr(item, "fixturenames", ()))
    marked = {mark.name for mark in item.iter_markers()}
    lacking: dict[str, list[str]] = {}
    for fixture, marker in MARKER_FOR_FIXTURE.items():
        if fixture in fixtures and marker not in marked:
            lacking.setdefault(marker, []).append(fixture)
    return [f"add @pytest.mark.{marker} (it uses {', '.join(used)})" for marker, used in lacking.items()]


@pytest.hookimpl(wrapper=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object):
    """A test without the markers its fixtures call for is a collection error of its module:
    it stops every run (`-m` selections included) and says which marker to add."""
    made = yield
    items = made if isinstance(made, list) else [made]
    unmarked = [f"{item.name}: {'; '.join(lacking)}" for item in items
                if isinstance(item, pytest.Function) and (lacking := missing_markers(item))]
    if unmarked:
        raise collector.CollectError("tests without the markers their fixtures call for:\n  "
                                     + "\n  ".join(unmarked))
    return made


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("model") is not None:
            # Under `pytest -n 4 --dist loadgroup` the CPU-bound model tests run in two queues
            # (the longest three in one), while the other workers run the mostly-waiting
            # daemon tests: the two cores stay busy without four model tests at once.
            queue = "model-long" if item.nodeid in LONG_MODEL_TESTS else "model"
            item.add_marker(pytest.mark.xdist_group(queue))


@pytest.fixture(autouse=True)
def processes_only_where_marked(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A logic test (neither `model` nor `processes`) that starts a process fails, saying which
    marker to add: a test that reaches the worker pool or the CLI without a fixture above
    would otherwise slip into `make test-fast` unmarked."""
    if request.node.get_closest_marker("processes") or request.node.get_closest_marker("model"):
        return
    # Importing kokoro_onnx runs ldconfig once (phonemizer's dlinfo calls
    # ctypes.util.find_library): done before the guard, so the first test that reads a
    # lexicon is not blamed for it, whichever test that happens to be.
    import kokoro_onnx  # noqa: F401

    def refuse(*args: object, **kwargs: object) -> None:
        pytest.fail(f"{request.node.nodeid} starts a process: add @pytest.mark.processes", pytrace=False)

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)
    monkeypatch.setattr(multiprocessing.process.BaseProcess, "start", refuse)


@pytest.fixture
def daemon(tmp_path):
    """Make real daemon processes over tmp_path (``daemon(**config).start()``); all are killed after."""
    from .daemon_helpers import Daemon

    started: list[Daemon] = []

    def make(**options) -> Daemon:
        instance = Daemon(tmp_path, **options)
        started.append(instance)
        return instance

    yield make
    for instance in started:
        if instance.alive():
            instance.stop(signal.SIGKILL)
