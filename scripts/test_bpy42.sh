#!/usr/bin/env bash
# Run the add-on's baking tests under Blender 4.2 LTS (the classic action API), in .venv-bpy42; the
# character tests talk to a real `mouthpiece serve` from the project's .venv.
# bpy 4.2 from PyPI is a 350 MB cp311 wheel; it has no audio, so the sound-strip test is skipped there.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3.11}"
if [ ! -x .venv-bpy42/bin/python ]; then
  "$PYTHON" -m venv .venv-bpy42
  .venv-bpy42/bin/pip install -q "bpy==4.2.*" "numpy>=1.26,<2" scipy soundfile pytest
fi
PYTHONPATH="$PWD" .venv-bpy42/bin/python -m pytest -q -p no:cacheprovider \
  tests/addon/test_head_bake.py tests/addon/test_takes_sound.py tests/addon/test_wire.py tests/addon/test_mapping.py \
  tests/addon/test_character.py tests/addon/test_editable.py "$@"
