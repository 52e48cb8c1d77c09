"""models.provider and what a GPU changes: the choice, not the speed (bench/gpu_check.sh)."""

from __future__ import annotations

import pytest

from daemon.config import load_config
from daemon.errors import ConfigError
from daemon.speech.spoken import SEGMENT_CHARS
from daemon.synth import backends, engine
from daemon.synth.engine import CPU, CUDA, EngineKind, resolve_provider
from daemon.synth.executors import LocalPool


def test_provider_names_old_and_new():
    assert resolve_provider("cpu") == CPU
    assert resolve_provider("CPUExecutionProvider") == CPU, "configs written before auto|cpu|cuda still work"
    with pytest.raises(ConfigError, match="use auto, cpu or cuda"):
        load_config(None, {"models.provider": "gpu"}, environ={})


def test_auto_reads_on_the_cpu_without_a_gpu(monkeypatch):
    monkeypatch.setattr(engine, "gpu_present", lambda: False)
    assert resolve_provider("auto") == CPU


def test_cuda_without_onnxruntime_gpu_says_what_to_install(monkeypatch):
    import onnxruntime

    monkeypatch.setattr(engine, "gpu_present", lambda: True)
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: [CPU])
    assert resolve_provider("auto") == CPU
    with pytest.raises(ConfigError, match=r"pip install '\.\[gpu\]'"):
        resolve_provider("cuda")


@pytest.mark.model
def test_on_a_gpu_one_worker_reads_longer_segments(monkeypatch, real_models):
    def config(workers: object):
        return load_config(None, {"workers": workers, "models.dir": str(real_models)}, environ={})

    monkeypatch.setattr(backends, "resolve_provider", lambda setting: CUDA)
    auto = backends.make_executor(config("auto"), EngineKind.KOKORO)
    assert isinstance(auto, LocalPool) and auto.engine.provider == CUDA and auto.shape().parallelism == 1
    assert auto.shape().segment_chars == backends.GPU_SEGMENT_CHARS > SEGMENT_CHARS
    assert backends.make_executor(config(3), EngineKind.KOKORO).shape().parallelism == 3, \
        "an explicit worker count is kept"
    monkeypatch.setattr(backends, "resolve_provider", lambda setting: CPU)
    cpu = backends.make_executor(config(2), EngineKind.KOKORO)
    assert (cpu.shape().parallelism, cpu.shape().segment_chars) == (2, SEGMENT_CHARS)
