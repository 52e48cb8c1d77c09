"""Even loudness: a streaming ITU-R BS.1770 meter and a look-ahead true-peak limiter.

The meter keeps no audio.  BS.1770 gates 400 ms blocks that overlap by 75 %,
so the K-weighted energy of every 100 ms step is all it needs: 36,000 floats
for an hour of audio.  The K-weighting filters are pyloudnorm's (the same
stages its ``Meter`` builds), run with their state carried from one piece of
audio to the next, so feeding a book in pieces gives the figure pyloudnorm
gives for the whole array.

The limiter keeps the encoded audio under the true-peak ceiling after the
gain: a per-sample gain that looks 5 ms ahead, holds 50 ms and is smoothed
over the look-ahead, so it never lets a sample over and never clicks.  Its
output lags its input by the look-ahead; ``flush`` hands back the rest.
"""

from __future__ import annotations

import math

import numpy as np

from .formats import SAMPLE_RATE

STEP_SECONDS = 0.1  # BS.1770: 400 ms blocks, 75 % overlap
STEPS_PER_BLOCK = 4
ABSOLUTE_GATE = -70.0  # LUFS
RELATIVE_GATE = -10.0  # LU below the absolute-gated loudness
# A sample ceiling below the true-peak ceiling: the peaks between samples of 24 kHz
# speech and the codec's own overshoot (each AudioFormat in daemon/audio/formats.py has its own).
TRUE_PEAK_MARGIN_DB = 1.0


def k_weighting(rate: int = SAMPLE_RATE) -> list[tuple[np.ndarray, np.ndarray]]:
    """BS.1770's two K-weighting stages as (b, a) with a[0] = 1: the coefficients pyloudnorm's
    Meter builds (RBJ's cookbook: a +4 dB shelf at 1.5 kHz, Q 1/sqrt(2), then a high-pass at
    38 Hz, Q 0.5).  The tests compare them with pyloudnorm's own."""
    amp = 10 ** (4.0 / 40)
    w0 = 2 * math.pi * 1500.0 / rate
    alpha, cos = math.sin(w0) / (2 / math.sqrt(2)), math.cos(w0)
    root = 2 * math.sqrt(amp) * alpha
    shelf = ([amp * ((amp + 1) + (amp - 1) * cos + root), -2 * amp * ((amp - 1) + (amp + 1) * cos),
              amp * ((amp + 1) + (amp - 1) * cos - root)],
             [(amp + 1) - (amp - 1) * cos + root, 2 * ((amp - 1) - (amp + 1) * cos),
              (amp + 1) - (amp - 1) * cos - root])
    w0 = 2 * math.pi * 38.0 / rate
    alpha, cos = math.sin(w0) / (2 * 0.5), math.cos(w0)
    high_pass = ([(1 + cos) / 2, -(1 + cos), (1 + cos) / 2], [1 + alpha, -2 * cos, 1 - alpha])
    return [(np.array(b) / a[0], np.array(a) / a[0]) for b, a in (shelf, high_pass)]


class KWeighting:
    """The K-weighting filters, their state carried from one piece of audio to the next.

    They run in FFmpeg's ``biquad`` filter (through PyAV, which the M4B writer uses anyway),
    in transposed direct form II and double precision: sample for sample what
    ``scipy.signal.lfilter`` gives (the tests compare them), without scipy.signal, whose
    import cost every converting process 1.3 s of CPU and 50 MB.
    """

    def __init__(self, rate: int = SAMPLE_RATE) -> None:
        import av.filter  # here: `inspect`, `status` and the API never need it

        self.rate = rate
        self._graph = av.filter.Graph()
        last = self._graph.add_abuffer(format="dbl", sample_rate=rate, layout="mono", channels=1)
        for b, a in k_weighting(rate):
            values = zip(("b0", "b1", "b2", "a0", "a1", "a2"), (*b, *a))
            stage = self._graph.add("biquad", ":".join(f"{name}={float(v):.17g}" for name, v in values)
                                    + ":transform=tdii:precision=f64")
            last.link_to(stage)
            last = stage
        last.link_to(self._graph.add("abuffersink"))
        self._graph.configure()
        self._fed = 0
        self._frame = av.AudioFrame
        self._drained = (av.error.BlockingIOError, av.error.EOFError)  # nothing more to pull now

    def __call__(self, samples: np.ndarray) -> np.ndarray:
        frame = self._frame.from_ndarray(np.ascontiguousarray(samples, dtype=np.float64).reshape(1, -1),
                                           format="dbl", layout="mono")
        frame.sample_rate, frame.pts = self.rate, self._fed
        self._fed += len(samples)
        self._graph.push(frame)
        out = []
        while True:
            try:
                out.append(self._graph.pull().to_ndarray().ravel())
            except self._drained:
                return np.concatenate(out) if out else np.zeros(0)


class LoudnessMeter:
    """Integrated loudness (LUFS) of audio fed in pieces, keeping only 100 ms energies."""

    def __init__(self, rate: int = SAMPLE_RATE) -> None:
        self.rate = rate
        self.step = int(round(STEP_SECONDS * rate))
        self._weighting = KWeighting(rate)
        self._energies: list[np.ndarray] = []  # sum of squares of each finished 100 ms step
        self._partial = 0.0  # sum of squares of the unfinished step
        self._partial_frames = 0
        self.frames = 0

    @property
    def seconds(self) -> float:
        return self.frames / self.rate

    def add(self, samples: np.ndarray) -> None:
        if not len(samples):
            return
        weighted = self._weighting(samples)
        self.frames += len(weighted)
        squares = np.square(weighted)
        fill = min(self.step - self._partial_frames, len(squares))
        self._partial += float(squares[:fill].sum())
        self._partial_frames += fill
        if self._partial_frames < self.step:
            return
        rest = squares[fill:]
        whole = len(rest) // self.step
        steps = rest[: whole * self.step].reshape(whole, self.step).sum(axis=1)
        self._energies.append(np.concatenate(([self._partial], steps)))
        tail = rest[whole * self.step:]
        self._partial, self._partial_frames = float(tail.sum()), len(tail)

    def integrated(self) -> float:
        """Gated integrated loudness in LUFS; -inf for silence or less than one block."""
        energies = np.concatenate(self._energies) if self._energies else np.zeros(0)
        if len(energies) < STEPS_PER_BLOCK:
            return -math.inf
        window = np.convolve(energies, np.ones(STEPS_PER_BLOCK), mode="valid")
        powers = window / (STEPS_PER_BLOCK * self.step)
        with np.errstate(divide="ignore"):
            loudness = -0.691 + 10 * np.log10(powers)
        gated = powers[loudness > ABSOLUTE_GATE]
        if not len(gated):
            return -math.inf
        relative = -0.691 + 10 * math.log10(gated.mean()) + RELATIVE_GATE
        kept = powers[(loudness > ABSOLUTE_GATE) & (loudness > relative)]
        return -0.691 + 10 * math.log10(kept.mean())


def gain_db_for(measured_lufs: float, target_lufs: float) -> float:
    """The gain (dB) that takes ``measured_lufs`` to the target (none for silence)."""
    if not math.isfinite(measured_lufs):
        return 0.0
    return target_lufs - measured_lufs


class PeakLimiter:
    """Keeps samples under a ceiling with a smooth look-ahead gain; delays the audio by the look-ahead."""

    def __init__(self, ceiling_db: float, margin_db: float = TRUE_PEAK_MARGIN_DB, rate: int = SAMPLE_RATE,
                 lookahead_s: float = 0.005, hold_s: float = 0.05) -> None:
        self.ceiling = 10 ** ((ceiling_db - margin_db) / 20)
        self.ahead = max(1, int(round(lookahead_s * rate)))
        self.hold = int(round(hold_s * rate))
        self._context = self.hold + self.ahead  # gains kept from before the pending audio
        self._gains = np.ones(self._context)
        self._pending = np.zeros(0, dtype=np.float32)
        self.limited = 0  # samples whose gain was below 1, for the log

    def process(self, samples: np.ndarray) -> np.ndarray:
        """Limit what can be limited now; returns fewer samples than given until ``flush``."""
        self._pending = np.concatenate((self._pending, np.asarray(samples, dtype=np.float32)))
        return self._emit(len(self._pending) - self.ahead)

    def flush(self) -> np.ndarray:
        """The audio still held back (the track ends in silence beyond it)."""
        return self._emit(len(self._pending))

    def _emit(self, count: int) -> np.ndarray:
        if count <= 0:
            return np.zeros(0, dtype=np.float32)
        wanted = self._wanted(self._pending)
        future = np.ones(max(0, count + self.ahead - len(wanted)))  # past the end: nothing to hold down
        needed = np.concatenate((self._gains, wanted, future))
        # each gain is the least any sample within `hold` before to `ahead` after needs ...
        from scipy.ndimage import minimum_filter1d  # only a limiting parent needs it (0.4 s)

        held = minimum_filter1d(needed, size=self.hold + self.ahead + 1,
                                origin=(self.hold - self.ahead) // 2, mode="nearest")
        # ... averaged over the look-ahead, so it glides down before a peak instead of jumping
        sums = np.cumsum(np.concatenate(([0.0], held)))
        start = self._context
        ends = np.arange(start + 1, start + count + 1)
        gains = (sums[ends] - sums[ends - self.ahead - 1]) / (self.ahead + 1)
        out = (self._pending[:count] * gains).astype(np.float32)
        self.limited += int(np.count_nonzero(gains < 1.0))
        self._gains = np.concatenate((self._gains, wanted[:count]))[-self._context:]
        self._pending = self._pending[count:]
        return out

    def _wanted(self, samples: np.ndarray) -> np.ndarray:
        peaks = np.abs(samples).astype(np.float64)
        return np.minimum(1.0, self.ceiling / np.maximum(peaks, 1e-12))
