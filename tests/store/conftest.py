"""Fixtures for the store tests: a store in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from labsyn.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "data")
