"""One output channel of the Keysight 33500B / 33600A as a `PulseGenerator`: pymeasure's channel
declarations with labsyn's strict validators, level/timing checks against the load setting, bursts
and arbitrary-waveform trains (the mainframe is in `keysight_33500b`)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from pymeasure.instruments import Instrument
from pymeasure.instruments.agilent.agilent33500 import Agilent33500Channel

from labsyn.errors import InstrumentReplyError, InstrumentReportedError, LimitError

from . import keysight_33500b_program as program
from .base import parse_error
from .capabilities import AbortCheck, PulseGeneratorLimits
from .sequence import PulseTrain, Sequence, SequenceData
from .validators import checked, strict_choice, strict_integer_range, strict_range

LOADS = [50.0, math.inf]  # the output-load settings labsyn uses (the instrument takes 1 Ω–10 kΩ)
ABORT_SLICE_S = 0.05


_LEVEL = (-program.MAX_OPEN_CIRCUIT, program.MAX_OPEN_CIRCUIT)
_SPAN = (0.0, 2 * program.MAX_OPEN_CIRCUIT)
_WIDTH, _PERIOD = (program.MIN_WIDTH, program.MAX_WIDTH), (program.MIN_PERIOD, program.MAX_PERIOD)
_EDGE = (program.MIN_EDGE, program.MAX_EDGE)


def _query(command: str) -> Any:
    """Getter of one number."""
    return lambda channel: channel._number(command)


def _checked(command: str, quantity: str, unit: str, limits: tuple[float, float], kind: str,
             configuration: Any) -> Any:
    """Setter: the value alone, then the whole configuration it makes (levels with the load
    setting, or width/period/edge), then ``<command> <value>``."""
    def setter(channel: Any, value: float) -> None:
        value = strict_range(quantity, unit)(value, limits)
        if kind == "levels":
            program.check_levels(channel.name, *configuration(channel, value),
                                 channel.load_setting())
        else:
            program.check_timing(channel.name, *configuration(channel, value))
        channel.write(f"{command} {value:.9g}")
    return setter


class Keysight33500BChannel(Agilent33500Channel):
    """One output of a 33500B / 33600A (``SOUR<n>:``, ``OUTP<n>``, ``TRIG<n>``).

    labsyn reuses pymeasure's `Agilent33500Channel` command declarations and its ``DATA:ARB:DAC``
    upload, and adds: labsyn's strict validators on every setter (a `LimitError` naming the
    limit instead of a bare ValueError); levels, amplitude and offset checked against the output
    load setting (±5 V into 50 Ω, ±10 V into high-Z, where pymeasure allows ±5 V whatever the
    load) and against each other; width, period and edge checked together; a strict `load`
    (50 or high-Z; pymeasure's `output_load` is unvalidated); polarity and per-channel trigger;
    and the `PulseGenerator` capability with instrument-side bursts and arbitrary waveforms.
    """

    # pymeasure's commands and values, labsyn's validators (dynamic properties)
    shape_validator = strict_choice("function")
    amplitude_unit_validator = strict_choice("amplitude unit")
    square_dutycycle_validator = strict_range("square duty cycle", "%")
    ramp_symmetry_validator = strict_range("ramp symmetry", "%")
    pulse_hold_validator = strict_choice("pulse hold")
    pulse_dutycycle_validator = strict_range("pulse duty cycle", "%")
    burst_state_validator = strict_choice("burst state")
    burst_mode_validator = strict_choice("burst mode")
    burst_period_validator = strict_range("burst period", "s")

    # re-declared: pymeasure's range is wider than the models, not strict, or not a range
    frequency = Instrument.control(
        "SOUR{ch}:FREQ?", "SOUR{ch}:FREQ %.9g", "Control the frequency (Hz, up to the model's).",
        validator=strict_range("frequency", "Hz"), values=(1e-6, 120e6), dynamic=True)
    output = Instrument.control(
        "OUTP{ch}?", "OUTP{ch} %d", "Control the output relay (True = on).",
        validator=strict_choice("output state"), values={True: 1, False: 0}, map_values=True)
    phase = Instrument.control(
        "SOUR{ch}:PHAS?", "SOUR{ch}:PHAS %.9g", "Control the phase (degrees).",
        validator=strict_range("phase", "°"), values=(-360.0, 360.0))
    burst_ncycles = Instrument.control(
        "SOUR{ch}:BURS:NCYC?", "SOUR{ch}:BURS:NCYC %d", "Control the cycles per burst.",
        validator=strict_integer_range("burst cycles"), values=(1, program.MAX_BURST),
        get_process=lambda v: int(float(v)))
    arb_advance = Instrument.control(
        "SOUR{ch}:FUNC:ARB:ADV?", "SOUR{ch}:FUNC:ARB:ADV %s", "Control how the arb advances.",
        validator=strict_choice("arb advance"), values=["TRIG", "SRAT"], cast=str)
    arb_filter = Instrument.control(
        "SOUR{ch}:FUNC:ARB:FILT?", "SOUR{ch}:FUNC:ARB:FILT %s", "Control the arb filter.",
        validator=strict_choice("arb filter"), values=["NORM", "STEP", "OFF"], cast=str)
    arb_srate = Instrument.control(
        "SOUR{ch}:FUNC:ARB:SRAT?", "SOUR{ch}:FUNC:ARB:SRAT %.12g",
        "Control the arb sample rate (Sa/s, up to the model's).",
        validator=strict_range("sample rate", "Sa/s"), values=(program.MIN_SAMPLE_RATE, 1e9),
        dynamic=True)
    polarity = Instrument.control(
        "OUTP{ch}:POL?", "OUTP{ch}:POL %s", "Control the output polarity (inverted about the "
        "offset).", validator=strict_choice("output polarity"), values=["NORM", "INV"], cast=str)
    trigger_source = Instrument.control(
        "TRIG{ch}:SOUR?", "TRIG{ch}:SOUR %s", "Control the channel's trigger source.",
        validator=strict_choice("trigger source"), values=["IMM", "EXT", "TIM", "BUS"], cast=str)
    trigger_delay = Instrument.control(
        "TRIG{ch}:DEL?", "TRIG{ch}:DEL %.9g", "Control the delay from trigger to burst (s).",
        validator=strict_range("trigger delay", "s"), values=(0.0, 1000.0))

    def __init__(self, parent: Any, id: int, **kwargs: Any) -> None:
        super().__init__(parent, id, **kwargs)
        self.name = f"{parent.name} ch{id}"
        self._load: float | None = None
        self._waveforms: dict[str, program.ArbPlan] = {}
        self._max_sample_rate = 250e6
        self._serial = 0

    def configure_model(self, model: program.Model) -> None:
        self.frequency_values = (1e-6, model.max_frequency)
        self.arb_srate_values = (program.MIN_SAMPLE_RATE, model.max_sample_rate)
        self._max_sample_rate = model.max_sample_rate

    # -- transport: one lock across a query ------------------------------------------------------
    def ask(self, command: str, query_delay: float | None = None) -> str:
        return self.parent.ask(self.insert_id(command))

    def _number(self, query: str) -> float:
        reply = self.ask(query)
        try:
            return float(reply)
        except ValueError:
            raise InstrumentReplyError(self.name, self.insert_id(query),
                                       f"reply {reply[:80]!r} is not one number") from None

    def errors(self) -> list[tuple[int, str]]:
        return self.parent.errors()

    # -- output load ------------------------------------------------------------------------------
    def _get_load(self) -> float:
        reply = self.ask("OUTP{ch}:LOAD?")
        try:
            self._load = program.parse_load(reply)
        except ValueError:
            raise InstrumentReplyError(self.name, f"OUTP{self.id}:LOAD?",
                                       f"reply {reply!r} is not a load") from None
        return self._load

    def _set_load(self, load: float) -> None:
        load = strict_choice("output load setting (Ω)")(load, LOADS)
        self.write(f"OUTP{{ch}}:LOAD {program.load_text(load)}")
        self._load = float(load)

    load = checked(_get_load, _set_load, LOADS, "Control the output-load setting the levels "
                   "refer to: 50.0 (Ω) or math.inf (high-Z).")
    output_load = load

    def load_setting(self) -> float:
        """The load setting as last set or read (read once if unknown)."""
        return self._load if self._load is not None else self._get_load()

    @property
    def limits(self) -> PulseGeneratorLimits:
        load = self._load if self._load is not None else 50.0
        return PulseGeneratorLimits(max_level=program.level_limit(load),
                                    min_width=program.MIN_WIDTH, min_period=program.MIN_PERIOD,
                                    min_edge=program.MIN_EDGE, max_pulses=program.MAX_BURST,
                                    output_impedance=program.OUTPUT_IMPEDANCE)

    # -- levels (against the load setting and each other), pulse timing (together) ------------
    voltage_high = checked(
        _query("SOUR{ch}:VOLT:HIGH?"),
        _checked("SOUR{ch}:VOLT:HIGH", "high level", "V", _LEVEL, "levels",
                 lambda ch, v: (v, ch.voltage_low)), _LEVEL,
        "Control the high level (V into the load setting); checked with the low level.")
    voltage_low = checked(
        _query("SOUR{ch}:VOLT:LOW?"),
        _checked("SOUR{ch}:VOLT:LOW", "low level", "V", _LEVEL, "levels",
                 lambda ch, v: (ch.voltage_high, v)), _LEVEL,
        "Control the low level (V into the load setting); checked with the high level.")
    amplitude = checked(
        _query("SOUR{ch}:VOLT?"),
        _checked("SOUR{ch}:VOLT", "amplitude", "Vpp", _SPAN, "levels",
                 lambda ch, v: (ch.offset + v / 2, ch.offset - v / 2)), _SPAN,
        "Control the amplitude (Vpp into the load setting); checked with the offset.")
    offset = checked(
        _query("SOUR{ch}:VOLT:OFFS?"),
        _checked("SOUR{ch}:VOLT:OFFS", "offset", "V", _LEVEL, "levels",
                 lambda ch, v: (v + ch.amplitude / 2, v - ch.amplitude / 2)), _LEVEL,
        "Control the offset (V into the load setting); checked with the amplitude.")
    pulse_width = checked(
        _query("SOUR{ch}:FUNC:PULS:WIDT?"),
        _checked("SOUR{ch}:FUNC:PULS:WIDT", "pulse width", "s", _WIDTH, "timing",
                 lambda ch, v: (v, ch.pulse_period, ch.pulse_transition)), _WIDTH,
        "Control the pulse width (s); checked with the period and edges.")
    pulse_period = checked(
        _query("SOUR{ch}:FUNC:PULS:PER?"),
        _checked("SOUR{ch}:FUNC:PULS:PER", "pulse period", "s", _PERIOD, "timing",
                 lambda ch, v: (ch.pulse_width, v, ch.pulse_transition)), _PERIOD,
        "Control the pulse period (s); checked with the width and edges.")
    pulse_transition = checked(
        _query("SOUR{ch}:FUNC:PULS:TRAN?"),
        _checked("SOUR{ch}:FUNC:PULS:TRAN:BOTH", "edge time", "s", _EDGE, "timing",
                 lambda ch, v: (ch.pulse_width, ch.pulse_period, v)), _EDGE,
        "Control both edge times (s); checked with the width and period.")

    # -- arbitrary waveforms ----------------------------------------------------------------------
    def _get_arb(self) -> str:
        return self.ask("SOUR{ch}:FUNC:ARB?").strip().strip('"')

    def _set_arb(self, name: str) -> None:
        if not isinstance(name, str) or name not in self._waveforms:
            raise LimitError("arbitrary waveform", name, "one loaded by load_waveform(): "
                             f"{', '.join(self._waveforms) or 'none yet'}")
        self.write(f"SOUR{{ch}}:FUNC:ARB {name}")

    arb_file = checked(_get_arb, _set_arb, ["a waveform loaded by load_waveform()"],
                       "Control the arbitrary waveform played (one loaded by load_waveform).")

    def load_waveform(self, name: str, samples: np.ndarray, sample_rate: float) -> None:
        """Load `samples` (V into the load setting, played at `sample_rate`, held between
        samples) as arbitrary waveform `name` and select it; the output is switched off.
        Levels are 16-bit DAC codes; a 0 V sample is exactly 0 V when the range allows.

        Volatile memory is cleared first (it holds one labsyn waveform at a time). Between
        triggers of a burst the output idles at the first sample."""
        self._send_waveform(name, samples, sample_rate, [], anchor=0.0)

    def _send_waveform(self, name: str, samples: np.ndarray, sample_rate: float,
                       then: list[str], anchor: float | None) -> None:
        samples = program.check_waveform(name, samples, sample_rate, self._max_sample_rate)
        load = self.load_setting()
        program.check_levels(f"{self.name} waveform", float(samples.max()),
                             float(samples.min()), load)
        high, low = program.dac_levels(samples, anchor, load)
        codes = program.dac_codes(samples, high, low)
        commands = [f":OUTP{self.id}:LOAD {program.load_text(load)}",
                    *program.arb_select_commands(self.id, name, sample_rate),
                    *program.level_commands(self.id, high, low, load), *then]
        with self.parent.lock:
            if then:  # a run: the output goes on at the end
                self.parent.require_armed("pulse train")
            self.write(f":OUTP{self.id} OFF;:SOUR{self.id}:DATA:VOL:CLE")
            self._waveforms.clear()
            self.data_arb(name, codes.tolist(), data_format="DAC")
            self._configure(commands)
        self._waveforms[name] = program.ArbPlan(sample_rate, len(samples), 0, len(samples))

    def _configure(self, commands: list[str]) -> None:
        """One message ending with the error query; an error turns the output off and raises
        with the whole queue (nothing is triggered)."""
        reply = self.ask(";".join([*commands, ":SYST:ERR?"]))
        code, message = parse_error(self.name, reply)
        if code != 0:
            found = [(code, message), *self.parent.errors()]
            self.write(f":OUTP{self.id} OFF")
            raise InstrumentReportedError(self.name, "configure pulse train", found)

    # -- PulseGenerator capability ------------------------------------------------------------
    def check_sequence(self, sequence: Sequence) -> None:
        """Every segment against the generator's limits at the present load; nothing is sent
        (the load setting is read once if it is not known)."""
        for segment in sequence.segments:
            name = f"{self.name} {segment.label or type(segment).__name__}"
            if not isinstance(segment, PulseTrain):
                raise LimitError(f"{name}", "a staircase", "pulse trains only: a pulse "
                                 "generator has no current limit; wire an SMU for staircases")
            if segment.read_level is not None:
                raise LimitError(f"{name} read level", segment.read_level, "None: a pulse "
                                 "generator cannot read; wire an SMU for the reads")
            program.check_timing(name, segment.width, segment.period)
            load = self.load_setting()
            if len(set(segment.amplitudes)) == 1:
                high, low, _ = program.pulse_levels(segment)
                program.check_levels(name, high, low, load)
            else:
                program.check_levels(name, max(segment.levels), min(segment.levels), load)
                program.arb_plan(name, segment, self._max_sample_rate)

    def run(self, sequence: Sequence, should_abort: AbortCheck | None = None) -> SequenceData:
        """Each train as bursts (identical pulses) or one arbitrary waveform; no rows come back
        (a generator measures nothing), `aborted` is set if stopped early."""
        self.check_sequence(sequence)
        for segment in sequence.segments:
            assert isinstance(segment, PulseTrain)
            if self._run_train(segment, should_abort):
                data = SequenceData.empty()
                data.aborted = True
                return data
        self.parent.check_errors("run sequence")
        return SequenceData.empty()

    def _run_train(self, train: PulseTrain, should_abort: AbortCheck | None) -> bool:
        """True if aborted."""
        load = self.load_setting()
        inst = self.parent
        identical = len(set(train.amplitudes)) == 1
        with inst.lock:
            if inst.safed.is_set() or (should_abort is not None and should_abort()):
                return True
            inst.require_armed("pulse train")
            park = inst.arm_bus_trigger(self.id)
            if identical:
                sizes = program.bursts(train)
                self._configure(program.train_commands(self.id, train, load, sizes[0], park))
                durations = [n * train.period for n in sizes]
            else:
                plan = program.arb_plan(self.name, train, self._max_sample_rate)
                self._serial += 1
                self._send_waveform(f"LABSYN{self._serial}", program.train_samples(train, plan),
                                    plan.sample_rate,
                                    program.burst_commands(self.id, 1, False, park),
                                    anchor=train.base)
                sizes, durations = [1], [plan.duration]
        for index, (size, duration) in enumerate(zip(sizes, durations, strict=True)):
            with inst.lock:
                if inst.safed.is_set():
                    return True
                cycles = "" if index == 0 or size == sizes[index - 1] else (
                    f":SOUR{self.id}:BURS:NCYC {size:d};")
                start = inst.clock.now()
                inst.write(f"{cycles}*TRG")
            if self._wait(start + duration, should_abort):
                return True
            self._confirm_complete()
        return False

    # -- external trigger (a linked trigger master paces the pulses) -----------------------------
    def check_external(self, train: PulseTrain, count: int, delay: float = 0.0) -> None:
        """`arm_external`'s values against the generator's limits; nothing is sent."""
        self.check_sequence(Sequence("TE", (train,)))
        if len(set(train.amplitudes)) != 1:
            raise LimitError(f"{self.name} externally triggered train", "different amplitudes",
                             "identical pulses (one burst per trigger)")
        strict_integer_range(f"{self.name} pulses per trigger")(train.points,
                                                              (1, program.MAX_BURST))
        strict_integer_range(f"{self.name} external trigger count")(count, (1, 1_000_000))
        strict_range(f"{self.name} trigger delay", "s")(delay, (0.0, 1000.0))

    def arm_external(self, train: PulseTrain, count: int, delay: float = 0.0) -> None:
        """Arm `train` (identical pulses) as one burst per trigger on the rear Ext Trig input,
        starting `delay` s after each trigger; the output goes on at the base level. One
        transaction. The generator takes every trigger until disarmed (`count` is the number
        the caller will send, checked only); `disarm_external()` or `safe_off()` ends it."""
        self.check_external(train, count, delay)
        load = self.load_setting()
        inst = self.parent
        with inst.lock:
            inst.require_armed("externally triggered pulse train")
            inst._bus_armed.discard(self.id)
            self._configure(program.train_commands(self.id, train, load, train.points, (),
                                                   source="EXT", delay=delay))

    def disarm_external(self) -> None:
        """Output off: later triggers play into an open output (one transaction)."""
        self.parent.write(f":OUTP{self.id} OFF")

    def _wait(self, end: float, should_abort: AbortCheck | None) -> bool:
        """Clock waits of ≤ 50 ms until `end`, checking for an abort; True if aborted."""
        clock = self.parent.clock
        while clock.now() < end:
            if self.parent.safed.is_set() or (should_abort is not None and should_abort()):
                self.parent.write(":ABOR")
                return True
            clock.sleep(min(ABORT_SLICE_S, end - clock.now()))
        return False

    def _confirm_complete(self) -> None:
        reply = self.parent.ask("*OPC?").strip()
        if reply not in ("1", "+1"):
            raise InstrumentReplyError(self.name, "*OPC?", f"expected 1 after the burst, got "
                                       f"{reply!r}")

    def safe_off(self) -> None:
        """Stop any burst (``ABOR`` stops every channel's), this output off, verified; outputs
        stay off until the instrument is rearmed."""
        self.parent.safe_off(channels=(self,))
