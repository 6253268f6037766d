#!/usr/bin/env bash
# Set everything up, make a backing track (vocals removed) of the bundled song on the
# command line, then start the karaoke maker app on it and print its URL.
# The app keeps running until Ctrl-C. KIT_NO_APP=1 stops after the backing track
# (for scripts and CI); KIT_APP_PORT picks the port (default 8866).
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
if [ "${KIT_NO_APP:-0}" = "1" ]; then
    exit 0
fi
echo "==> starting the karaoke maker app (open the URL below in your browser; Ctrl-C stops it)"
exec .venv/bin/kit app --port "${KIT_APP_PORT:-8866}"
