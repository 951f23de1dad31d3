"""An opened station: drivers by name, DUT terminals, limits, clock, snapshot and safe state."""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from labsyn import __version__
from labsyn.clock import Clock, MonotonicClock, SimClock
from labsyn.errors import ConfigError, InstrumentError, LimitError

from .config import StationConfig, TerminalWire, load_station_config
from .registry import DRIVERS

SAFE_STATE_ORDER = ("SourceMeter", "PulseGenerator", "SwitchMatrix", "Prober", "Positioner6D",
                    "FastAligner", "Thermal")


@dataclass(frozen=True)
class TerminalBinding:
    """What a DUT terminal is wired to."""

    terminal: str
    instrument: str | None
    driver: Any
    channel: int
    max_voltage: float
    series_resistance: float = 0.0
    kind: str = ""  # registry kind: SourceMeter, PulseGenerator
    load: float | None = None  # pulse generator output-load setting, Ω (math.inf = high-Z)
    transistor: bool = False

    def at_device(self, level: float) -> float:
        """The open-circuit voltage a programmed `level` puts on the device: a 50 Ω-set
        generator delivers twice its programmed level into a high-impedance device."""
        return 2.0 * level if self.load == 50.0 else level

    @property
    def grounded(self) -> bool:
        return self.instrument is None


class Station:
    """Opened instruments plus the wiring and limits of one station file."""

    def __init__(self, config: StationConfig, source: str = "<config>") -> None:
        self.config = config
        self.source = source
        self.bench: Any = None
        self.clock: Clock
        self.instruments: dict[str, Any] = {}
        if config.backend == "labsyn-sim":
            from .simulated import build_bench

            self.bench = build_bench(config)
            self.clock = self.bench.clock
        elif config.backend == "pyvisa-sim":
            self.clock = SimClock("instant")
        else:
            self.clock = MonotonicClock()
        try:
            for name, inst in config.instruments.items():
                self.instruments[name] = self._open(name, inst)
            self._set_pulse_loads()
            self._install_cold_switching()
        except Exception:
            self.close()
            raise

    @classmethod
    def open(cls, path: str | Path) -> Station:
        return cls(load_station_config(path), str(path))

    def _open(self, name: str, inst: Any) -> Any:
        entry = DRIVERS[inst.driver]
        kwargs: dict[str, Any] = {"timeout": inst.options.get("timeout_ms", 10_000)}
        if self.config.backend == "labsyn-sim":
            kwargs["visa_library"] = self.bench.visa_library()
        elif self.config.backend == "pyvisa-sim":
            yaml_path = files("labsyn.mock_instruments.pyvisa_sim") / entry.pyvisa_sim_file
            kwargs["visa_library"] = f"{yaml_path}@sim"
        elif self.config.visa_library:
            kwargs["visa_library"] = self.config.visa_library
        if entry.kind == "Positioner6D" and self.config.limits.stage_envelope:
            kwargs["envelope"] = dict(self.config.limits.stage_envelope)
        if entry.kind == "Thermal" and self.config.limits.temperature_k is not None:
            kwargs["temperature_limits_k"] = tuple(self.config.limits.temperature_k)
        driver = entry.driver_class()(inst.address, name=name, clock=self.clock, **kwargs)
        driver.dry_run = self.dry_run
        return driver

    def _set_pulse_loads(self) -> None:
        """Each pulse generator's output-load setting as the station declares it."""
        for terminal in self.config.terminals:
            binding = self.terminal(terminal)
            if binding.kind == "PulseGenerator" and binding.load is not None:
                binding.driver.load = binding.load

    # -- wiring and limits ----------------------------------------------------------------------
    def terminal(self, name: str) -> TerminalBinding:
        wire = self.config.terminals.get(name)
        if wire is None:
            raise ConfigError(f"{self.source}: terminal {name!r} is not wired; wired terminals: "
                              f"{', '.join(self.config.terminals)}")
        limit = self.config.limits.max_voltage.get(name, self.config.limits.max_device_voltage)
        if isinstance(wire, TerminalWire):
            kind = DRIVERS[self.config.instruments[wire.instrument].driver].kind
            load = None if wire.load is None else (math.inf if wire.load == "high-z" else 50.0)
            return TerminalBinding(name, wire.instrument,
                                   self._channel(wire.instrument, wire.channel), wire.channel,
                                   limit, wire.series_resistance, kind, load, wire.transistor)
        return TerminalBinding(name, None, None, 0, 0.0)

    def _channel(self, instrument: str, channel: int) -> Any:
        """The driver serving `channel`: the instrument, or its channel object if it has several
        (`channels_by_number`, e.g. a 2636B's smua / smub as 1 / 2)."""
        driver = self.instruments[instrument]
        by_number = getattr(driver, "channels_by_number", None)
        if by_number is None:
            if channel != 1:
                raise ConfigError(f"{self.source}: instrument {instrument!r} has one channel; "
                                  f"channel {channel} does not exist")
            return driver
        if channel not in by_number:
            raise ConfigError(f"{self.source}: instrument {instrument!r} has channels "
                              f"{', '.join(map(str, by_number))}; channel {channel} does not "
                              "exist")
        return by_number[channel]

    def check_voltage(self, terminal: str, volts: float) -> None:
        """Refuse a level beyond the terminal's or the device's station limit."""
        binding = self.terminal(terminal)
        limit = min(binding.max_voltage, self.config.limits.max_device_voltage)
        at_device = binding.at_device(volts)
        if binding.grounded or abs(at_device) > limit:
            doubled = " (a 50 Ω-set generator doubles its level at the device)" if (
                at_device != volts) else ""
            raise LimitError(f"station {self.config.name!r} {terminal} voltage", volts,
                             f"|V| ≤ {limit:g} V at the device{doubled} (limits.max_voltage / "
                             "max_device_voltage)" if not binding.grounded
                             else "none: the terminal is grounded")
        if binding.kind == "PulseGenerator" and not binding.transistor:
            self._check_short_circuit(binding, at_device)

    def _check_short_circuit(self, binding: TerminalBinding, at_device: float) -> None:
        """A generator has no compliance: into a shorted device its current is V / (R_s + Z)."""
        impedance = getattr(getattr(binding.driver, "limits", None), "output_impedance", 50.0)
        current = abs(at_device) / (binding.series_resistance + impedance)
        limit = self.config.limits.max_current_limit
        if current > limit:
            raise LimitError(f"station {self.config.name!r} {binding.terminal} pulse current "
                             f"into a short ({abs(at_device):g} V through "
                             f"{binding.series_resistance:g} Ω + {impedance:g} Ω)", current,
                             f"≤ {limit:g} A (limits.max_current_limit): a larger "
                             "series_resistance or a transistor")

    def trigger_link(self, from_instrument: str, to_instrument: str) -> Any:
        """The declared trigger cable from one instrument to another (a `TriggerLinkConfig`:
        `source_line`, `target_line`, `delay_s`); `ConfigError` if the station has none."""
        for link in self.config.triggers:
            if (link.source_instrument, link.target_instrument) == (from_instrument,
                                                                    to_instrument):
                return link
        declared = ", ".join(f"{k.source} -> {k.target}" for k in self.config.triggers)
        raise ConfigError(f"{self.source}: no trigger link from {from_instrument!r} to "
                          f"{to_instrument!r} (triggers: {declared or 'none declared'})")

    def check_current_limit(self, amps: float) -> None:
        limit = self.config.limits.max_current_limit
        if not 0 < amps <= limit:
            raise LimitError(f"station {self.config.name!r} compliance", amps,
                             f"0 < I ≤ {limit:g} A (limits.max_current_limit)")

    # -- state ----------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """IDNs and the station description, for run files."""
        instruments = {}
        for name, driver in self.instruments.items():
            inst = self.config.instruments[name]
            try:
                idn = driver.id
            except Exception as exc:
                idn = f"unavailable: {exc}"
            instruments[name] = {"driver": inst.driver, "address": inst.address, "idn": idn,
                                 "simulated": self.simulated}
        return {"station": self.config.name, "source": self.source,
                "backend": self.config.backend, "labsyn_version": __version__,
                "instruments": instruments,
                "terminals": {t: (w if isinstance(w, str) else w.model_dump())
                              for t, w in self.config.terminals.items()},
                "limits": self.config.limits.model_dump(),
                "triggers": [link.model_dump(by_alias=True) for link in self.config.triggers]}

    @property
    def dry_run(self) -> bool:
        """Stock pyvisa-sim: static replies, so no physical data."""
        return self.config.backend == "pyvisa-sim"

    @property
    def simulated(self) -> bool:
        return self.config.backend != "visa"

    # -- shared instruments by role --------------------------------------------------------------
    def by_kind(self, kind: str) -> Any:
        """The one instrument of a capability kind ("SwitchMatrix", "Positioner6D", "Prober")."""
        names = [n for n, inst in self.config.instruments.items()
                 if DRIVERS[inst.driver].kind == kind]
        if len(names) != 1:
            found = f"instruments {', '.join(names)}" if names else "none"
            raise ConfigError(f"{self.source}: station {self.config.name!r} needs exactly one "
                              f"{kind}; it has {found}")
        return self.instruments[names[0]]

    @property
    def matrix(self) -> Any:
        return self.by_kind("SwitchMatrix")

    @property
    def stage(self) -> Any:
        return self.by_kind("Positioner6D")

    @property
    def prober(self) -> Any:
        return self.by_kind("Prober")

    @property
    def thermal(self) -> Any:
        return self.by_kind("Thermal")

    @property
    def has_thermal(self) -> bool:
        return any(DRIVERS[inst.driver].kind == "Thermal"
                   for inst in self.config.instruments.values())

    def _install_cold_switching(self) -> None:
        """Matrices switch only while every source is held off (in its safe state)."""
        for name, inst in self.config.instruments.items():
            if DRIVERS[inst.driver].kind == "SwitchMatrix":
                self.instruments[name].interlock = self._require_sources_off

    def _require_sources_off(self, action: str) -> None:
        live = [name for name, inst in self.config.instruments.items()
                if DRIVERS[inst.driver].kind in ("SourceMeter", "PulseGenerator")
                and not self.instruments[name].safed.is_set()]
        if live:
            raise InstrumentError("matrix", action, f"relays switch cold only: source(s) "
                                  f"{', '.join(live)} may be on; use station.route(), which "
                                  "turns every source off first")

    def route(self, connections: dict[str, str]) -> set[tuple[int, int]]:
        """Connect DUT pads to instrument channels through the matrix, in one call: every source
        off first (relays are switched cold; the next run rearms them), then the matrix opens
        what must open, closes what must close and reads back. `connections` maps a pad to
        '<instrument>.<channel>', e.g. {"TE": "smu.1", "BE": "smu.2"}. Because sources go off,
        routing cannot alternate a pulser and an SMU pulse by pulse: use a trigger link."""
        wiring = self.config.matrix
        if wiring is None:
            raise ConfigError(f"{self.source}: station {self.config.name!r} declares no matrix "
                              "wiring (a `matrix:` section with inputs and pads)")
        crosspoints = set()
        for pad, source in connections.items():
            if pad not in wiring.pads:
                raise ConfigError(f"route: pad {pad!r} is not cabled to the matrix; pads: "
                                  f"{', '.join(wiring.pads)}")
            if source not in wiring.inputs:
                raise ConfigError(f"route: {pad} -> {source!r}: not cabled to the matrix; "
                                  f"inputs: {', '.join(wiring.inputs)}")
            crosspoints.add((wiring.inputs[source], wiring.pads[pad]))
        matrix = self.instruments[wiring.instrument]
        for name, inst in self.config.instruments.items():
            if DRIVERS[inst.driver].kind in ("SourceMeter", "PulseGenerator"):
                self.instruments[name].safe_off()
        matrix.rearm()
        return matrix.route(crosspoints)

    def arm(self) -> None:
        """Allow outputs again after a safe state (each driver's `rearm()`)."""
        for driver in self.instruments.values():
            rearm = getattr(driver, "rearm", None)
            if rearm is not None:
                rearm()

    def safe_state(self) -> None:
        """`safe_off()` on every instrument, sources first (so relays then open cold and the
        chuck separates with no voltage on the probes), then matrices, probers and stages; all
        are tried, the first failure is raised."""
        problems: list[Exception] = []
        order = {kind: i for i, kind in enumerate(SAFE_STATE_ORDER)}
        ranked = sorted(self.instruments.items(), key=lambda item: order.get(
            DRIVERS[self.config.instruments[item[0]].driver].kind, 0))
        for name, driver in ranked:
            try:
                driver.safe_off()
            except Exception as exc:
                problems.append(exc if isinstance(exc, InstrumentError) else
                                InstrumentError(name, "safe_off", str(exc)))
        if problems:
            raise problems[0]

    def close(self) -> None:
        for driver in self.instruments.values():
            try:
                driver.adapter.close()
                if self.config.backend == "pyvisa-sim":
                    driver.adapter.manager.close()
            except Exception:
                pass
        self.instruments.clear()

    def __enter__(self) -> Station:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.safe_state()
        finally:
            self.close()
