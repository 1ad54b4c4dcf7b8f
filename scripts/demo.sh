#!/usr/bin/env bash
# Set up, then run the main job on the built-in default: voice clip → animated head (.blend) + preview (.mp4).
# AUDIO=your_clip.wav [TRANSCRIPT="what is said"] bash scripts/demo.sh  animates your own clip instead.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p out
if [ -n "${AUDIO:-}" ]; then
  args=("$AUDIO")
  [ -n "${TRANSCRIPT:-}" ] && args+=(--transcript "$TRANSCRIPT")
else
  args=(examples/hello.wav --transcript-file examples/hello.txt)
fi
.venv/bin/mouthpiece blend "${args[@]}" -o out/demo.blend --video out/demo.mp4
echo "Open out/demo.blend in Blender, or play out/demo.mp4."
