"""A segment executor without processes, for the scheduler's logic.

It keeps ``SegmentExecutor``'s promises the way ``LocalPool`` does, but in this
process and in a fixed order, so a test can say exactly what the scheduler did:
segments are read in the order they were submitted, ``workers`` of them on each
``wait``, each as a quarter of a second of tone (the scheduler never listens, and
short audio keeps these tests fast).  A segment whose text holds one of the
words in ``deaths`` "kills the worker" reading it (an outcome with a SIGKILL
``WorkerDeath``, as the pool reports one), as many times as the word's count,
and is then read like any other; one holding a word in ``failures`` comes back
as a ``SynthesisFailed``.  What happened to each key is logged, in order.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Hashable

import numpy as np

from daemon.errors import SynthesisFailed
from daemon.synth.engine import SAMPLE_RATE, SegmentAudio, SegmentTask, encode_flac
from daemon.synth.executors import QUEUE_PER_WORKER, Outcome, Shape, WorkerDeath

SIGKILL = "signal 9, SIGKILL"
_TONE = (0.2 * np.sin(2 * np.pi * 220 * np.arange(SAMPLE_RATE // 4) / SAMPLE_RATE)).astype(np.float32)
_FLAC = encode_flac(_TONE)


def tone_audio(text: str) -> SegmentAudio:
    """What the fake executor reads any segment as."""
    return SegmentAudio(_FLAC, len(_TONE), len(text), seconds=0.0)


@dataclass
class FakeExecutor:
    workers: int = 2
    queue_per_worker: int = QUEUE_PER_WORKER  # as LocalPool: one segment read, one waiting
    deaths: dict[str, int] = field(default_factory=dict)  # word -> times it kills its worker
    failures: frozenset[str] = frozenset()  # words whose segments fail to be read
    trouble: str | None = None  # what problem() says
    drops_forgotten: bool = True  # False: a forgotten segment's outcome still comes, as in a race
    interrupt_on_wait: int | None = None  # the wait (counting from 1) that raises KeyboardInterrupt
    log: list[tuple[str, Hashable]] = field(default_factory=list)  # ("submit"|"read"|"death"|"error"|"forget", key)
    held_at_wait: list[int] = field(default_factory=list)  # segments held when each wait began
    started: bool = False
    closed: bool = False

    def __post_init__(self) -> None:
        self._queue: deque[tuple[Hashable, SegmentTask]] = deque()

    @property
    def capacity(self) -> int:
        return self.workers * self.queue_per_worker

    @property
    def submitted(self) -> list[Hashable]:
        return self.log_of("submit")

    @property
    def forgotten(self) -> list[Hashable]:
        return self.log_of("forget")

    def log_of(self, what: str) -> list[Hashable]:
        return [key for happened, key in self.log if happened == what]

    @property
    def holding(self) -> list[Hashable]:
        """The keys submitted and not yet read nor forgotten, oldest first."""
        return [key for key, _ in self._queue]

    def shape(self) -> Shape:
        return Shape(self.workers)

    def start(self) -> None:
        assert not self.closed, "a closed executor is not started again"
        self.started = True

    def submit(self, key: Hashable, task: SegmentTask) -> None:
        assert self.started and not self.closed, "segments go to a started executor only"
        assert key not in self.holding, f"{key} submitted twice while in flight"
        self.log.append(("submit", key))
        self._queue.append((key, task))

    def wait(self, timeout: float) -> list[Outcome]:
        self.held_at_wait.append(len(self._queue))
        if self.interrupt_on_wait == len(self.held_at_wait):
            raise KeyboardInterrupt
        reading = [self._queue.popleft() for _ in range(min(self.workers, len(self._queue)))]
        return [self._read(slot, key, task) for slot, (key, task) in enumerate(reading, 1)]

    def forget(self, key: Hashable) -> None:
        self.log.append(("forget", key))
        if self.drops_forgotten:
            self._queue = deque(item for item in self._queue if item[0] != key)

    def problem(self) -> str | None:
        return self.trouble

    def close(self) -> None:
        self.closed = True
        self._queue.clear()

    def _read(self, slot: int, key: Hashable, task: SegmentTask) -> Outcome:
        text = " ".join(piece for piece, _ in task.pieces)
        for word, left in self.deaths.items():
            if word in text and left > 0:
                self.deaths[word] = left - 1
                self.log.append(("death", key))
                return Outcome(key, death=WorkerDeath(f"worker {slot} (pid 0)", SIGKILL))
        if any(word in text for word in self.failures):
            self.log.append(("error", key))
            return Outcome(key, error=SynthesisFailed(f"the voice model refused {text[:30]!r}"))
        self.log.append(("read", key))
        return Outcome(key, audio=tone_audio(text))
