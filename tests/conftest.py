"""Shared test fixtures: the repository root and the toc."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from site_fixtures import browser, server, site, visit  # noqa: E402, F401  (one Chromium)


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT
