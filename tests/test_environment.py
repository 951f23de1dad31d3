"""Pins that matter: PySide6 6.12.0 leaks references to None on Python 3.11 and aborts it."""

from __future__ import annotations

import sys

import pytest


def test_installed_pyside6_respects_the_pin() -> None:
    from importlib.metadata import version

    from packaging.version import Version

    installed = Version(version("PySide6-Essentials"))
    if sys.version_info < (3, 12):
        assert installed < Version("6.12"), f"PySide6 {installed} aborts Python 3.11"


def test_qt_calls_returning_none_do_not_leak_references_to_none() -> None:
    qtgui = pytest.importorskip("PySide6.QtGui")
    path = qtgui.QPainterPath()
    before = sys.getrefcount(None)
    for _ in range(100_000):
        path.lineTo(1.0, 1.0)
    assert sys.getrefcount(None) - before > -1000
