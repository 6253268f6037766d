#!/usr/bin/env bash
# Set everything up, then make a backing track (vocals removed) of the bundled song.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p out
echo "==> kit doctor"
.venv/bin/kit doctor
echo "==> making a backing track of the bundled song"
.venv/bin/kit backing "$(.venv/bin/python -c 'import kit.examples as e; print(e.song_path())')" \
    --drop vocals --limit -o out/backing_track.mp3
echo "==> done: out/backing_track.mp3"
