"""Which engine and which executor a command reads with, from the config.

``convert`` and the daemon both come here, so a book gets the same model, the
same layout of workers and the same segment size however it is converted:

- ``executor.address`` unset: worker processes on this machine (``LocalPool``),
  one per core, or on a GPU (``models.provider`` auto finding CUDA, or cuda) one
  worker reading segments GPU_SEGMENT_CHARS long;
- ``executor.address: tls://host:8786`` (or unencrypted ``tcp://``): the workers
  of that Dask scheduler (``DaskExecutor``, imported only then: Dask is the
  optional extra ``[dask]``), with this machine's certificate (``executor.tls``).
"""

from __future__ import annotations

import logging

from daemon import models
from daemon.config import Config
from daemon.errors import StartupError
from daemon.speech.spoken import SEGMENT_CHARS

from .engine import CPU, CUDA, EngineKind, EngineSettings, resolve_provider
from .executors import LocalPool, SegmentExecutor

log = logging.getLogger(__name__)

# A GPU reads a 2,000-character segment in well under a second, so the fixed cost of each
# segment (handing it over, FLAC, the checkpoint) weighs more; longer ones amortise it.
# Not measured yet on a GPU: bench/gpu_check.sh compares it with the default size.
GPU_SEGMENT_CHARS = 8000


def engine_settings(config: Config, kind: EngineKind, local: bool = True) -> EngineSettings:
    """The daemon's engine: its verified model files (ModelMissing if absent), and, when it
    reads on this machine (``local``), the execution provider."""
    if kind is not EngineKind.KOKORO:  # the hidden --engine flag: a stand-in needs no model
        from .stand_ins import stand_in_settings
        return stand_in_settings(kind)
    model, voices = models.resolve(config.models_dir, config.models_variant)
    provider = resolve_provider(config.models_provider) if local else CPU
    return EngineSettings(str(model), str(voices), config.threads_per_worker, provider, kind)


def make_executor(config: Config, kind: EngineKind, address: str | None = None,
                  segment_chars: int | None = None) -> SegmentExecutor:
    """A LocalPool, or a DaskExecutor when a scheduler address is given or configured."""
    address = address or config.executor_address
    if address:
        return _dask_executor(config, address, engine_settings(config, kind, local=False))
    engine = engine_settings(config, kind)
    on_gpu = engine.provider == CUDA
    workers = 1 if on_gpu and config.workers_auto else config.workers
    size = segment_chars or (GPU_SEGMENT_CHARS if on_gpu else SEGMENT_CHARS)
    if on_gpu:
        log.info("reading on the GPU (CUDA): %d worker process(es), segments of %d characters", workers, size)
    return LocalPool(engine, workers, size)


def _dask_executor(config: Config, address: str, engine: EngineSettings) -> SegmentExecutor:
    try:
        from .dask_executor import DaskExecutor
        from .dask_security import cluster_security, warn_if_unencrypted
        from .dask_worker import model_identity
    except ImportError as error:
        raise StartupError(f"executor.address needs Dask ({error.name} is not installed): "
                           "pip install 'kokoro-inbox[dask]'") from None
    warn_if_unencrypted(address)
    return DaskExecutor(address, model_identity(engine), cluster_security(config))


def describe(executor: SegmentExecutor) -> str:
    """A few words for the start-up log line."""
    address = getattr(executor, "address", None)
    return f"the Dask scheduler at {address}" if address else f"{executor.shape().parallelism} worker processes"

