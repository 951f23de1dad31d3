"""The README's quick start and CI must run the same commands."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def quick_start_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [line.strip() for block in re.findall(r"```bash\n(.*?)```", section, re.S)
            for line in block.splitlines() if line.strip()]


def test_quick_start_has_an_install_and_run_and_a_test_command() -> None:
    commands = quick_start_commands()
    assert len(commands) == 2
    assert commands[0] == "pip install . && labsyn demo"
    assert commands[1].startswith('pip install ".[test,qcodes]"')


def test_ci_installs_and_tests_exactly_as_the_readme_says() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    install, test = (part.strip() for part in quick_start_commands()[1].split("&&"))
    assert f"python -m {install}" in ci or install in ci
    assert test in ci.splitlines()
