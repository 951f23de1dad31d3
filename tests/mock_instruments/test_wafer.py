"""The simulated wafer and the DUT under the probes: devices by key, kept state, dead devices,
an open circuit (voltage and current forcing) while the chuck is not in contact, spatial
gradients, several sites per die with a contact-test resistor, and the round wafer map."""

from __future__ import annotations

import itertools
import math

import pytest

from labsyn.mock_instruments.device_model import RRAMDevice
from labsyn.mock_instruments.mpi_sentio import ProberChuck, ProberError, round_wafer
from labsyn.mock_instruments.presets import HFOX
from labsyn.mock_instruments.resistor import Resistor
from labsyn.mock_instruments.timeline import GROUND, DriveState, Dut, SourceChannel, Timeline
from labsyn.mock_instruments.wafer import R_OPEN, Gradient, OpenCircuit, ProbedDevice, Wafer

DIE_A, DIE_B = (0, 0), (1, 0)


class Probes:
    """A stand-in for the prober twin's `probed()`."""

    def __init__(self) -> None:
        self.contact, self.die = False, DIE_A

    def __call__(self) -> tuple[bool, tuple[int, int]]:
        return self.contact, self.die


def test_devices_are_drawn_by_key_and_kept() -> None:
    wafer = Wafer(HFOX, wafer_seed=3)
    a = wafer.device(DIE_A)
    assert wafer.device(DIE_A) is a
    assert isinstance(a, RRAMDevice)
    assert a.truth.params == RRAMDevice.from_key(HFOX, 3, DIE_A, 0).truth.params
    b = wafer.device(DIE_B)
    assert b.truth.params == RRAMDevice.from_key(HFOX, 3, DIE_B, 0).truth.params
    assert b.truth.v_form != a.truth.v_form
    other = RRAMDevice.from_key(HFOX, 3, DIE_A, 1)
    assert wafer.device(DIE_A, 1).truth.params == other.truth.params


def test_dead_devices_are_seeded_order_free_and_nested_in_the_fraction() -> None:
    keys = [((c, r), i) for c in range(6) for r in range(6) for i in range(3)]
    some = Wafer(wafer_seed=5, dead_fraction=0.2)
    dead = {k for k in keys if some.is_dead(*k)}
    assert 0.08 < len(dead) / len(keys) < 0.35
    more = Wafer(wafer_seed=5, dead_fraction=0.5)
    assert dead < {k for k in reversed(keys) if more.is_dead(*k)}
    assert not any(Wafer(wafer_seed=5).is_dead(*k) for k in keys)
    assert dead != {k for k in keys if Wafer(wafer_seed=6, dead_fraction=0.2).is_dead(*k)}
    die, index = next(iter(dead))
    assert isinstance(some.device(die, index), OpenCircuit)
    with pytest.raises(ValueError, match="dead_fraction"):
        Wafer(dead_fraction=1.5)


def test_the_open_circuit_passes_no_current_and_a_current_source_hits_its_voltage_limit(
        ) -> None:
    probes = Probes()
    dut = ProbedDevice(Wafer(), probes)
    result = dut.apply(0.2, 1e-3, 1e-4, 100.0)
    assert abs(result.current) < 1e-15 and not result.limited
    assert dut.read_current(0.2) == pytest.approx(0.2 / R_OPEN)
    forced = dut.apply_current(1e-6, 1e-3, 2.0, 100.0)
    assert forced.limited and forced.v_device == pytest.approx(2.0)
    assert abs(forced.current) < 1e-14
    assert not dut.wafer.devices  # nothing was touched


def test_a_current_forcing_channel_on_an_open_dut_reads_its_voltage_limit() -> None:
    probes = Probes()
    timeline = Timeline()
    smu = timeline.add_channel(SourceChannel("smu"))
    dut = Dut("dut", ProbedDevice(Wafer(), probes), 100.0)
    dut.terminals.update(TE=smu, BE=GROUND)
    smu.wired = (dut, "TE")
    timeline.duts.append(dut)
    smu.set(DriveState(on=True, mode="I", level=1e-6, limit=2.0), 0.0)
    timeline.advance_to(1e-3)
    reading = dut.measure(smu, 1e-3)
    assert reading.limited and reading.voltage == pytest.approx(2.0, rel=1e-6)
    assert abs(reading.current) < 1e-14
    probes.contact = True  # the probes land on a pristine (~1 GΩ) device: 1 µA needs > 2 V
    smu.set(DriveState(on=True, mode="V", level=0.2, limit=1e-4), 1e-3)
    timeline.advance_to(2e-3)
    assert dut.measure(smu, 2e-3).current == pytest.approx(
        dut.device.wafer.device(DIE_A).current(0.2), rel=0.05)


def test_the_probed_device_follows_the_die_and_keeps_each_devices_state() -> None:
    probes = Probes()
    dut = ProbedDevice(Wafer(wafer_seed=2), probes)
    probes.contact = True
    a = dut.under_probes()
    assert a is dut.wafer.device(DIE_A)
    dut.apply(a.truth.v_form + 1.0, 1e-2, 1e-4)  # forms A
    assert a.formed
    probes.contact, probes.die = False, DIE_B
    assert dut.under_probes() is None
    dut.idle(10.0)
    probes.contact = True
    b = dut.under_probes()
    assert b is not a and not b.formed
    assert abs(dut.apply(0.2, 1e-3).current) < 1e-8  # pristine B
    probes.die = DIE_A
    assert dut.under_probes() is a and a.formed
    assert dut.apply(0.2, 1e-3).current > 1e-6  # A is still formed, read at 0.2 V
    assert a.time_s == pytest.approx(dut.elapsed)  # A aged while the probes were elsewhere


def test_a_dead_device_reads_open_in_contact() -> None:
    wafer = Wafer(wafer_seed=4, dead_fraction=1.0)
    probes = Probes()
    probes.contact = True
    dut = ProbedDevice(wafer, probes)
    assert isinstance(dut.under_probes(), OpenCircuit)
    assert abs(dut.apply(3.5, 1e-2, 1e-4).current) < 1e-14


def test_temperature_reaches_every_device_drawn() -> None:
    probes = Probes()
    dut = ProbedDevice(Wafer(), probes)
    probes.contact = True
    a = dut.under_probes()
    dut.temperature_k = 350.0
    assert a.temperature_k == 350.0
    probes.die = DIE_B
    assert dut.under_probes().temperature_k == 350.0


def test_the_prober_chuck_reports_contact_and_die() -> None:
    chuck = ProberChuck()
    assert chuck.probed() == (False, (0, 0))
    chuck.move_z("hover")
    assert chuck.probed() == (False, (0, 0))
    chuck.move_z("separation")
    chuck.step_to((1, 0))
    chuck.move_z("contact")
    assert chuck.probed() == (True, (1, 0))


# -- gradients, sites, the round wafer map --------------------------------------------------------

def _mean_true_v_form(wafer: Wafer, dies: list[tuple[int, int]], n_sites: int) -> float:
    values = [wafer.true_forming_voltage(d, s) for d in dies for s in range(n_sites)]
    return sum(values) / len(values)


def test_the_v_form_gradient_shows_centre_to_edge_within_noise() -> None:
    gradient = Gradient(v_form_edge=0.2, radius_dies=5.0)
    wafer = Wafer(HFOX, wafer_seed=11, gradient=gradient)
    centre = [(c, r) for c in range(-1, 2) for r in range(-1, 2)]
    edge = [(c, r) for c in range(-5, 6) for r in range(-5, 6) if 4.5 <= math.hypot(c, r) <= 5]
    n = 60
    expected = (sum(gradient.factors(d, 11)[0] for d in edge) / len(edge)) / (
        sum(gradient.factors(d, 11)[0] for d in centre) / len(centre))
    assert expected > 1.15
    measured = _mean_true_v_form(wafer, edge, n) / _mean_true_v_form(wafer, centre, n)
    assert measured == pytest.approx(expected, abs=0.02)  # SE of each mean ~0.4 %
    flat = Wafer(HFOX, wafer_seed=11)
    assert _mean_true_v_form(flat, edge, n) / _mean_true_v_form(flat, centre, n) == \
        pytest.approx(1.0, abs=0.02)
    assert not wafer.devices  # the truth is drawn afresh, no device was created


def test_the_window_gradient_and_a_seeded_tilt() -> None:
    gradient = Gradient(window_edge=-0.3, window_tilt=0.1, radius_dies=4.0)
    wafer = Wafer(HFOX, wafer_seed=3, gradient=gradient)
    centre = [wafer.device((0, 0), i).truth.params.g_on for i in range(40)]
    rim = [wafer.device((4, 0), i).truth.params.g_on for i in range(40)]
    f_rim = gradient.factors((4, 0), 3)[1]
    assert sum(rim) / sum(centre) == pytest.approx(f_rim, rel=0.05)  # sigma_ln 0.1: ~2 % SE
    assert gradient.direction(3) == Gradient(window_tilt=0.1).direction(3)
    assert gradient.direction(3) != gradient.direction(4)
    opposite = gradient.factors((4, 0), 3)[1] - gradient.factors((-4, 0), 3)[1]
    assert opposite == pytest.approx(2 * 0.1 * math.cos(gradient.direction(3)))
    assert Gradient(v_form_tilt=0.5, tilt_deg=90.0).factors((0, 5), 1)[0] == pytest.approx(1.5)


def test_sites_are_independent_devices_and_the_contact_test_a_resistor() -> None:
    wafer = Wafer(HFOX, wafer_seed=5, sites=("D1", "D2"), contact_test=("R1", 1e4),
                  dead_fraction=0.3)
    assert wafer.sites == ("D1", "D2", "R1")
    assert (wafer.index("D1"), wafer.index("D2"), wafer.index("R1"), wafer.index("D2", 2)) == \
        (0, 1, 2, 7)
    alive = next(d for d in ((c, 0) for c in range(20))
                 if not wafer.is_dead(d, "D1") and not wafer.is_dead(d, "D2"))
    d1, d2 = wafer.device(alive, 0), wafer.device(alive, 1)
    assert d1.truth.params != d2.truth.params
    assert d1.truth.v_form == wafer.true_forming_voltage(alive, "D1")
    assert d2.truth.v_form == wafer.true_forming_voltage(alive, 1)
    r1 = wafer.device(alive, 2)
    assert isinstance(r1, Resistor) and r1.resistance == 1e4
    assert not any(wafer.is_dead((c, 0), "R1") for c in range(50))
    assert math.isnan(wafer.true_forming_voltage(alive, "R1"))
    dead = next(d for d in ((c, 1) for c in range(50)) if wafer.is_dead(d, "D2"))
    assert math.isnan(wafer.true_forming_voltage(dead, "D2"))
    assert isinstance(wafer.device(dead, 1), OpenCircuit)
    with pytest.raises(KeyError, match="D3"):
        wafer.index("D3")
    with pytest.raises(ValueError, match="distinct"):
        Wafer(sites=("D1", "D1"))


def test_the_site_locator_chooses_the_device_and_none_is_open() -> None:
    probes = Probes()
    probes.contact = True
    reached: list[int | None] = [None]
    wafer = Wafer(HFOX, wafer_seed=2, sites=("D1", "D2"))
    dut = ProbedDevice(wafer, probes, site=lambda: reached[0])
    assert dut.under_probes() is None
    assert abs(dut.apply(3.5, 1e-2, 1e-4).current) < 1e-14 and not wafer.devices
    reached[0] = 1
    assert dut.under_probes() is wafer.device(DIE_A, 1)
    dut.apply(wafer.true_forming_voltage(DIE_A, "D2") + 1.0, 1e-2, 1e-4)
    assert wafer.device(DIE_A, 1).formed
    reached[0] = 0
    assert not dut.under_probes().formed  # D1 is untouched


def test_the_round_wafer_map_and_subsites() -> None:
    dies = round_wafer(4.0)
    assert len(dies) == len(set(dies)) == 49
    assert all(math.hypot(*d) <= 4.0 for d in dies)
    assert all(abs(a[0] - b[0]) == 1 for a, b in itertools.pairwise(dies) if a[1] == b[1])
    chuck = ProberChuck(dies=dies)
    chuck.step_to((-4, 0))
    with pytest.raises(ProberError, match="not on the wafer map"):
        chuck.step_to((4, 1))
    with pytest.raises(ProberError, match="subsite 1"):
        chuck.step_to((0, 0), 1)
    chuck.subsites = 3
    chuck.step_to((0, 0), 2)
    assert (chuck.die, chuck.subsite) == ((0, 0), 2)
