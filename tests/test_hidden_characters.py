"""Names from the inbox hold what their makers put there: terminal escapes, line breaks and
bidirectional overrides.  The daemon's own names leave them out; what it prints and logs
writes them out visibly."""

from __future__ import annotations

import json
import logging

from daemon.cli import main, setup_logging
from daemon.files import sanitize_filename, visible, without_hidden
from daemon.status import JobStatus, JobStore

from .daemon_helpers import write_config

RLO, ESC = "\u202e", "\x1b"
SPOOF = f"invoice{RLO}gpj.exe"  # shows as "invoiceexe.jpg"
HIDDEN = (ESC, RLO, "\u2066", "\u200f", "\u061c", "\x85", "\x7f", "\r")


def test_names_the_daemon_writes_leave_hidden_characters_out(tmp_path):
    assert without_hidden(f"{SPOOF}\u2066x\u2069\u200e\x85\x07") == "invoicegpj.exex"
    assert sanitize_filename(f"Dune{RLO}: {ESC}[31mMessiah") == "Dune - [31mMessiah"  # library folders, chapter files
    assert sanitize_filename(f"The Door{RLO}\u2067") == "The Door"
    store = JobStore(tmp_path)
    assert store.allocate_stem(f"sub{RLO}/{SPOOF}") == "sub/invoicegpj.exe"  # flat outputs, and their folders
    assert store.allocate_stem(f"{RLO}/..{RLO}/{RLO}") == "_/_/_"  # never an empty name, never '..'


def test_status_prints_and_the_log_writes_names_with_their_hidden_characters_written_out(tmp_path, capsys):
    config = write_config(tmp_path)
    (tmp_path / "outbox").mkdir()
    store = JobStore(tmp_path / "outbox")
    source = f"{ESC}]0;owned{ESC}\\{ESC}[2J{SPOOF}\u2066\u200f\u061c\x85\x7f\r.epub"
    job = store.create(source=source, source_sha256="", settings={}, status_file="x.json", job_key="k")
    job.status, job.error = JobStatus.FAILED, f"not an EPUB: {ESC}[31mred"
    store.save(job)
    assert main(["status", "--config", str(config)]) == 0
    listing = capsys.readouterr().out
    assert main(["status", "--config", str(config), job.job_id]) == 0
    record = capsys.readouterr().out
    for printed in (listing, record):
        assert not any(char in printed for char in HIDDEN), repr(printed)  # before: printed raw
        assert "\\u001b]0;owned" in printed and "invoice\\u202egpj.exe" in printed
    assert json.loads(record)["source"] == source  # the record is still JSON, meaning the same

    logger = logging.getLogger("daemon.test")
    try:
        setup_logging(logging.INFO)
        logger.info("job %s: read %s", job.job_id, source)
        try:
            raise ValueError(f"bad {ESC}[2J name")
        except ValueError:
            logger.exception("job %s: failed", job.job_id)
        logged = capsys.readouterr().err
    finally:
        logging.getLogger().handlers[:] = []
    assert not any(char in logged for char in HIDDEN), repr(logged)
    assert f"read \\u001b]0;owned" in logged and "bad \\u001b[2J name" in logged
    assert "Traceback (most recent call last):\n" in logged  # its own line breaks stay
