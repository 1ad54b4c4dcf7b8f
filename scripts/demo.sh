#!/usr/bin/env bash
# Set up, then run the main job on the built-in default: voice clip → animated head.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p out
.venv/bin/mouthpiece blend examples/hello.wav --transcript-file examples/hello.txt -o out/demo.blend --video out/demo.mp4
echo "Open out/demo.blend in Blender, or play out/demo.mp4."
