"""`kill -9` of a `labsyn batch` process halfway, then `--resume`: the resumed process first
puts the station in its safe state and separates the chuck, and the final table holds the same
devices as an uninterrupted run, none twice, at most one flagged remeasured."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from labsyn import cli
from labsyn.batch import WaferRun, load_batch_recipe
from labsyn.batch.ledger import Ledger
from labsyn.batch.results import device_table
from labsyn.mock_instruments.bench import Bench
from labsyn.store import Store

from .test_wafer_runner import STATION, open_station, recipe_file

ROOT = Path(__file__).resolve().parents[2]
MAP = """\
wafer: R01
dies: [[0, 0], [1, 0], [2, 0], [2, 1], [1, 1], [0, 1]]
devices:
  - {name: D1, pads: {TE: D1.TE, BE: D1.BE}}
  - {name: D2, pads: {TE: D2.TE, BE: D2.BE}}
contact_test: {name: R1, pads: {TE: R1.TE, BE: R1.BE}, resistance: 10000.0}
"""


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    return env


def finished_count(ledger: Ledger) -> int:
    try:
        return sum(e["event"] == "finished" for e in ledger.events())
    except Exception:
        return 0


def test_kill_9_then_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    map_path = tmp_path / "map.yaml"
    map_path.write_text(MAP)
    recipe = recipe_file(tmp_path)
    data = tmp_path / "data"
    command = ["batch", str(recipe), "--station", str(STATION), "--map", str(map_path),
               "--data", str(data)]
    process = subprocess.Popen([sys.executable, "-m", "labsyn.cli", *command],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               env=environment())
    ledger = Ledger.for_wafer(data, "R01")
    deadline = time.monotonic() + 60
    while finished_count(ledger) < 5 and time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        time.sleep(0.02)
    time.sleep(0.1)  # into the next device
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    assert process.returncode == -signal.SIGKILL
    killed_at = finished_count(ledger)
    assert 5 <= killed_at < 12

    sent: list[str] = []
    deliver = Bench.deliver
    monkeypatch.setattr(Bench, "deliver", lambda self, inst, addresses, data: (
        sent.append(data.decode().strip()), deliver(self, inst, addresses, data))[1])
    run = WaferRun.run
    monkeypatch.setattr(WaferRun, "run", lambda self, resume=False: (
        sent.append("<wafer run>"), run(self, resume))[1])
    assert cli.main([*command, "--resume"]) == 0
    after = sent[sent.index("<wafer run>") + 1:]
    separation = after.index("move_chuck_separation")
    first = after[:separation]  # the safe state: sources off, then relays open, then this
    assert first[0] == ":ABOR" and ":OUTP OFF" in first, first
    assert 'channel.open("allslots")' in first
    assert separation < 12
    assert not [c for c in first if "OUTP ON" in c or "channel.close" in c or "map:" in c]
    moves = [c for c in sent if c.startswith(("move_chuck", "map:step"))]
    assert moves[0] == "move_chuck_separation"

    store = Store(data)
    resumed = device_table(store, "R01")
    straight_data = tmp_path / "straight"
    with open_station() as station:
        from labsyn.batch import load_wafer_map

        WaferRun(station, load_wafer_map(map_path), load_batch_recipe(recipe),
                 Store(straight_data), progress=False).run()
    straight = device_table(Store(straight_data), "R01")
    keys = ["column", "row", "subsite", "device"]
    assert len(resumed) == len(straight) == 12
    assert not resumed.duplicated(keys).any()
    assert resumed[keys].values.tolist() == straight[keys].values.tolist()
    assert resumed["remeasured"].sum() <= 1
    assert list(resumed["status"]) == list(straight["status"])
    both = resumed["forming.v_form"].notna()
    assert (both == straight["forming.v_form"].notna()).all()
    difference = (resumed["forming.v_form"] - straight["forming.v_form"])[both].abs()
    assert difference.max() < 0.05
    interrupted = store.runs()
    assert len(interrupted) >= 4 * resumed["status"].eq("passed").sum()  # nothing lost


