"""Host-side alignment on the simulated hexapod, and FDR + FDG on the simulated E-712.

Signal: a single-mode Gaussian (mode radius 5 µm) with an angular factor (λ = 1.55 µm) and
detector noise 1e-3 of the peak, computed from the twin's true pose (the pivot at the fibre tip,
so U/V tilt the fibre without moving the tip).
"""

from __future__ import annotations

import math

import numpy as np

from labsyn.drivers.alignment import gradient_search, spiral_offsets, spiral_scan
from labsyn.drivers.capabilities import Pose
from labsyn.drivers.pi_e712 import PIE712, FastAligner
from labsyn.drivers.pi_hexapod import PIHexapod
from labsyn.mock_instruments.bench import Bench
from labsyn.mock_instruments.pi_e712 import SimPIE712, gaussian_signal
from labsyn.mock_instruments.pi_hexapod import SimPIHexapod

HEXAPOD = "TCPIP0::192.168.0.10::50000::SOCKET"
E712 = "TCPIP0::192.168.0.20::50000::SOCKET"
MODE_RADIUS_MM = 0.005
WAVELENGTH_MM = 1.55e-3
PEAK = (1.2, -0.7)
NOISE = 1e-3


def test_spiral_offsets_cover_the_disc_at_the_step() -> None:
    offsets = np.array(spiral_offsets(0.06, 0.007))
    assert np.hypot(*offsets.T).max() <= 0.06
    grid = np.mgrid[-0.05:0.05:41j, -0.05:0.05:41j].reshape(2, -1).T
    grid = grid[np.hypot(*grid.T) <= 0.05]
    nearest = np.min(np.linalg.norm(grid[:, None, :] - offsets[None], axis=2), axis=1)
    assert nearest.max() < 0.007


def test_spiral_then_gradient_reaches_99_percent_within_1_um_in_500_moves() -> None:
    bench = Bench()
    twin = bench.add_instrument(HEXAPOD, SimPIHexapod(referenced=True))
    stage = PIHexapod(HEXAPOD, visa_library=bench.visa_library(), clock=bench.clock)
    rng = np.random.default_rng(7)

    def coupling() -> float:
        p = twin.pose()
        r2 = (p["X"] - PEAK[0]) ** 2 + (p["Y"] - PEAK[1]) ** 2
        tilt = math.radians(math.hypot(p["U"], p["V"]))
        angular = math.exp(-(math.pi * MODE_RADIUS_MM * tilt / WAVELENGTH_MM) ** 2)
        return math.exp(-2 * r2 / MODE_RADIUS_MM ** 2) * angular

    def read_signal() -> float:
        return coupling() + rng.normal(0.0, NOISE)

    off = 0.05 / math.sqrt(2)  # 50 µm off laterally, 0.2° off in tilt
    stage.move_to(Pose(x=PEAK[0] + off, y=PEAK[1] - off, u=0.2 / math.sqrt(2),
                       v=0.2 / math.sqrt(2)))
    coarse = spiral_scan(stage, read_signal, radius=0.06, step=0.007)
    fine = gradient_search(stage, read_signal, step=0.002, min_step=0.0001)
    moves = coarse.moves + fine.moves
    p = stage.position()
    lateral_um = math.hypot(p.x - PEAK[0], p.y - PEAK[1]) * 1e3
    assert moves <= 500, moves
    assert lateral_um <= 1.0
    assert coupling() >= 0.99
    print(f"host-side: {coarse.moves} spiral + {fine.moves} gradient = {moves} moves, "
          f"lateral error {lateral_um:.3f} µm, coupling {coupling():.4f}")


def test_gradient_search_stops_at_max_moves() -> None:
    bench = Bench()
    bench.add_instrument(HEXAPOD, SimPIHexapod(referenced=True))
    stage = PIHexapod(HEXAPOD, visa_library=bench.visa_library(), clock=bench.clock)
    result = gradient_search(stage, lambda: 1.0, max_moves=7)
    assert result.moves == 7


def test_fdr_fdg_on_the_e712_in_at_most_20_transactions() -> None:
    bench = Bench()
    twin = bench.add_instrument(E712, SimPIE712(signal=gaussian_signal((50.0, 50.0, 50.0), 5.0,
                                                                       NOISE)))
    nano = PIE712(E712, visa_library=bench.visa_library(), clock=bench.clock)
    assert isinstance(nano, FastAligner)
    off = 50.0 / math.sqrt(2)
    nano.move_to({"1": 50.0 + off, "2": 50.0 - off})
    before = len(twin.received)
    sent: list[str] = []
    write, write_bytes = nano.adapter.write, nano.adapter.write_bytes
    nano.adapter.write = lambda c, **k: (sent.append(c), write(c, **k))[1]
    nano.adapter.write_bytes = lambda c, **k: (sent.append(repr(c)), write_bytes(c, **k))[1]
    result = nano.align(100.0, 100.0, F=50, MP1=50, MP2=50)
    p = result.position
    lateral = math.hypot(p["1"] - 50.0, p["2"] - 50.0)
    assert result.success
    assert lateral <= 1.0
    assert math.exp(-2 * lateral ** 2 / 25.0) >= 0.99
    assert len(sent) <= 20, sent
    assert twin.received[before].startswith("FDR AREA 1 100 2 100")
    print(f"E-712: {len(sent)} GCS transactions, lateral error {lateral:.3f} µm")
