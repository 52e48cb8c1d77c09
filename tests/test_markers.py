"""The markers are written on the tests; the conftest refuses a test whose fixtures call for one it lacks."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CONFTEST = Path(__file__).with_name("conftest.py")


@pytest.fixture
def guarded(pytester: pytest.Pytester) -> pytest.Pytester:
    """A test folder with this project's conftest and markers, and stand-ins for its fixtures."""
    pytester.makeini("[pytest]\naddopts = --strict-markers\nmarkers =\n    model\n    processes\n")
    pytester.makeconftest(CONFTEST.read_text() + "\n\n@pytest.fixture\ndef served():\n    return None\n")
    return pytester


def test_a_test_using_the_daemon_without_its_marker_fails_collection_naming_the_marker(guarded):
    guarded.makepyfile(test_late="def test_added_later(daemon):\n    pass\n")
    result = guarded.runpytest_inprocess("-m", "not model and not processes")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*test_added_later: add @pytest.mark.processes (it uses daemon)*"])


def test_a_test_using_the_model_without_its_marker_fails_collection_naming_the_marker(guarded):
    guarded.makepyfile(test_late="import pytest\n\n@pytest.mark.processes\n"
                                 "def test_added_later(served, real_models):\n    pass\n")
    result = guarded.runpytest_inprocess()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*test_added_later: add @pytest.mark.model (it uses real_models)*"])


def test_marked_tests_are_collected_and_model_tests_are_queued(guarded):
    guarded.makepyfile(test_marked="import pytest\n\npytestmark = pytest.mark.processes\n\n"
                                   "def test_a(daemon):\n    pass\n\n"
                                   "@pytest.mark.model\ndef test_b(served, real_models):\n    pass\n")
    items, recorder = guarded.inline_genitems()
    assert not recorder.getfailedcollections()
    queues = {item.name: [mark.args for mark in item.iter_markers("xdist_group")] for item in items}
    assert queues == {"test_a": [], "test_b": [("model",)]}


@pytest.mark.processes  # its marked test starts a Python child
def test_a_logic_test_that_starts_a_process_fails_naming_the_marker(guarded):
    guarded.makepyfile(test_late="""
import multiprocessing
import subprocess
import sys

import pytest


def test_runs_the_cli():
    subprocess.run([sys.executable, "-c", "pass"])


def test_starts_a_worker():
    multiprocessing.get_context("spawn").Process(target=print).start()


@pytest.mark.processes
def test_marked():
    assert subprocess.run([sys.executable, "-c", "pass"]).returncode == 0
""")
    result = guarded.runpytest_inprocess()
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(["*test_runs_the_cli starts a process: add @pytest.mark.processes*",
                                 "*test_starts_a_worker starts a process: add @pytest.mark.processes*"])
