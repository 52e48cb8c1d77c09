"""Shared fixtures. Tests that need the real model use the ``real_models`` fixture."""

from __future__ import annotations

import os
import signal
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


# Tests that start real daemons, worker pools, schedulers or servers: seconds each, so
# `make test` runs them and `make test-fast` (the logic alone) leaves them out.
PROCESS_FIXTURES = {"daemon", "served"}
PROCESS_MODULES = {"test_dask", "test_web_page", "test_api_faults", "test_scheduler", "test_resume"}


# The longest model tests (minutes each on two cores), queued apart from the other model tests.
LONG_MODEL_TESTS = {
    "tests/test_convert_e2e.py::test_a_2000_character_sentence_is_read_whole",
    "tests/test_convert_e2e.py::test_a_killed_conversion_resumes_from_its_checkpoints",
    "tests/test_convert_e2e.py::test_cli_converts_a_book_into_a_tagged_chaptered_mp3",
}


def pytest_collection_modifyitems(items):
    for item in items:
        if PROCESS_FIXTURES & set(getattr(item, "fixturenames", ())) or \
                item.module.__name__.rpartition(".")[2] in PROCESS_MODULES:
            item.add_marker(pytest.mark.processes)
        if "real_models" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.model)
            # Under `pytest -n 4 --dist loadgroup` the CPU-bound model tests run in two queues
            # (the longest three in one), while the other workers run the mostly-waiting
            # daemon tests: the two cores stay busy without four model tests at once.
            queue = "model-long" if item.nodeid in LONG_MODEL_TESTS else "model"
            item.add_marker(pytest.mark.xdist_group(queue))


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
