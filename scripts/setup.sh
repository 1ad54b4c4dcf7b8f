#!/usr/bin/env bash
# Create .venv and install Mouthpiece with every extra (Ray included, for the batch tests). Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  for cand in python3.11 python3; do
    if command -v "$cand" >/dev/null 2>&1; then PY="$cand"; break; fi
  done
fi
if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)'; then
  echo "Mouthpiece needs Python 3.11 (bpy 5.0.1 is built for it); set PYTHON=/path/to/python3.11" >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi

# Reinstall when pyproject.toml or the set of packages changes (an editable install lists packages).
stamp=.venv/.mouthpiece-setup
want="$( (ls -d */__init__.py; cat pyproject.toml) | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  # torch is pinned to the CPU wheel (an unpinned torch pulls GBs of CUDA packages).
  .venv/bin/python -m pip install --quiet "torch==2.13.0"
  # (setuptools' notes about editable installs are noise for a user; keep the output to what matters)
  PYTHONWARNINGS=ignore .venv/bin/python -m pip install --quiet -e ".[models,blender,dev,cluster]"
  echo "$want" > "$stamp"
fi
