#!/usr/bin/env bash
# GPU check (issue 8): the bench book read on an NVIDIA GPU, against every CPU core.
#
#   bench/gpu_check.sh            # about 3 to 5 minutes, most of it installing
#
# Prints, for each layout, characters/s, the real-time factor (seconds of work per second
# of audio) and the peak GPU memory, then the speed-up over the CPU. Layouts on the GPU:
# the default (one worker, segments of backends.GPU_SEGMENT_CHARS), one worker with the
# CPU's 2,000-character segments, and two workers sharing the GPU: which one is fastest
# is the question the default answers without having measured it.
#
# Needs: an NVIDIA GPU with its driver (nvidia-smi), Python 3.10+, a package index pip can
# reach (WHEELS=/dir adds a folder of wheels), the model files in ./models (MODELS=/dir
# elsewhere; else `models fetch` gets them), and the bench book (BOOK=path.epub).
# VENV=dir chooses the virtual environment (default .venv, created if missing).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
MODELS=${MODELS:-models}
BOOK=${BOOK:-}
for candidate in "$BOOK" ../shared/corpus/bench_jekyll-ch3-ch7.epub shared/corpus/bench_jekyll-ch3-ch7.epub; do
    if [ -n "$candidate" ] && [ -f "$candidate" ]; then BOOK=$candidate; break; fi
done
[ -f "$BOOK" ] || { echo "gpu_check: the bench book is not here; set BOOK=path/to/bench_jekyll-ch3-ch7.epub" >&2; exit 2; }
command -v nvidia-smi >/dev/null || { echo "gpu_check: no nvidia-smi: this machine has no NVIDIA driver" >&2; exit 2; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader

PIP_EXTRA=()
[ -n "${WHEELS:-}" ] && PIP_EXTRA=(--find-links "$WHEELS")
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
PY=$VENV/bin/python
started=$(date +%s)
if ! "$PY" -c 'import sys, onnxruntime as o; sys.exit("CUDAExecutionProvider" not in o.get_available_providers())' 2>/dev/null; then
    echo "installing the project with the [gpu] extra (onnxruntime-gpu with its CUDA and cuDNN wheels)"
    "$PY" -m pip install --quiet "${PIP_EXTRA[@]}" -e '.[gpu]'
    # onnxruntime and onnxruntime-gpu are one module in two packages: keep only the GPU one
    "$PY" -m pip uninstall --quiet -y onnxruntime
    "$PY" -m pip install --quiet "${PIP_EXTRA[@]}" --force-reinstall --no-deps 'onnxruntime-gpu>=1.21'
fi
echo "installed in $(( $(date +%s) - started )) s"
"$PY" - <<'PY'
import onnxruntime as o
o.preload_dlls() if hasattr(o, "preload_dlls") else None
print("onnxruntime", o.__version__, o.get_available_providers())
PY

KI=("$PY" -m daemon)
if ! "${KI[@]}" models check >/dev/null 2>&1; then
    [ "$MODELS" = models ] || { mkdir -p models; cp -n "$MODELS"/* models/ 2>/dev/null || true; }
    "${KI[@]}" models check >/dev/null 2>&1 || "${KI[@]}" models fetch
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"; kill "${SAMPLER:-0}" 2>/dev/null || true' EXIT
printf 'models:\n  dir: %s\npaths:\n  processing: %s\n' "$PWD/models" "$WORK/processing" > "$WORK/config.yaml"

# run NAME PROVIDER [convert options...]: one conversion, GPU memory sampled every 100 ms
run() {
    local name=$1 provider=$2; shift 2
    nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 > "$WORK/$name.mem" &
    SAMPLER=$!
    KOKORO_INBOX_MODELS_PROVIDER=$provider "${KI[@]}" convert --config "$WORK/config.yaml" --quiet \
        --report "$WORK/$name.json" -o "$WORK/$name.mp3" "$@" "$BOOK" 2> "$WORK/$name.log" \
        || { tail -20 "$WORK/$name.log" >&2; exit 1; }
    kill "$SAMPLER"; wait "$SAMPLER" 2>/dev/null || true
    grep -h "could not be used" "$WORK/$name.log" >&2 || true
}

CORES=$(nproc)
run cpu cpu --workers "$CORES"
run gpu cuda
run gpu-2000 cuda --segment-chars 2000
run gpu-2workers cuda --workers 2

"$PY" - "$WORK" "$CORES" <<'PY'
import json, sys
from pathlib import Path

work, cores = Path(sys.argv[1]), sys.argv[2]

def peak(name: str) -> int:
    used = [int(line) for line in (work / f"{name}.mem").read_text().split() if line.strip().isdigit()]
    return max(used) - min(used) if used else 0

runs = [("cpu", f"CPU, {cores} workers x 1 thread"), ("gpu", "GPU, 1 worker, long segments (default)"),
        ("gpu-2000", "GPU, 1 worker, 2,000-character segments"), ("gpu-2workers", "GPU, 2 workers")]
cpu = json.loads((work / "cpu.json").read_text())["chars_per_second"]
for name, label in runs:
    report = json.loads((work / f"{name}.json").read_text())
    print(f"{label:42} {report['chars_per_second']:8.1f} characters/s  real-time factor "
          f"{report['seconds'] / report['audio_seconds']:.4f}  GPU memory {peak(name):5d} MiB  "
          f"speed-up over CPU {report['chars_per_second'] / cpu:5.2f}x")
PY
echo "total $(( $(date +%s) - started )) s"
