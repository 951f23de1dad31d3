"""`align` on the fibre-alignment station, against the optics model's ground truth.

The station's hexapod references to 0, which is 50 µm (X 30, Y −40 µm) and 0.2° (U 0.12°,
V −0.16°) from the truth optimum; detector noise 50 nA rms on a 50 µA peak (1e-3).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from labsyn.engine import Runner
from labsyn.errors import ConfigError, LimitError
from labsyn.protocols import get_protocol
from labsyn.report.plots import plot_run
from labsyn.station import Station

STATION = Path(__file__).resolve().parents[2] / "examples" / "stations" / \
    "fibre_alignment_sim.yaml"


def twin_and_device(station: Station) -> tuple[Any, Any]:
    twin = next(s for s in station.bench.instruments.values() if hasattr(s, "pose_at"))
    return twin, station.bench.timeline.duts[0].device


@pytest.mark.parametrize("axes", ["xy", "xyuv"])
def test_align_reaches_99_percent_within_1_um_in_500_moves(axes: str) -> None:
    with Station.open(STATION) as station:
        twin, device = twin_and_device(station)
        start = dict.fromkeys("XYZUVW", 0.0)  # where FRF leaves the stage
        off = device.optimum
        assert math.hypot(off["X"] - start["X"], off["Y"] - start["Y"]) == pytest.approx(0.05)
        assert math.hypot(off["U"], off["V"]) == pytest.approx(0.2)
        assert device.noise_a == 5e-8
        assert device.coupling(start) < 1e-30
        stage = station.stage
        runner = Runner(station, get_protocol("align"), {"axes": axes})
        result = runner.run()
        assert result.status == "completed", result.message
        pose = twin.pose()
        lateral_um = math.hypot(pose["X"] - off["X"], pose["Y"] - off["Y"]) * 1e3
        eta = device.coupling()
        moves = int(result.figures["moves"].value)
        print(f"align axes={axes}: {moves} moves, lateral error {lateral_um:.3f} µm, "
              f"tilt {pose['U'] - off['U']:+.3f}° {pose['V'] - off['V']:+.3f}°, "
              f"coupling {eta / device.max_coupling():.4f} of the maximum")
        assert eta >= 0.99 * device.max_coupling()
        assert lateral_um <= 1.0
        assert moves <= 500
        assert moves == stage.moves  # every MOV the driver sent is counted
        figures = result.figures
        assert figures["x"].value == pytest.approx(pose["X"], abs=1e-6)  # POS? has 6 decimals
        assert figures["y"].value == pytest.approx(pose["Y"], abs=1e-6)
        assert figures["relative_coupling"].value >= 0.99
        peak = device.photocurrent(off)
        assert figures["final_current"].value == pytest.approx(peak, rel=0.01)
        data = runner.data()
        assert set(data["phase"]) == {1, 2, 3}
        assert data["voltage"].to_numpy() == pytest.approx(0.1)


def test_align_makes_its_plots(tmp_path: Path) -> None:
    with Station.open(STATION) as station:
        protocol = get_protocol("align")
        runner = Runner(station, protocol, {"spiral_radius": 20.0, "max_moves": 60})
        result = runner.run()
        assert result.status == "completed"
        assert result.figures["moves"].value <= 60
        units = {c.name: c.unit for c in protocol.columns}
        paths = plot_run(runner.data(), protocol.plots, units, tmp_path, "align")
        assert [p.name for p in paths] == ["align-scan.png", "align-signal.png"]
        assert all(p.stat().st_size > 1000 for p in paths)


def test_bias_beyond_the_station_limit_is_refused_before_anything_moves() -> None:
    with Station.open(STATION) as station:
        twin, _ = twin_and_device(station)
        connected = list(twin.received)  # the driver's connect queries
        protocol = get_protocol("align")
        with pytest.raises(LimitError, match="bias"):
            protocol.check(protocol.parameters({"bias": 3.0}), station)
        with pytest.raises(ConfigError, match="spiral_step"):
            protocol.check(protocol.parameters({"spiral_step": 80.0}), station)
        assert twin.received == connected


def test_bad_axes_are_refused() -> None:
    protocol = get_protocol("align")
    with pytest.raises(ConfigError, match="axes"):
        protocol.parameters({"axes": "xw"})
    assert protocol.parameters({"axes": "XYUV"}).axes == "xyuv"
