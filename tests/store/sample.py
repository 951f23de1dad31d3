"""Shared test data for the store tests: columns, device, parameters, deterministic blocks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from labsyn.store import Column, DeviceId

COLUMNS = (
    Column("time", "s", "f8", "time since start"),
    Column("source", "V", "f8", "sourced voltage"),
    Column("current", "A", "f4", "measured current"),
    Column("segment", "", "i4"),
    Column("limited", "", "bool", "compliance reached"),
)
REPO_ROOT = Path(__file__).resolve().parents[2]
DEVICE = DeviceId("W07", "D3-4", "R12", "sub1")
PARAMETERS = {"v_max": 1.5, "steps": 101, "label": "ramp", "nested": {"a": [1, 2]}}
SNAPSHOT = {"station": "bench-a", "backend": "labsyn-sim", "smu": {"idn": "KEITHLEY,2450"}}


def make_block(start: int, rows: int) -> dict[str, np.ndarray]:
    """Rows start..start+rows of a deterministic block (values depend on the row index only)."""
    index = np.arange(start, start + rows)
    return {
        "time": index * 1e-3,
        "source": np.sin(index * 1e-2),
        "current": (index * 1e-6).astype("f4"),
        "segment": (index // 100).astype("i4"),
        "limited": index % 7 == 0,
    }


def python_env() -> dict[str, str]:
    """The environment for a child Python that imports labsyn and tests from this checkout."""
    path = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path}


def run_python(script: str, *args: str) -> None:
    """Run `script` in a child Python (fails the test with its stderr if it exits non-zero)."""
    done = subprocess.run([sys.executable, "-c", script, *args], env=python_env(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
