"""Build the simulated bench a station file describes (the labsyn-sim backend)."""

from __future__ import annotations

import itertools
import math
from typing import Any

from labsyn.errors import ConfigError

from .config import StationConfig, TerminalWire
from .registry import DRIVERS


def build_device(config: StationConfig) -> Any:
    """The simulated DUT: an RRAM cell keyed by (wafer seed, die, device) or a resistor."""
    sim = config.sim
    if sim.device == "photonic":
        return build_photonic_device(config)
    if sim.device == "resistor":
        from labsyn.mock_instruments.resistor import Resistor

        return Resistor(sim.resistance)
    from labsyn.mock_instruments import presets
    from labsyn.mock_instruments.device_model import RRAMDevice

    preset = getattr(presets, sim.preset.upper())
    return RRAMDevice.from_key(preset, sim.wafer_seed, sim.die, sim.device_index,
                               temperature_k=sim.temperature_k)


def build_wafer(config: StationConfig) -> Any:
    """The simulated wafer of `sim:`: preset, seed, dead fraction, gradients, sites."""
    from labsyn.mock_instruments import presets
    from labsyn.mock_instruments.wafer import Gradient, Wafer

    sim = config.sim
    gradient = Gradient(**sim.gradient.model_dump(),
                        radius_dies=sim.wafer_radius_dies or 5.0)
    contact = None if sim.contact_test is None else (sim.contact_test.site,
                                                     sim.contact_test.resistance)
    return Wafer(getattr(presets, sim.preset.upper()), sim.wafer_seed, sim.dead_fraction,
                 sim.temperature_k, gradient, sim.sites, contact)


def matrix_site_locator(config: StationConfig, wafer: Any, chuck: Any, matrix: Any) -> Any:
    """Which site the TE source reaches: the site whose <site>.TE pad column is closed to the
    TE instrument's input row and whose <site>.BE pad, if cabled to the matrix, is closed to the
    ground input's row (a BE pad not cabled is hard-wired to ground);
    the lowest-index site if several; None (open) if none. The index counts the subsite."""
    from .config import GROUND_INPUTS

    wiring = config.matrix
    wire = config.terminals.get("TE")
    if wiring is None or not isinstance(wire, TerminalWire):
        raise ConfigError(f"station {config.name!r}: sim.sites need a matrix section and TE "
                          "wired to an instrument (the SMU reaches a site through the matrix)")
    source = f"{wire.instrument}.{wire.channel}"
    if source not in wiring.inputs:
        raise ConfigError(f"station {config.name!r}: sim.sites: TE's {source!r} is not a matrix "
                          f"input (matrix.inputs: {', '.join(wiring.inputs)})")
    row = wiring.inputs[source]
    ground = next((wiring.inputs[g] for g in GROUND_INPUTS if g in wiring.inputs), None)
    wanted: list[tuple[int, int | None]] = []
    for site in wafer.sites:
        if f"{site}.TE" not in wiring.pads:
            raise ConfigError(f"station {config.name!r}: sim.sites: site {site!r} has no pad "
                              f"'{site}.TE' in matrix.pads ({', '.join(wiring.pads)})")
        be = wiring.pads.get(f"{site}.BE")
        if be is not None and ground is None:
            raise ConfigError(f"station {config.name!r}: pad '{site}.BE' needs a ground input "
                              f"({' / '.join(GROUND_INPUTS)}) in matrix.inputs")
        wanted.append((wiring.pads[f"{site}.TE"], be))
    if not callable(getattr(matrix, "crosspoints", None)):
        raise ConfigError(f"station {config.name!r}: sim.sites: the simulated matrix "
                          f"{wiring.instrument!r} does not report its closed crosspoints")
    per_subsite = len(wafer.sites)

    def reached() -> int | None:
        closed = matrix.crosspoints()
        for index, (te, be) in enumerate(wanted):
            if (row, te) in closed and (be is None or (ground, be) in closed):
                return index + chuck.subsite * per_subsite
        return None

    return reached


def build_probed_device(config: StationConfig, chuck: Any, matrix: Any = None) -> Any:
    """With a prober: the DUT is the device at `sim.device_index` on the die the prober's chuck
    is on, touched only in contact (`sim.die` is then unused: the prober chooses the die). With
    `sim.sites` the matrix twin's closed crosspoints choose the site (see matrix_site_locator).
    `sim.wafer_radius_dies` and `sim.subsites` set the prober's map."""
    from labsyn.mock_instruments.mpi_sentio import round_wafer
    from labsyn.mock_instruments.wafer import ProbedDevice

    sim = config.sim
    wafer = build_wafer(config)
    if sim.wafer_radius_dies is not None:
        chuck.set_dies(round_wafer(sim.wafer_radius_dies))
    chuck.subsites = sim.subsites
    site = None
    if sim.sites or sim.contact_test is not None:
        if matrix is None:
            raise ConfigError(f"station {config.name!r}: sim.sites need a switch matrix")
        site = matrix_site_locator(config, wafer, chuck, matrix)
    return ProbedDevice(wafer, chuck.probed, sim.device_index, site)


def build_photonic_device(config: StationConfig) -> Any:
    """A photodetecting synapse under a fibre (its pose linked to the hexapod by build_bench)."""
    from labsyn.mock_instruments.optics import PhotonicSynapse

    sim = config.sim
    return PhotonicSynapse(
        optimum={axis.upper(): value for axis, value in sim.fibre_optimum.items()},
        mode_radius_mm=sim.mode_radius_um * 1e-3, wavelength_mm=sim.wavelength_um * 1e-3,
        device_mode_radius_mm=(None if sim.device_mode_radius_um is None
                               else sim.device_mode_radius_um * 1e-3),
        optical_power_w=sim.optical_power_w, responsivity_a_per_w=sim.responsivity_a_per_w,
        dark_current_a=sim.dark_current_a, leak_resistance=sim.leak_resistance,
        noise_a=sim.detector_noise_a, seed=sim.wafer_seed)


def link_fibre(bench: Any, device: Any, simulators: dict[str, Any]) -> None:
    """The fibre is on the station's (first) hexapod: the DUT reads its pose at the timeline's
    time (a reading's instant)."""
    stages = [s for s in simulators.values() if callable(getattr(s, "pose_at", None))]
    if stages:
        device.pose_source = lambda: stages[0].pose_at(bench.timeline.time)


MAX_THERMAL_STEP_K = 0.25
MAX_THERMAL_PIECES = 400


def follow_chuck(dut: Any, head: Any, ambient_k: float) -> None:
    """The DUT's temperature follows the thermal head's (settling) temperature as the timeline
    integrates: each interval is cut where the temperature moves by more than
    `MAX_THERMAL_STEP_K`, the device taking the temperature at each piece's middle."""
    head.set_ambient(ambient_k)
    if not hasattr(dut.device, "temperature_k"):
        return
    integrate = dut.integrate

    def integrate_at_chuck_temperature(t0: float, t1: float) -> None:
        change = abs(head.temperature_at(t1) - head.temperature_at(t0))
        pieces = min(MAX_THERMAL_PIECES, max(1, math.ceil(change / MAX_THERMAL_STEP_K)))
        edges = [t0 + (t1 - t0) * k / pieces for k in range(pieces + 1)]
        for a, b in itertools.pairwise(edges):
            dut.device.temperature_k = head.temperature_at(0.5 * (a + b))
            integrate(a, b)

    dut.integrate = integrate_at_chuck_temperature


def build_bench(config: StationConfig) -> Any:
    """Instruments at the station's addresses, wired to one DUT as the terminals say."""
    from labsyn.mock_instruments.bench import Bench

    bench = Bench(clock_mode=config.clock, speedup=config.speedup,
                  latency_s=config.sim.latency_s)
    declared = sum(w.series_resistance for w in config.terminals.values()
                   if isinstance(w, TerminalWire))
    dut = bench.add_dut("dut", build_device(config), config.sim.series_resistance + declared)
    simulators = {}
    for name, inst in config.instruments.items():
        simulator = DRIVERS[inst.driver].simulator_class()(name=name)
        simulators[name] = bench.add_instrument(inst.address, simulator)
    probers = [simulators[n] for n, inst in config.instruments.items()
               if DRIVERS[inst.driver].kind == "Prober" and hasattr(simulators[n], "chuck")]
    if probers and config.sim.device == "rram":
        matrix = simulators[config.matrix.instrument] if config.matrix else None
        dut.device = build_probed_device(config, probers[0].chuck, matrix)
        bench.wafer = dut.device.wafer  # the ground truth, for tests and checks
    if config.sim.device == "photonic":
        link_fibre(bench, dut.device, simulators)
    heads = [simulators[n] for n, inst in config.instruments.items()
             if DRIVERS[inst.driver].kind == "Thermal"]
    if heads:
        follow_chuck(dut, heads[0], config.sim.temperature_k)
    for terminal, wire in config.terminals.items():
        if isinstance(wire, TerminalWire):
            simulator = simulators[wire.instrument]
            outputs = getattr(simulator, "channels_by_number", None)
            bench.wire(dut, terminal, simulator.channel if outputs is None
                       else outputs[wire.channel])
        else:
            bench.wire(dut, terminal, "ground")
    for link in config.triggers:
        bench.link(config.instruments[link.source_instrument].address, link.source_line,
                   config.instruments[link.target_instrument].address, link.target_line,
                   link.delay_s)
    return bench
