"""Keithley 2400 SourceMeter (SCPI), implementing `SourceMeter` for one DUT terminal.

Composition of knowledge, not of classes: pymeasure's `Keithley2400` knows the 2400's command
strings, and the settings below take them from its declarations (`pymeasure_commands`, with 9
digits instead of its 6). Its class cannot be the base: labsyn's drivers are `LabsynInstrument`s
(one lock per transaction, error translation, the station clock), pymeasure's validators raise
`ValueError` or clamp silently (`buffer_points` truncates to its wrong 2…1024), some of its ranges
are wrong (source delay ≤ 999.9999 s, negative compliance) and its constructor writes
``:FORMAT:ELEMENTS``. So every declaration here carries a strict validator with the manual's
range; the capability methods speak the manual's short forms (keithley_2400_program.py).
"""

from __future__ import annotations

import inspect
import math
from typing import Any, ClassVar

import numpy as np
from pymeasure.instruments import Instrument
from pymeasure.instruments.keithley import Keithley2400 as PymeasureKeithley2400

from labsyn.errors import InstrumentError, InstrumentReplyError, InstrumentTimeout, LimitError

from .base import LabsynInstrument
from .capabilities import AbortCheck, SourceMeterLimits, SpotReading
from .keithley_2400_program import (
    MAX_ARM_TIMER,
    MAX_POINTS,
    MAX_SOURCE_DELAY,
    MAX_TRIGGER_DELAY,
    Program,
    check_train_timing,
    instrument_pieces,
    staircase_program,
    train_program,
)
from .sequence import PulseTrain, Sequence, SequenceData, Staircase, refuse_pulse_sampling
from .validators import (
    Validator,
    check_source_sequence,
    limited,
    strict_choice,
    strict_integer_range,
    strict_range,
)

MODEL = "MODEL 2400"
IDN = "KEITHLEY INSTRUMENTS INC.,MODEL 2400,1248014,C30   Mar 17 2006 09:29:29/A02  /K/J"
MAX_VOLTAGE, MAX_CURRENT, MIN_CURRENT_LIMIT = 210.0, 1.05, 1e-9
HIGH_VOLTAGE, HIGH_VOLTAGE_MAX_CURRENT = 21.0, 0.105
MIN_PULSE_WIDTH = 1e-3
STATUS_COMPLIANCE = 8  # bit 3 ("CMPL") of the STAT element: real compliance
OPERATION_IDLE = 1024  # bit 10 of the operation condition register
RAMP_ABOVE_V = 20.0
POLL_S = 0.01
ABORT_SLICE_S = 0.05
LATENCY_MARGIN_S = 0.5e-3
SPOT_SETUP = ";".join([":SOUR:VOLT:MODE FIX", ":TRAC:FEED:CONT NEV", ":ARM:SOUR IMM",
                       ":ARM:COUN 1", ":TRIG:SOUR IMM", ":TRIG:COUN 1", ":TRIG:DEL 0",
                       ":SENS:FUNC:OFF:ALL", ":SENS:FUNC:CONC ON",
                       ":SENS:FUNC 'VOLT:DC','CURR:DC'", ":FORM:ELEM VOLT,CURR,TIME,STAT"])
BOOLEAN = {True: 1, False: 0}


def pymeasure_commands(name: str) -> tuple[str, str]:
    """(get, set) command strings of pymeasure's Keithley2400 declaration `name`.

    Its ``%g`` keeps 6 digits, so 999.9999 s goes out as ``1000`` (out of range): ``%.9g`` here.
    """
    declared = inspect.getattr_static(PymeasureKeithley2400, name)
    get_command = inspect.signature(declared.fget).parameters["get_command"].default
    set_command = inspect.signature(declared.fset).parameters["set_command"].default
    return get_command, set_command.replace("%g", "%.9g")


def reused(name: str, doc: str, validator: Validator, values: Any, **kwargs: Any) -> property:
    """pymeasure's command strings for `name` with labsyn's strict validator."""
    get_command, set_command = pymeasure_commands(name)
    return Instrument.control(get_command, set_command, doc, validator=validator, values=values,
                              **kwargs)


def switch(name: str, doc: str, quantity: str) -> property:
    return reused(name, doc, strict_choice(quantity), BOOLEAN, map_values=True)


def check_power_envelope(voltage: float, current: float) -> None:
    """The 2400 gives 1.05 A up to 21 V and 105 mA above (the 200 V range)."""
    if abs(voltage) > HIGH_VOLTAGE and abs(current) > HIGH_VOLTAGE_MAX_CURRENT:
        raise LimitError("current", f"{abs(current):g} A at {abs(voltage):g} V",
                         "≤ 0.105 A above 21 V (≤ 1.05 A up to 21 V)")


# name: (pymeasure declaration, partner, quantity, unit, low, high, is a voltage)
COUPLED = {
    "voltage": ("source_voltage", "ilimit", "source voltage", "V", -MAX_VOLTAGE, MAX_VOLTAGE, True),
    "ilimit": ("compliance_current", "voltage", "current limit", "A", MIN_CURRENT_LIMIT,
               MAX_CURRENT, False),
    "current": ("source_current", "vlimit", "source current", "A", -MAX_CURRENT, MAX_CURRENT,
                False),
    "vlimit": ("compliance_voltage", "current", "voltage limit", "V", 2e-4, MAX_VOLTAGE, True),
}


def coupled(key: str, doc: str) -> property:
    """A setting checked with its partner against the power envelope before it is sent."""
    name, partner, quantity, unit, low, high, is_voltage = COUPLED[key]
    get_command, set_command = pymeasure_commands(name)

    def fget(self: Keithley2400) -> float:
        return self.number(get_command)

    def fset(self: Keithley2400, value: float) -> None:
        value = strict_range(quantity, unit)(value, (low, high))
        other = self._known_value(partner)
        check_power_envelope(*((value, other) if is_voltage else (other, value)))
        self.write(set_command % value)
        self._known[key] = value

    return limited(fget, fset, low, high, doc)


class Keithley2400(LabsynInstrument):
    """Keithley 2400 SourceMeter; what labsyn adds to pymeasure's `Keithley2400`:

    - strict limits: every setting raises `LimitError` out of range (nothing clamps), with the
      manual's ranges (±210 V, ±1.05 A, NPLC 0.01–10, buffer 1–2500), and the power envelope
      (105 mA above 21 V) checked on the whole configuration;
    - compliance before output: `apply_voltage` sets the limit, then the level, then the output;
    - instrument-side sequences: a staircase is one sweep (linear, or lists of ≤ 100 values per
      command), stop-on-limit by the 2400's compliance abort (``:SOUR:SWE:CAB LATE``); a pulse
      train is a timer-armed list pattern; each run is one configure, one ``:INIT``, one buffer
      read (chunked at 2500 readings), with waits on the station clock;
    - abort: `should_abort` is checked every 50 ms of clock time and stops the run with ``:ABOR``,
      keeping what the buffer holds; `safe_off` works from any state (device clear, ``:ABOR``,
      ramp from above 20 V, 0 V, output off), verifies the output is off by a query, and holds
      outputs off until `rearm()`;
    - the error queue read after configuring and after each run, entries raised as
      `InstrumentReportedError`; the constructor refuses an instrument that is not a 2400.
    """

    limits = SourceMeterLimits(max_voltage=MAX_VOLTAGE, max_current=MAX_CURRENT,
                               min_current_limit=MIN_CURRENT_LIMIT,
                               min_pulse_width=MIN_PULSE_WIDTH, max_list_points=MAX_POINTS,
                               min_nplc=0.01, max_nplc=10.0)

    output_enabled = switch("source_enabled", "Control the output relay (True = on).",
                            "output state")
    source_function = reused("source_mode", "Control the source function.",
                             strict_choice("source function"),
                             {"voltage": "VOLT", "current": "CURR"}, map_values=True, cast=str)
    source_delay = reused("source_delay", "Control the source delay (s); auto delay goes off.",
                          strict_range("source delay", "s"), (0.0, MAX_SOURCE_DELAY))
    source_delay_auto = switch("source_delay_auto_enabled", "Control the automatic source delay.",
                               "automatic source delay")
    source_voltage_range = reused("source_voltage_range", "Control the voltage source range (V).",
                                  strict_range("voltage source range", "V"), (0.0, MAX_VOLTAGE))
    source_voltage_range_auto = switch("source_voltage_range_auto_enabled",
                                       "Control voltage source autorange.",
                                       "voltage source autorange")
    current_range = reused("current_range", "Control the current measure range (A).",
                           strict_range("current measure range", "A"), (0.0, MAX_CURRENT))
    current_range_auto = switch("current_range_auto_enabled", "Control current autorange.",
                                "current autorange")
    current_nplc = reused("current_nplc", "Control the aperture of every function (PLC).",
                          strict_range("NPLC"), (0.01, 10.0))
    autozero = switch("auto_zero_enabled", "Control autozero.", "autozero")
    output_off_mode = reused("output_off_state", "Control the output-off state.",
                             strict_choice("output-off state"),
                             {"normal": "NORM", "high_impedance": "HIMP", "zero": "ZERO",
                              "guard": "GUAR"}, map_values=True, cast=str)
    output_auto_off = switch("auto_output_off_enabled", "Control output-off after each reading.",
                             "auto output-off")
    wires = reused("wires", "Control 2- or 4-wire sensing.", strict_choice("sense wires"),
                   {2: 0, 4: 1}, map_values=True, cast=int)
    front_terminals = reused("front_terminals_enabled", "Control front (True) or rear terminals.",
                             strict_choice("terminals"), {True: "FRON", False: "REAR"},
                             map_values=True, cast=str)
    buffer_points = reused("buffer_points", "Control the buffer size (readings).",
                           strict_integer_range("buffer points"), (1, MAX_POINTS), cast=int)
    trigger_delay = reused("trigger_delay", "Control the trigger-layer delay (s).",
                           strict_range("trigger delay", "s"), (0.0, MAX_TRIGGER_DELAY))
    arm_timer = reused("arm_timer", "Control the arm-layer timer interval (s).",
                       strict_range("arm timer", "s"), (0.001, MAX_ARM_TIMER))
    source_voltage = coupled("voltage", "Control the voltage level (V); checked with the limit.")
    current_limit = coupled("ilimit", "Control the current compliance when sourcing V (A).")
    source_current = coupled("current", "Control the current level (A); checked with the limit.")
    voltage_limit = coupled("vlimit", "Control the voltage compliance when sourcing I (V).")

    init_exchanges: ClassVar[list[tuple[str, str | None]]] = [("*IDN?", IDN)]  # for tests

    def __init__(self, adapter: Any, name: str = "Keithley 2400", **kwargs: Any) -> None:
        kwargs.setdefault("read_termination", "\n")
        kwargs.setdefault("write_termination", "\n")
        super().__init__(adapter, name, **kwargs)
        self._known: dict[str, float] = {}
        self._line_frequency: float | None = None
        self._output_on: bool | None = None
        self._spot_ready = False
        idn = self.ask("*IDN?").strip()
        model = idn.split(",")[1].strip() if idn.count(",") >= 3 else idn
        if model != MODEL:
            raise InstrumentError(self.name, "*IDN?", f"instrument is {model!r}, not a "
                                  f"Keithley {MODEL}: its limits differ")

    def _known_value(self, key: str) -> float:
        if key not in self._known:
            self._known[key] = self.number(pymeasure_commands(COUPLED[key][0])[0])
        return self._known[key]

    @property
    def line_frequency(self) -> float:
        """Get the line frequency (Hz), asked once."""
        if self._line_frequency is None:
            self._line_frequency = self.number(":SYST:LFR?")
        return self._line_frequency

    def reset(self) -> None:
        """``*RST``: instrument defaults (output off); forget what the driver knew."""
        super().reset()
        self._known.clear()
        self._output_on, self._spot_ready = False, False

    # -- SourceMeter capability -----------------------------------------------------------------
    def apply_voltage(self, level: float, current_limit: float) -> None:
        """Compliance first, then level, then output on; every value checked before sending."""
        level = strict_range("source voltage", "V")(level, (-MAX_VOLTAGE, MAX_VOLTAGE))
        current_limit = strict_range("current limit", "A")(current_limit,
                                                          (MIN_CURRENT_LIMIT, MAX_CURRENT))
        check_power_envelope(level, current_limit)
        with self.lock:
            self.require_armed("apply_voltage")
            self.write(":SOUR:FUNC VOLT;:SOUR:VOLT:MODE FIX;:SOUR:VOLT:RANG:AUTO 1")
            self.write(f":SENS:CURR:PROT {current_limit:.9g}")
            self.write(f":SOUR:VOLT {level:.9g}")
            self.write(":OUTP ON")
            self._output_on = True
        self._known.update(voltage=level, ilimit=current_limit)

    def measure(self) -> SpotReading:
        """One reading (``:READ?``): measured voltage and current, and the compliance bit."""
        with self.lock:
            if self._output_on is None:
                self._output_on = bool(self.output_enabled)
            if not self._output_on:
                raise InstrumentError(self.name, ":READ?", "the output is off (the 2400 answers "
                                      "+803 'Not permitted with OUTPUT off'): apply_voltage first")
            if not self._spot_ready:
                self.write(SPOT_SETUP)
                self._spot_ready = True
            voltage, current, _, status = self.numbers(":READ?", expected=4)
        return SpotReading(voltage, current, bool(int(status) & STATUS_COMPLIANCE))

    def check_sequence(self, sequence: Sequence) -> None:
        """Every level, limit and timing against the 2400's limits; raises before sending."""
        refuse_pulse_sampling(sequence, "Keithley 2400")
        check_source_sequence(sequence, nplc=(0.01, 10.0),
                              current_limit=(MIN_CURRENT_LIMIT, MAX_CURRENT),
                              max_voltage=MAX_VOLTAGE, envelope=check_power_envelope,
                              max_dwell=MAX_SOURCE_DELAY, check_train=self._check_train)

    def _check_train(self, train: PulseTrain, name: str, nplc: float) -> None:
        strict_range(f"{name} pulse width", "s")(train.width, (MIN_PULSE_WIDTH, MAX_SOURCE_DELAY))
        strict_range(f"{name} read delay", "s")(train.read_delay, (0.0, MAX_SOURCE_DELAY))
        check_train_timing(train, name, nplc, self.line_frequency)

    def run(self, sequence: Sequence, should_abort: AbortCheck | None = None) -> SequenceData:
        """Run each segment instrument-side; on abort, return what was measured (flagged)."""
        self.check_sequence(sequence)
        parts: list[SequenceData] = []
        for index, segment in enumerate(sequence.segments):
            not_before = -math.inf  # a train's next run keeps at least one period after the last
            for piece in instrument_pieces(segment):
                data, start = self._run_piece(piece, sequence.nplc, index, should_abort,
                                              not_before)
                parts.append(data)
                if data.aborted:
                    return SequenceData.concatenate(parts, aborted=True)
                if _stopped_on_limit(piece, data):
                    break
                if isinstance(piece, PulseTrain):
                    not_before = start + piece.points * piece.period
        self.check_errors("run sequence")
        return SequenceData.concatenate(parts)

    def _run_piece(self, piece: Staircase | PulseTrain, nplc: float, index: int,
                   should_abort: AbortCheck | None, not_before: float
                   ) -> tuple[SequenceData, float]:
        """Configure, check the error queue, trigger, wait and read back one sweep."""
        if isinstance(piece, Staircase):
            program = staircase_program(piece, nplc, self.line_frequency)
        else:
            program = train_program(piece, nplc, self.line_frequency)

        def abort_requested() -> bool:
            return self.safed.is_set() or (should_abort is not None and should_abort())

        nothing = SequenceData.empty()
        nothing.aborted = True
        with self.lock:
            if abort_requested():
                return nothing, self.clock.now()
            self.require_armed("configure sequence")  # its last message turns the output on
            for message in program.messages:
                self.write(message)
            self._output_on, self._spot_ready = True, False
            self._known["ilimit"] = piece.current_limit  # the envelope checks what is set
            self.check_errors("configure sequence")
        if self._sleep_until(not_before, abort_requested):
            return nothing, self.clock.now()
        with self.lock:
            self.require_armed(":INIT")
            start = self.clock.now()
            self.write(":INIT")
        aborted = self._wait_idle(start + program.duration + LATENCY_MARGIN_S, abort_requested)
        data = self._fetch(program, index, start, piece.label, aborted)
        expected = len(data) if _stopped_on_limit(piece, data) else program.rows
        if not aborted and len(data) != expected and not self.dry_run:
            raise InstrumentReplyError(self.name, ":TRAC:DATA?",
                                       f"segment {piece.label or index} stored {len(data)} "
                                       f"readings, expected {expected}")
        data.aborted = aborted
        return data, start

    def _sleep_until(self, t: float, abort_requested: AbortCheck) -> bool:
        """Wait on the clock in slices of at most 50 ms; True (having sent :ABOR) if aborted."""
        while self.clock.now() < t:
            if abort_requested():
                self.write(":ABOR")
                return True
            self.clock.sleep(min(ABORT_SLICE_S, t - self.clock.now()))
        return False

    def _wait_idle(self, expected_end: float, abort_requested: AbortCheck) -> bool:
        """Wait until the expected end, then poll the idle bit; True if aborted."""
        if self._sleep_until(expected_end, abort_requested):
            return True
        deadline = self.clock.now() + 10.0
        while True:
            condition = int(self.number(":STAT:OPER:COND?"))
            if condition & OPERATION_IDLE:
                return False
            if abort_requested():
                self.write(":ABOR")
                return True
            if self.clock.now() > deadline:
                raise InstrumentTimeout(self.name, ":STAT:OPER:COND?", "still sweeping long "
                                        "after the expected end")
            self.clock.sleep(POLL_S)

    def _fetch(self, program: Program, index: int, start: float, label: str,
               aborted: bool) -> SequenceData:
        """The reported rows of the buffer: VOLT, CURR, TIME (from the first reading), STAT."""
        if program.row is None:
            return SequenceData.empty()
        with self.lock:
            if aborted and int(self.number(":TRAC:POIN:ACT?")) == 0:
                return SequenceData.empty()
            values = self.values(":TRAC:DATA?")
        if len(values) % 4:
            raise InstrumentReplyError(self.name, ":TRAC:DATA?", f"{len(values)} values are not "
                                       "rows of VOLT, CURR, TIME, STAT")
        rows = np.asarray(values, dtype=float).reshape(-1, 4)[program.row::program.group]
        return SequenceData(np.full(len(rows), index), start + program.first_reading + rows[:, 2],
                            rows[:, 0], rows[:, 1],
                            (rows[:, 3].astype(int) & STATUS_COMPLIANCE) > 0, labels=[label])

    def safe_off(self) -> None:
        """From any state: stop the sweep, source to 0, output off, verified by a query."""
        self.safed.set()
        problems = self.safe_steps((lambda: self.write(":ABOR"), self._ramp_down,
                                    lambda: self.write(":OUTP OFF"), self._check_output_off,
                                    self._forget_output))
        self._known.pop("voltage", None)
        if problems:
            raise problems[0]

    def _check_output_off(self) -> None:
        if self.output_enabled:
            raise InstrumentError(self.name, "OUTPUT?", "output still on")

    def _forget_output(self) -> None:
        """Off as far as the driver knows: the next spot reading sets up afresh."""
        self._output_on, self._spot_ready = False, False

    def _ramp_down(self) -> None:
        level = self._known.get("voltage", 0.0)
        if abs(level) > RAMP_ABOVE_V:
            for value in np.linspace(level, 0.0, int(math.ceil(abs(level) / 5.0)) + 1)[1:-1]:
                self.write(f":SOUR:VOLT {value:.6g}")
                self.clock.sleep(0.01)
        self.write(":SOUR:VOLT:MODE FIX;:SOUR:VOLT 0;:SOUR:CURR 0")


def _stopped_on_limit(piece: Staircase | PulseTrain, data: SequenceData) -> bool:
    """A stop-on-limit staircase that ended at a reading in compliance."""
    return (isinstance(piece, Staircase) and piece.stop_on_limit and len(data) > 0
            and bool(data.limited[-1]))
