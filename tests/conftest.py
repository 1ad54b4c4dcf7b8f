"""Shared test fixtures: paths to ../shared (CI has it beside the checkout)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
REFERENCE = SHARED / "reference"
SAMPLES = SHARED / "data" / "styletalk_samples"


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    if not REFERENCE.is_dir():
        pytest.fail(f"reference fixtures not found at {REFERENCE} (../shared must sit beside the checkout)")
    return REFERENCE


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    if not SAMPLES.is_dir():
        pytest.fail(f"speech samples not found at {SAMPLES} (../shared must sit beside the checkout)")
    return SAMPLES
