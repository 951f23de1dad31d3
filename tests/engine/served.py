"""`labsyn sim serve` in its own process, and a station file that reaches it over TCP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVED_STATION = ROOT / "examples" / "stations" / "keithley_2450_sim.yaml"
ADDRESS = "GPIB0::24::INSTR"


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    return env


@dataclass
class ServedBench:
    process: subprocess.Popen[str]
    resource: str
    status_port: int

    def ask(self, message: str) -> dict:
        with socket.create_connection(("127.0.0.1", self.status_port), timeout=5) as link:
            link.sendall(message.encode() + b"\n")
            reply = b""
            while not reply.endswith(b"\n"):
                chunk = link.recv(65536)
                if not chunk:
                    break
                reply += chunk
        return json.loads(reply)

    def output(self) -> str:
        """The served 2450's own answer: is its output on?"""
        (instrument,) = self.ask("STATUS?")["instruments"]
        return instrument["output"]

    def inject(self, kind: str, command: str, times: int = 1) -> None:
        reply = self.ask(f"FAULT {ADDRESS} {kind} {times} {command}")
        assert "injected" in reply, reply

    def station_file(self, directory: Path, timeout_ms: int = 3000) -> Path:
        path = directory / "served_station.yaml"
        path.write_text(f"""\
name: served-2450
backend: visa
visa_library: "@py"
instruments:
  smu:
    driver: keithley_2450
    address: "{self.resource}"
    options: {{timeout_ms: {timeout_ms}}}
terminals:
  TE: {{instrument: smu, channel: 1}}
  BE: ground
limits:
  max_voltage: {{TE: 5.0}}
  max_device_voltage: 5.0
  max_current_limit: 1.0e-3
""")
        return path


@pytest.fixture
def served_bench() -> Iterator[ServedBench]:
    process = subprocess.Popen(
        [sys.executable, "-m", "labsyn.cli", "sim", "serve", str(SERVED_STATION)],
        stdout=subprocess.PIPE, text=True, env=environment())
    assert process.stdout is not None
    resource, status_port = "", 0
    for line in process.stdout:
        if line.startswith(ADDRESS):
            resource = line.split("->")[1].strip()
        if line.startswith("status"):
            status_port = int(line.split("->")[1].split()[0].rsplit(":", 1)[1])
            break
    assert resource and status_port, "sim serve did not report its addresses"
    try:
        yield ServedBench(process, resource, status_port)
    finally:
        process.terminate()
        process.wait(10)
