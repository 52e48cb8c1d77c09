"""Many books on one executor: the oldest book first, no worker idle between books.

One book keeps every worker busy; the next book's segments start as soon as the
first has none left to hand out.  When a worker dies (killed, out of memory),
the executor says which segment it was reading: that segment is retried, and a
segment that has killed its worker MAX_STRIKES times fails its book with the
signal named, while the other books go on.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from typing import Hashable

from daemon.converter import BookRun, ConversionResult
from daemon.errors import InboxError, SynthesisFailed
from daemon.synth.executors import Outcome, SegmentExecutor

log = logging.getLogger(__name__)

MAX_STRIKES = 3  # a segment whose worker dies this many times fails its book


@dataclass(frozen=True)
class RunEvent:
    run: BookRun
    result: ConversionResult | None = None
    error: InboxError | None = None


class Scheduler:
    def __init__(self, executor: SegmentExecutor) -> None:
        self.executor = executor
        self.runs: list[BookRun] = []
        self.in_flight: dict[Hashable, tuple[BookRun, int]] = {}
        self._serial = itertools.count()
        self._run_ids: dict[int, int] = {}  # id(run) -> serial, so keys never repeat

    def add(self, run: BookRun) -> None:
        self._run_ids[id(run)] = next(self._serial)
        self.runs.append(run)

    @property
    def busy(self) -> bool:
        return bool(self.runs)

    def problem(self) -> str | None:
        return self.executor.problem()

    def remove(self, run: BookRun) -> None:
        """Take a book out (cancelled, failed, shutting down); its segments in flight are dropped."""
        if run in self.runs:
            self.runs.remove(run)
        for key, (owner, _) in list(self.in_flight.items()):
            if owner is run:
                self.executor.forget(key)
                del self.in_flight[key]
        self._run_ids.pop(id(run), None)

    def close(self) -> None:
        self.executor.close()

    def step(self, timeout: float) -> list[RunEvent]:
        """Hand out work, wait up to ``timeout`` for some to finish, return the books that ended."""
        events = self._finished_runs()
        self._fill()
        if not self.in_flight and not self.runs:
            return events
        # with books waiting and nothing in flight (a cluster with no worker yet), this
        # still waits: the executor tends its connection, and the caller does not spin
        for outcome in self.executor.wait(timeout):
            events += self._settle(outcome)
        return events + self._finished_runs()

    def _fill(self) -> None:
        for run in self.runs:
            while run.pending and len(self.in_flight) < self.executor.capacity:
                index = run.pending.popleft()
                key = (self._run_ids[id(run)], index)
                self.in_flight[key] = (run, index)
                self.executor.submit(key, run.task(index))

    def _settle(self, outcome: Outcome) -> list[RunEvent]:
        owner = self.in_flight.pop(outcome.key, None)
        if owner is None or owner[0] not in self.runs:
            return []
        run, index = owner
        if outcome.death is not None:
            return self._worker_died(run, index, outcome)
        if outcome.error is not None:
            return [self._fail(run, outcome.error)]
        assert outcome.audio is not None
        try:
            run.completed(index, outcome.audio)
        except InboxError as error:
            return [self._fail(run, error)]
        return []

    def _worker_died(self, run: BookRun, index: int, outcome: Outcome) -> list[RunEvent]:
        assert outcome.death is not None
        cause = outcome.death.cause
        strikes = run.strikes[index] = run.strikes.get(index, 0) + 1
        log.warning("%s: a worker process died (%s) while reading segment %d (%s); %s", run.label,
                    cause, index, outcome.death.worker,
                    "giving up on it" if strikes >= MAX_STRIKES else f"retrying it ({strikes} of {MAX_STRIKES})")
        if strikes >= MAX_STRIKES:
            return [self._fail(run, SynthesisFailed(
                f"a worker process was killed ({cause}) {MAX_STRIKES} times while reading segment "
                f"{index} of the book; is the machine out of memory? Finished parts are kept, so "
                "dropping the book again resumes"))]
        run.pending.appendleft(index)
        return []

    def _fail(self, run: BookRun, error: InboxError) -> RunEvent:
        self.remove(run)
        run.abort(keep_checkpoints=True)
        return RunEvent(run, error=error)

    def _finished_runs(self) -> list[RunEvent]:
        events = []
        for run in [r for r in self.runs if r.complete]:
            self.remove(run)
            try:
                events.append(RunEvent(run, result=run.finish()))
            except InboxError as error:
                events.append(RunEvent(run, error=error))
        return events


def convert(run: BookRun, executor: SegmentExecutor) -> ConversionResult:
    """One book in the foreground (``kokoro-inbox convert``); raises InboxError on failure.

    The executor is started here and closed on the way out, whatever happens.
    """
    scheduler = Scheduler(executor)
    try:
        executor.start()
        scheduler.add(run)
        while True:
            for event in scheduler.step(timeout=1.0):
                if event.error is not None:
                    raise event.error
                assert event.result is not None
                return event.result
    except BaseException:
        scheduler.remove(run)
        run.abort(keep_checkpoints=True)
        raise
    finally:
        scheduler.close()
