#!/usr/bin/env bash
# Set up (including espeak-ng, flite and sox for synthesized test speech), lint, and run the tests
# (bpy 5.0 in .venv, then the baking tests again on bpy 4.2 LTS in .venv-bpy42).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

if ! command -v espeak-ng >/dev/null 2>&1 || ! command -v sox >/dev/null 2>&1 || ! command -v flite >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq espeak-ng sox flite >/dev/null
fi

.venv/bin/ruff check .
.venv/bin/ruff format --check --quiet .
.venv/bin/mypy
.venv/bin/python -m pytest -q "$@"
# Baking on the classic action API (Blender 4.2 LTS), in its own venv.
bash scripts/test_bpy42.sh
