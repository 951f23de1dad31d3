"""Build the simulated bench a station file describes (the labsyn-sim backend)."""

from __future__ import annotations

from typing import Any

from .config import StationConfig, TerminalWire
from .registry import DRIVERS


def build_device(config: StationConfig) -> Any:
    """The simulated DUT: an RRAM cell keyed by (wafer seed, die, device) or a resistor."""
    sim = config.sim
    if sim.device == "resistor":
        from labsyn.mock_instruments.resistor import Resistor

        return Resistor(sim.resistance)
    from labsyn.mock_instruments import presets
    from labsyn.mock_instruments.device_model import RRAMDevice

    preset = getattr(presets, sim.preset.upper())
    return RRAMDevice.from_key(preset, sim.wafer_seed, sim.die, sim.device_index,
                               temperature_k=sim.temperature_k)


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
