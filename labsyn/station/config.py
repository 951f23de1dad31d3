"""The station file: instruments, DUT-terminal wiring, safety limits, backend and simulation.

Loaded from YAML and validated on load; every problem is reported with the file, the line, the
key and what is allowed, e.g. ``station.yaml:7: instruments.smu.driver: 'keithley2450' is not
one of keithley_2450``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from labsyn.errors import ConfigError
from labsyn.yaml_source import Lines, line_of, load_yaml

from .registry import DRIVERS

TERMINALS = ("TE", "BE", "gate", "drain", "source")
PRESETS = ("hfox", "hfox_slow", "ag_asi", "taox_hfox", "pcmo", "alox_hfo2", "epiram")
SIMULATED_TERMINALS = ("TE", "BE")
GROUND_INPUTS = ("gnd", "ground", "GND")  # names of a matrix input cabled to ground


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InstrumentConfig(_Strict):
    driver: str = Field(description="driver family, e.g. keithley_2450")
    address: str = Field(description="VISA resource name, e.g. GPIB0::24::INSTR")
    options: dict[str, Any] = Field(default_factory=dict, description="driver keyword options")

    @field_validator("driver")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        if value not in DRIVERS:
            raise ValueError(f"{value!r} is not one of {', '.join(sorted(DRIVERS))}")
        return value

    @field_validator("address")
    @classmethod
    def _visa_name(cls, value: str) -> str:
        from pyvisa import rname

        try:
            rname.parse_resource_name(value)
        except rname.InvalidResourceName:
            raise ValueError(f"{value!r} is not a VISA resource name (e.g. GPIB0::24::INSTR, "
                             "TCPIP0::10.0.0.5::inst0::INSTR, USB0::0x05E6::0x2450::SN::INSTR)"
                             ) from None
        return value

    @field_validator("options")
    @classmethod
    def _known_options(cls, value: dict[str, Any]) -> dict[str, Any]:
        allowed = {"timeout_ms"}
        unknown = set(value) - allowed
        if unknown:
            raise ValueError(f"unknown option(s) {', '.join(sorted(unknown))}; allowed: "
                             f"{', '.join(sorted(allowed))}")
        timeout = value.get("timeout_ms", 10_000)
        if not isinstance(timeout, int) or not 10 <= timeout <= 3_600_000:
            raise ValueError(f"timeout_ms {timeout!r} must be an integer 10 … 3600000")
        return value


class TerminalWire(_Strict):
    instrument: str = Field(description="name of an instrument in `instruments`")
    channel: int = Field(1, ge=1, le=10, description="channel of that instrument (B1500: slot)")
    series_resistance: float = Field(0.0, ge=0, le=1e7, description="known resistance in series "
                                     "with the terminal (probe, line, resistor), Ω")
    load: Literal[50, "high-z"] | None = Field(
        None, description="pulse generator: its output-load setting (50 Ω or high-z)")
    transistor: bool = Field(False, description="pulse generator: writes through a series "
                             "transistor that limits the current (1T1R)")


class TriggerLinkConfig(_Strict):
    """A trigger cable: ``{from: smu.DIG1, to: pg.EXT}`` (instrument.line, both declared)."""

    source: str = Field(alias="from", description="instrument.output_line, e.g. smu.DIG1")
    target: str = Field(alias="to", description="instrument.input_line, e.g. pg.EXT")
    delay_s: float = Field(0.0, ge=0, le=1e-3, description="cable delay, s")

    @field_validator("source", "target")
    @classmethod
    def _instrument_dot_line(cls, value: str) -> str:
        instrument, dot, line = value.partition(".")
        if not dot or not instrument or not line or "." in line:
            raise ValueError(f"{value!r} is not instrument.line (e.g. smu.DIG1, pg.EXT)")
        return f"{instrument}.{line.upper()}"

    @property
    def source_instrument(self) -> str:
        return self.source.partition(".")[0]

    @property
    def source_line(self) -> str:
        return self.source.partition(".")[2]

    @property
    def target_instrument(self) -> str:
        return self.target.partition(".")[0]

    @property
    def target_line(self) -> str:
        return self.target.partition(".")[2]


class Limits(_Strict):
    max_voltage: dict[str, Annotated[float, Field(gt=0, le=250)]] = Field(
        default_factory=dict, description="max |V| per DUT terminal, V")
    max_device_voltage: float = Field(5.0, gt=0, le=250, description="max |V_TE − V_BE|, V")
    max_current_limit: float = Field(1e-2, gt=0, le=1.05, description="max compliance, A")
    stage_envelope: dict[Literal["x", "y", "z", "u", "v", "w"], tuple[float, float]] = Field(
        default_factory=dict, description="6-D stage targets allowed per axis, [low, high] "
        "(mm for x y z, degrees for u v w); the stage refuses anything outside")
    temperature_k: tuple[float, float] | None = Field(
        None, description="thermal chuck / head setpoints allowed, [low, high] K; the driver "
        "refuses anything outside")

    @field_validator("temperature_k")
    @classmethod
    def _temperature_ordered(cls, value: tuple[float, float] | None
                             ) -> tuple[float, float] | None:
        if value is not None and not 0 < value[0] < value[1]:
            raise ValueError(f"[{value[0]}, {value[1]}] must have 0 < low < high (K)")
        return value

    @field_validator("stage_envelope")
    @classmethod
    def _ordered(cls, value: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
        for axis, (low, high) in value.items():
            if not low < high:
                raise ValueError(f"{axis}: [{low}, {high}] must have low < high")
        return value


class ContactTestSim(_Strict):
    """The contact-test structure on every die: a resistor at matrix pads <site>.TE/<site>.BE."""

    site: str = Field(description="site name, e.g. R1 (pads R1.TE, R1.BE)")
    resistance: float = Field(10e3, gt=0, le=1e12, description="Ω")


class GradientSim(_Strict):
    """Smooth variation across the wafer, relative to the centre die (mock_instruments/wafer)."""

    v_form_edge: float = Field(0.0, ge=-0.8, le=2.0, description="relative change of the "
                               "V_form Weibull scale at the wafer edge (r = wafer radius)")
    v_form_tilt: float = Field(0.0, ge=-0.8, le=2.0, description="relative change of the V_form "
                               "scale at ±radius along the tilt direction")
    window_edge: float = Field(0.0, ge=-0.8, le=2.0, description="relative change of G_on (the "
                               "conductance window) at the edge")
    window_tilt: float = Field(0.0, ge=-0.8, le=2.0, description="relative change of G_on at "
                               "±radius along the tilt direction")
    tilt_deg: float | None = Field(None, ge=-360, le=360, description="tilt direction from the "
                                   "+column axis, degrees (default: drawn from wafer_seed)")


class SimConfig(_Strict):
    device: Literal["rram", "resistor", "photonic"] = "rram"
    preset: str = "hfox"
    resistance: float = Field(10e3, gt=0, description="resistor DUT, Ω")
    wafer_seed: int = Field(1, ge=0)
    die: tuple[int, int] = (0, 0)
    device_index: int = Field(0, ge=0)
    dead_fraction: float = Field(0.0, ge=0, le=1, description="with a prober: the fraction "
                                 "of the wafer's devices that are dead (read open), seeded")
    series_resistance: float = Field(0.0, ge=0, le=1e7, description="resistance the station "
                                     "does not declare (contact, line), added to the terminals'")
    # a wafer of several sites per die under a prober, reached through the matrix
    sites: list[str] = Field(default_factory=list, description="with a prober and a matrix: "
                             "the device sites of each die (pads <site>.TE, <site>.BE); the SMU "
                             "reaches the site whose pads the matrix connects to it and to gnd")
    contact_test: ContactTestSim | None = Field(None, description="the contact-test resistor "
                                                "of each die, e.g. {site: R1, resistance: 1e4}")
    wafer_radius_dies: float | None = Field(None, gt=0, le=500, description="with a prober: "
                                            "every die within this radius (dies) is on the "
                                            "wafer (default: the prober's six-die map)")
    subsites: int = Field(1, ge=1, le=100, description="with a prober: subsites per die (each "
                          "subsite holds its own devices)")
    gradient: GradientSim = Field(default_factory=GradientSim, description="spatial gradients "
                                  "of V_form and the conductance window")
    temperature_k: float = Field(300.0, ge=4, le=800)
    latency_s: float = Field(100e-6, ge=0, le=1.0)
    # photonic: a fibre on the station's hexapod couples light into a photodetecting synapse
    mode_radius_um: float = Field(5.2, gt=0, le=1e3, description="photonic: fibre mode "
                                  "radius (1/e² intensity), µm")
    device_mode_radius_um: float | None = Field(None, gt=0, le=1e3, description="photonic: "
                                                "device mode radius, µm (default: the fibre's)")
    wavelength_um: float = Field(1.55, gt=0.2, le=20, description="photonic: wavelength, µm")
    optical_power_w: float = Field(1e-4, ge=0, le=1.0, description="photonic: power in the "
                                   "fibre, W")
    responsivity_a_per_w: float = Field(0.5, ge=0, le=10, description="photonic: A/W")
    dark_current_a: float = Field(1e-9, ge=0, le=1e-3, description="photonic: dark current, A")
    leak_resistance: float = Field(1e9, gt=0, description="photonic: ohmic leak, Ω")
    detector_noise_a: float = Field(5e-8, ge=0, le=1e-3, description="photonic: rms detector "
                                    "noise on each reading, A (seeded by wafer_seed)")
    fibre_optimum: dict[Literal["x", "y", "z", "u", "v", "w"], float] = Field(
        default_factory=dict, description="photonic: the hexapod pose of best coupling (mm for "
        "x y z, degrees for u v w; 0 where not given); the pivot is at the fibre tip")

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, value: str) -> str:
        if value.lower() not in PRESETS:
            raise ValueError(f"{value!r} is not one of {', '.join(PRESETS)}")
        return value.lower()

    @model_validator(mode="after")
    def _site_names(self) -> SimConfig:
        names = self.sites + ([self.contact_test.site] if self.contact_test else [])
        bad = [n for n in names if not re.fullmatch(r"[A-Za-z_][\w-]*", n)]
        if bad:
            raise ValueError(f"sim.sites: {', '.join(map(repr, bad))} not a site name (letters, "
                             "digits, _ or -, e.g. D1)")
        if len(set(names)) != len(names):
            raise ValueError(f"sim.sites: names repeat ({', '.join(names)}, contact test "
                             "included)")
        return self


class MatrixWiring(_Strict):
    """Which matrix input each instrument channel is cabled to, and which output each DUT pad."""

    instrument: str = Field(description="name of the switch matrix in `instruments`")
    inputs: dict[str, Annotated[int, Field(ge=1, le=64)]] = Field(
        description="'<instrument>.<channel>' -> matrix input (row), e.g. smu.1: 1")
    pads: dict[str, Annotated[int, Field(ge=1, le=64)]] = Field(
        description="DUT pad (terminal) -> matrix output (column), e.g. TE: 3")


class StationConfig(_Strict):
    name: str = "station"
    backend: Literal["labsyn-sim", "pyvisa-sim", "visa"] = "labsyn-sim"
    visa_library: str = Field("", description="for backend visa: '' (default), '@py', a path")
    clock: Literal["instant", "paced", "real"] = "instant"
    speedup: float = Field(100.0, gt=0, le=1e6)
    instruments: dict[str, InstrumentConfig]
    terminals: dict[str, TerminalWire | Literal["ground"]]
    limits: Limits = Field(default_factory=Limits)
    sim: SimConfig = Field(default_factory=SimConfig)
    triggers: list[TriggerLinkConfig] = Field(default_factory=list, description="trigger "
                                              "cables between instruments")
    matrix: MatrixWiring | None = Field(None, description="switch-matrix cabling")

    @field_validator("terminals")
    @classmethod
    def _terminal_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        unknown = [t for t in value if t not in TERMINALS]
        if unknown:
            raise ValueError(f"terminal(s) {', '.join(unknown)} not one of {', '.join(TERMINALS)}")
        return value

    @model_validator(mode="after")
    def _wiring(self) -> StationConfig:
        for terminal, wire in self.terminals.items():
            if isinstance(wire, TerminalWire) and wire.instrument not in self.instruments:
                raise ValueError(f"terminals.{terminal}.instrument {wire.instrument!r} is not "
                                 f"one of the instruments: {', '.join(self.instruments)}")
        for terminal in self.limits.max_voltage:
            if terminal not in self.terminals:
                raise ValueError(f"limits.max_voltage.{terminal}: no such terminal "
                                 f"(terminals: {', '.join(self.terminals)})")
        if self.backend == "labsyn-sim":
            extra = [t for t in self.terminals if t not in SIMULATED_TERMINALS]
            if extra:
                raise ValueError(f"terminals {', '.join(extra)}: the simulated DUT is two-terminal "
                                 f"({', '.join(SIMULATED_TERMINALS)})")
        for terminal, wire in self.terminals.items():
            if isinstance(wire, TerminalWire):
                _check_pulse_wiring(terminal, wire, self.instruments[wire.instrument].driver)
        if self.matrix is not None:
            _check_matrix_wiring(self.matrix, self.instruments)
        used = [(w.instrument, w.channel) for w in self.terminals.values()
                if isinstance(w, TerminalWire)]
        if len(used) != len(set(used)):
            raise ValueError("two terminals are wired to the same instrument channel")
        for index, link in enumerate(self.triggers):
            _check_trigger_link(index, link, self.instruments)
        return self


def _check_matrix_wiring(matrix: MatrixWiring, instruments: dict[str, Any]) -> None:
    if matrix.instrument not in instruments or \
            DRIVERS[instruments[matrix.instrument].driver].kind != "SwitchMatrix":
        raise ValueError(f"matrix.instrument {matrix.instrument!r} is not a switch matrix of "
                         f"the instruments: {', '.join(instruments)}")
    for source in matrix.inputs:
        name, _, channel = source.partition(".")
        if source not in GROUND_INPUTS and (name not in instruments or not channel.isdigit()):
            raise ValueError(f"matrix.inputs.{source}: expected '<instrument>.<channel>' with "
                             f"an instrument of: {', '.join(instruments)}, or a grounded "
                             f"input: {' / '.join(GROUND_INPUTS)}")
    for kind, table in (("input", matrix.inputs), ("output", matrix.pads)):
        taken = list(table.values())
        if len(taken) != len(set(taken)):
            raise ValueError(f"matrix: two entries share one matrix {kind}")
    for pad in matrix.pads:
        site, dot, terminal = pad.rpartition(".")
        if (terminal if dot else pad) not in TERMINALS or (dot and not site):
            raise ValueError(f"matrix.pads.{pad}: not a terminal ({', '.join(TERMINALS)}) or "
                             "<site>.<terminal> (e.g. D1.TE)")


def _check_pulse_wiring(terminal: str, wire: TerminalWire, driver: str) -> None:
    """A pulse generator has no current limit: it writes through a declared series resistor or
    transistor, and its output-load setting is declared (the levels refer to it)."""
    if DRIVERS[driver].kind != "PulseGenerator":
        if wire.load is not None or wire.transistor:
            raise ValueError(f"terminals.{terminal}: load and transistor apply to a pulse "
                             f"generator; {wire.instrument!r} is a {DRIVERS[driver].kind}")
        return
    if wire.load is None:
        raise ValueError(f"terminals.{terminal}.load: required for pulse generator "
                         f"{wire.instrument!r}: 50 or high-z (its output-load setting)")
    if wire.series_resistance <= 0 and not wire.transistor:
        raise ValueError(f"terminals.{terminal}: pulse generator {wire.instrument!r} has no "
                         "current limit; declare the series_resistance (Ω) it writes through, "
                         "or transistor: true")


def _check_trigger_link(index: int, link: TriggerLinkConfig,
                        instruments: dict[str, InstrumentConfig]) -> None:
    """Both ends name a station instrument and a trigger line its driver declares."""
    for key, instrument, line, direction in (
            ("from", link.source_instrument, link.source_line, "outputs"),
            ("to", link.target_instrument, link.target_line, "inputs")):
        if instrument not in instruments:
            raise ValueError(f"triggers.{index}.{key}: instrument {instrument!r} is not one of "
                             f"the instruments: {', '.join(instruments)}")
        driver = instruments[instrument].driver
        lines = getattr(DRIVERS[driver], f"trigger_{direction}")
        if line not in lines:
            raise ValueError(f"triggers.{index}.{key}: {instrument!r} ({driver}) has no trigger "
                             f"{direction[:-1]} line {line!r}; its trigger {direction}: "
                             f"{', '.join(lines) or 'none'}")
    if link.source_instrument == link.target_instrument:
        raise ValueError(f"triggers.{index}: {link.source} to {link.target} links an "
                         "instrument to itself")


def load_station_config(path: str | Path) -> StationConfig:
    """Read and validate a station file; `ConfigError` names file, line, key and what's allowed."""
    path = Path(path)
    data, lines = load_yaml(path, "station file")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a station file is a mapping with keys "
                          "instruments, terminals, limits, …")
    try:
        return StationConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(path, exc, lines)) from None


_PYDANTIC_STEPS = ("function-after", "literal", "TerminalWire")


def _describe(path: Path, exc: ValidationError, lines: Lines) -> str:
    problems = []
    for error in exc.errors():
        loc = tuple(str(p) for p in error["loc"] if not str(p).startswith(_PYDANTIC_STEPS))
        message = error["msg"].removeprefix("Value error, ")
        if not loc:  # a whole-file rule names its key first: "terminals.TE.load: ..."
            named = re.match(r"([\w-]+(?:\.[\w-]+)+)[:\s]", message)
            loc = tuple(named.group(1).split(".")) if named else ()
            key = "" if named else "(top level): "
        else:
            key = ".".join(loc) + ": "
        line = line_of(lines, loc)
        problems.append(f"{path}:{line}: {key}{message}")
    return "invalid station file\n  " + "\n  ".join(problems)
