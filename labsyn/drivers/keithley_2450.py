"""Keithley 2450 SourceMeter in its native SCPI language (``*LANG SCPI``).

pymeasure's own 2450 driver works only in "SCPI 2400" emulation and clamps out-of-range values
silently; this driver speaks the 2450's SCPI, validates strictly (nothing clamps), checks the
coupled 105 mA-above-21 V envelope on the whole configuration, and runs sweeps and pulse trains
instrument-side: a 1000-point sweep is configured once, triggered once and read back as one buffer.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, ClassVar

import numpy as np
from pymeasure.instruments import Instrument

from labsyn.errors import InstrumentError, InstrumentReplyError, InstrumentTimeout, LimitError

from .base import LabsynInstrument, on_off, pack_messages, parse_count
from .capabilities import AbortCheck, SourceMeterLimits, SpotReading
from .keithley_2450_program import (
    LIST_MAX_POINTS,
    MAX_MESSAGE_BYTES,
    check_pulse_top,
    instrument_pieces,
    measure_time,
    pulse_train_commands,
    staircase_commands,
    stopped_on_limit,
    train_duration,
    triggered_read_commands,
    triggered_read_duration,
)
from .sequence import PulseTrain, Sequence, SequenceData, Staircase
from .validators import (
    check_source_sequence,
    limited,
    strict_choice,
    strict_integer_range,
    strict_range,
)

MAX_VOLTAGE, MAX_CURRENT, MIN_CURRENT_LIMIT = 210.0, 1.05, 1e-9
HIGH_VOLTAGE, HIGH_VOLTAGE_MAX_CURRENT = 21.0, 0.105
MIN_PULSE_WIDTH = 1e-3
MIN_TIMER_DELAY, MAX_TIMER_DELAY, MAX_TIMER_COUNT = 8e-6, 1e5, 1_048_575
TRIGGER_SETTLE_S = 0.5e-3  # margin per period beyond the read itself (block processing)
SOURCE_STATUS_LIMIT = 32
RAMP_ABOVE_V = 20.0
POLL_S = 0.01
ABORT_SLICE_S = 0.05
_TOKENS = itertools.count(1)


def check_power_envelope(voltage: float, current_limit: float) -> None:
    """At most 105 mA when more than 21 V is sourced (2450 power envelope)."""
    if abs(voltage) > HIGH_VOLTAGE and current_limit > HIGH_VOLTAGE_MAX_CURRENT:
        raise LimitError("current limit", f"{current_limit:g} A at {voltage:g} V",
                         "≤ 0.105 A above 21 V (≤ 1.05 A up to 21 V)")


class Keithley2450(LabsynInstrument):
    """Keithley 2450 SourceMeter (native SCPI); implements `SourceMeter` for one terminal."""

    limits = SourceMeterLimits(max_voltage=MAX_VOLTAGE, max_current=MAX_CURRENT,
                               min_current_limit=MIN_CURRENT_LIMIT,
                               min_pulse_width=MIN_PULSE_WIDTH, max_list_points=LIST_MAX_POINTS,
                               min_nplc=0.01, max_nplc=10.0)

    language = Instrument.measurement("*LANG?", "Get the command language (SCPI, TSP, "
                                      "SCPI2400).", cast=str)
    source_function = Instrument.control(
        ":SOUR:FUNC?", ":SOUR:FUNC %s", "Control the source function (voltage or current).",
        validator=strict_choice("source function"),
        values={"voltage": "VOLT", "current": "CURR"}, map_values=True, cast=str)
    source_voltage_range = Instrument.control(
        ":SOUR:VOLT:RANG?", ":SOUR:VOLT:RANG %g", "Control the voltage source range (V).",
        validator=strict_range("voltage source range", "V"), values=(0.02, MAX_VOLTAGE))
    source_voltage_range_auto = on_off(":SOUR:VOLT:RANG:AUTO", "Control voltage source "
                                       "autorange.", "voltage source autorange")
    source_delay = Instrument.control(
        ":SOUR:VOLT:DEL?", ":SOUR:VOLT:DEL %g", "Control the source delay (s).",
        validator=strict_range("source delay", "s"), values=(0.0, 1e4))
    source_delay_auto = on_off(":SOUR:VOLT:DEL:AUTO", "Control the automatic source delay.",
                               "automatic source delay")
    voltage_limit = Instrument.control(
        ":SOUR:CURR:VLIM?", ":SOUR:CURR:VLIM %g", "Control the voltage limit when sourcing "
        "current (V).", validator=strict_range("voltage limit", "V"), values=(0.02, MAX_VOLTAGE))
    current_nplc = Instrument.control(
        ":SENS:CURR:NPLC?", ":SENS:CURR:NPLC %g", "Control the current aperture (PLC).",
        validator=strict_range("NPLC"), values=(0.01, 10.0))
    current_range = Instrument.control(
        ":SENS:CURR:RANG?", ":SENS:CURR:RANG %g", "Control the current measure range (A).",
        validator=strict_range("current measure range", "A"), values=(1e-8, MAX_CURRENT))
    current_range_auto = on_off(":SENS:CURR:RANG:AUTO", "Control current autorange.",
                                "current autorange")
    autozero = on_off(":SENS:CURR:AZER", "Control autozero of current readings.", "autozero")
    sense_count = Instrument.control(
        ":SENS:COUN?", ":SENS:COUN %d", "Control readings per measure request.",
        validator=strict_integer_range("sense count"), values=(1, 300_000), cast=int)
    output_enabled = on_off(":OUTP", "Control the output relay (True = on).", "output state")
    output_off_mode = Instrument.control(
        ":OUTP:SMOD?", ":OUTP:SMOD %s", "Control the output-off state.",
        validator=strict_choice("output-off state"),
        values={"normal": "NORM", "high_impedance": "HIMP", "zero": "ZERO", "guard": "GUAR"},
        map_values=True, cast=str)
    current_limit_tripped = Instrument.measurement(
        ":SOUR:VOLT:ILIM:TRIP?", "Get whether the current limit is in force.", cast=bool)

    init_exchanges: ClassVar[list[tuple[str, str | None]]] = [("*LANG?", "SCPI")]  # for tests
    samples_pulse_top: ClassVar[bool] = True  # PulseTrain.measure_pulse runs instrument-side

    def __init__(self, adapter: Any, name: str = "Keithley 2450", **kwargs: Any) -> None:
        kwargs.setdefault("read_termination", "\n")
        kwargs.setdefault("write_termination", "\n")
        super().__init__(adapter, name, **kwargs)
        self._known: dict[str, float] = {}
        self._line_frequency: float | None = None
        self._token = f"{next(_TOKENS)}"
        self._lists: set[str] = set()
        self._sensing_current = False
        language = self.language.strip()
        if language != "SCPI":
            raise InstrumentError(self.name, "*LANG?", f"command language is {language!r}; "
                                  "send *LANG SCPI and power-cycle the 2450")

    # -- coupled settings -----------------------------------------------------------------------
    def _known_value(self, key: str, query: str) -> float:
        if key not in self._known:
            self._known[key] = self.number(query)
        return self._known[key]

    def _get_source_voltage(self) -> float:
        return self.number(":SOUR:VOLT?")

    def _set_source_voltage(self, level: float) -> None:
        level = strict_range("source voltage", "V")(level, (-MAX_VOLTAGE, MAX_VOLTAGE))
        check_power_envelope(level, self._known_value("ilimit", ":SOUR:VOLT:ILIM?"))
        self.write(f":SOUR:VOLT {level:.9g}")
        self._known["voltage"] = level

    def _get_current_limit(self) -> float:
        return self.number(":SOUR:VOLT:ILIM?")

    def _set_current_limit(self, limit: float) -> None:
        limit = strict_range("current limit", "A")(limit, (MIN_CURRENT_LIMIT, MAX_CURRENT))
        check_power_envelope(self._known_value("voltage", ":SOUR:VOLT?"), limit)
        self.write(f":SOUR:VOLT:ILIM {limit:.9g}")
        self._known["ilimit"] = limit

    source_voltage = limited(_get_source_voltage, _set_source_voltage, -MAX_VOLTAGE, MAX_VOLTAGE,
                             "Control the source voltage level (V); checked with the limit.")
    current_limit = limited(_get_current_limit, _set_current_limit, MIN_CURRENT_LIMIT,
                            MAX_CURRENT, "Control the current limit when sourcing V (A).")

    # -- SourceMeter capability -----------------------------------------------------------------
    def apply_voltage(self, level: float, current_limit: float) -> None:
        """Limit first, then level, then output on; every value checked before sending."""
        level = strict_range("source voltage", "V")(level, (-MAX_VOLTAGE, MAX_VOLTAGE))
        current_limit = strict_range("current limit", "A")(current_limit,
                                                          (MIN_CURRENT_LIMIT, MAX_CURRENT))
        check_power_envelope(level, current_limit)
        with self.lock:
            self.require_armed("apply_voltage")
            self.write(":SOUR:FUNC VOLT;:SOUR:VOLT:RANG:AUTO 1")
            self.write(f":SOUR:VOLT:ILIM {current_limit:.9g}")
            self.write(f":SOUR:VOLT {level:.9g}")
            self.write(":OUTP ON")
        self._known.update(voltage=level, ilimit=current_limit)

    def measure(self) -> SpotReading:
        """One reading: current, source readback and the limit flag (``:READ?``)."""
        with self.lock:
            if not self._sensing_current:
                self.write(':SENS:FUNC "CURR"')
                self._sensing_current = True
            command = ':READ? "defbuffer1", READ, SOUR, SOURSTAT'
            current, voltage, status = self.numbers(command, expected=3)
        return SpotReading(voltage, current, bool(int(status) & SOURCE_STATUS_LIMIT))

    def reset(self) -> None:
        """``*RST``: instrument defaults; forget what the driver knew of the settings."""
        super().reset()
        self._known.clear()
        self._sensing_current = False

    def check_sequence(self, sequence: Sequence) -> None:
        """Every level, limit and timing against the 2450's limits; raises before sending."""
        check_source_sequence(sequence, nplc=(0.01, 10.0),
                              current_limit=(MIN_CURRENT_LIMIT, MAX_CURRENT),
                              max_voltage=MAX_VOLTAGE, envelope=check_power_envelope,
                              max_dwell=1e4, check_train=self._check_train)

    def _check_train(self, train: PulseTrain, name: str, nplc: float) -> None:
        strict_range(f"{name} pulse width", "s")(train.width, (MIN_PULSE_WIDTH, 1e4))
        minimum = train.width + train.read_delay + 0.5e-3 + (
            measure_time(nplc, self.line_frequency, autozero=False)
            if train.read_level is not None else 0.0)
        strict_range(f"{name} period", "s")(train.period, (minimum, 1e5))
        strict_integer_range(f"{name} pulse count")(train.points, (1, 1_048_575))
        check_pulse_top(train, name, nplc, self.line_frequency)

    @property
    def line_frequency(self) -> float:
        if self._line_frequency is None:
            self._line_frequency = self.number(":SYST:LFR?")
        return self._line_frequency

    def run(self, sequence: Sequence, should_abort: AbortCheck | None = None) -> SequenceData:
        """Run each segment instrument-side; on abort, return what was measured (flagged)."""
        self.check_sequence(sequence)
        parts: list[SequenceData] = []
        for index, segment in enumerate(sequence.segments):
            for piece in instrument_pieces(segment):
                parts.append(self._run_piece(piece, sequence.nplc, index, should_abort))
                if parts[-1].aborted:
                    return SequenceData.concatenate(parts, aborted=True)
                if stopped_on_limit(piece, parts[-1]):
                    break
        self.check_errors("run sequence")
        return SequenceData.concatenate(parts)

    def _run_piece(self, piece: Staircase | PulseTrain, nplc: float, index: int,
                   should_abort: AbortCheck | None) -> SequenceData:
        """Configure, trigger, wait and read back one sweep or pulse train."""
        if isinstance(piece, Staircase):
            commands, duration = staircase_commands(piece, nplc, self.line_frequency)
            expected = piece.points
        else:
            names = (f"labsynW{self._token}", f"labsynR{self._token}")
            commands = [":OUTP OFF"] + [f':SOUR:CONF:LIST:DEL "{n}"' for n in names
                                        if n in self._lists]
            commands += pulse_train_commands(piece, nplc, names, self.line_frequency)
            self._lists.update(names)
            duration = train_duration(piece)
            expected = piece.readings
        with self.lock:
            if self.safed.is_set() or (should_abort is not None and should_abort()):
                data = SequenceData.empty()
                data.aborted = True
                return data
            self._configure(commands)
            self._sensing_current = True
            start = self.clock.now()
            self.require_armed(":INIT")
            self.write(":INIT")
        aborted, count = self._wait_idle(start + duration, should_abort)
        data = self._fetch(index, start, piece.label, count)
        if isinstance(piece, PulseTrain):
            data.pulse_top = piece.pulse_top_rows(len(data))
        if stopped_on_limit(piece, data):
            expected = len(data)
        if not aborted and len(data) != expected and not self.dry_run:
            raise InstrumentReplyError(self.name, ":TRAC:ACT?",
                                       f"segment {piece.label or index} stored {len(data)} "
                                       f"readings, expected {expected}")
        data.aborted = aborted
        return data

    # -- linked trains (trigger master) --------------------------------------------------------
    def check_triggered_reads(self, read_level: float, count: int, period: float,
                              read_delay_after_trigger: float, current_limit: float,
                              nplc: float, hold_level: float = 0.0) -> None:
        """Every value of `run_triggered_reads` against the 2450's limits; nothing is sent
        (except the line frequency, asked once per driver)."""
        for quantity, value in (("read level", read_level), ("hold level", hold_level)):
            strict_range(quantity, "V")(value, (-MAX_VOLTAGE, MAX_VOLTAGE))
        strict_range("current limit", "A")(current_limit, (MIN_CURRENT_LIMIT, MAX_CURRENT))
        check_power_envelope(max(abs(read_level), abs(hold_level)), current_limit)
        strict_range("NPLC")(nplc, (0.01, 10.0))
        strict_integer_range("triggered read count")(count, (1, MAX_TIMER_COUNT))
        strict_range("read delay after trigger", "s")(read_delay_after_trigger, (0.0, 1e4))
        minimum = max(MIN_TIMER_DELAY, read_delay_after_trigger + TRIGGER_SETTLE_S
                      + measure_time(nplc, self.line_frequency, autozero=False))
        strict_range("triggered read period", "s")(period, (minimum, MAX_TIMER_DELAY))

    def run_triggered_reads(self, read_level: float, count: int, period: float,
                            read_delay_after_trigger: float, current_limit: float,
                            nplc: float = 0.01, should_abort: AbortCheck | None = None,
                            hold_level: float = 0.0, line: int = 1) -> SequenceData:
        """`count` reads paced by the 2450's own timer, each period NOTIFYing digital line
        `line` (a trigger output: ``:DIG:LINE<n>:MODE TRIG, OUT``, ``:TRIG:DIG<n>:OUTP:STIM
        NOT1``) so a linked instrument acts, then reading at `read_level` after
        `read_delay_after_trigger`. The output holds `hold_level` in between. One trigger model,
        ≤ 5 transactions; on abort, what was measured (flagged)."""
        self.check_triggered_reads(read_level, count, period, read_delay_after_trigger,
                                   current_limit, nplc, hold_level)
        strict_integer_range("digital line")(line, (1, 6))
        name = f"labsynT{self._token}"
        commands = [":OUTP OFF"] + ([f':SOUR:CONF:LIST:DEL "{name}"'] if name in self._lists
                                    else [])
        commands += triggered_read_commands(read_level, hold_level, count, period,
                                            read_delay_after_trigger, current_limit, nplc,
                                            name, line)
        self._lists.add(name)
        with self.lock:
            if self.safed.is_set() or (should_abort is not None and should_abort()):
                data = SequenceData.empty()
                data.aborted = True
                return data
            self._configure(commands)
            self._sensing_current = True
            self._known.update(voltage=hold_level, ilimit=current_limit)
            start = self.clock.now()
            self.require_armed(":INIT")
            self.write(":INIT")
        aborted, stored = self._wait_idle(start + triggered_read_duration(count, period),
                                          should_abort)
        data = self._fetch(0, start, "triggered reads", stored)
        if not aborted and len(data) != count and not self.dry_run:
            raise InstrumentReplyError(self.name, ":TRAC:ACT?", f"triggered reads stored "
                                       f"{len(data)} readings, expected {count}")
        data.aborted = aborted
        return data

    def _configure(self, commands: list[str]) -> None:
        """The configuration packed into as few messages as fit MAX_MESSAGE_BYTES, the last
        ending with the error count; any error stops the sequence before `:INIT`."""
        messages = pack_messages([*commands, ":SYST:ERR:COUN?"], MAX_MESSAGE_BYTES)
        for message in messages[:-1]:
            self.write(message)
        reply = self.ask(messages[-1])
        if parse_count(self.name, ":SYST:ERR:COUN?", reply) != 0:
            self.check_errors("configure sequence")

    def _wait_idle(self, expected_end: float, should_abort: AbortCheck | None
                   ) -> tuple[bool, int | None]:
        """Wait on the clock in slices, then poll the trigger state with the buffer count.

        Returns (aborted, readings stored), the count None when aborted.
        """
        def abort_requested() -> bool:
            return self.safed.is_set() or (should_abort is not None and should_abort())

        while self.clock.now() < expected_end:
            if abort_requested():
                self.write(":ABOR")
                return True, None
            self.clock.sleep(min(ABORT_SLICE_S, expected_end - self.clock.now()))
        deadline = self.clock.now() + max(10.0, 0.5 * (expected_end - self.clock.now()))
        while True:
            state, count = self._state_and_count()
            if state in ("IDLE", "EMPTY"):
                return False, count
            if state in ("FAILED", "ABORTED"):
                raise InstrumentError(self.name, ":TRIG:STAT?", f"trigger model {state}")
            if abort_requested():
                self.write(":ABOR")
                return True, None
            if self.clock.now() > deadline:
                raise InstrumentTimeout(self.name, ":TRIG:STAT?", "trigger model still "
                                        f"{state} long after its expected end")
            self.clock.sleep(POLL_S)

    def _state_and_count(self) -> tuple[str, int]:
        """Trigger-model state and readings stored, in one query.

        Stock pyvisa-sim answers each query of a chained message as a reply of its own, so a
        dry run asks them one by one.
        """
        if self.dry_run:
            state = self.ask(":TRIG:STAT?")
            count = self.ask(':TRAC:ACT? "defbuffer1"')
        else:
            query = ':TRIG:STAT?;:TRAC:ACT? "defbuffer1"'
            state, _, count = self.ask(query).rpartition(";")
        return (state.split(";")[0].strip().upper(),
                parse_count(self.name, ":TRAC:ACT?", count))

    def _fetch(self, index: int, start: float, label: str, count: int | None = None
               ) -> SequenceData:
        with self.lock:
            if count is None:
                count = int(self.number(':TRAC:ACT? "defbuffer1"'))
            if count == 0:
                return SequenceData.empty()
            values = np.asarray(self.numbers(
                f':TRAC:DATA? 1, {count}, "defbuffer1", READ, SOUR, REL, SOURSTAT',
                expected=4 * count)).reshape(count, 4)
        return SequenceData(np.full(count, index), start + values[:, 2], values[:, 1],
                            values[:, 0], (values[:, 3].astype(int) & SOURCE_STATUS_LIMIT) > 0,
                            labels=[label])

    def safe_off(self) -> None:
        """From any state: stop the trigger model, source to 0, output off, verified."""
        self.safed.set()
        problems = self.safe_steps((lambda: self.write(":ABOR"), self._ramp_down,
                                    lambda: self.write(":OUTP OFF"), self._verify_off))
        self._known.pop("voltage", None)
        if problems:
            raise problems[0]

    def _verify_off(self) -> None:
        if self.ask(":OUTP?").strip() not in ("0", "OFF"):
            raise InstrumentError(self.name, ":OUTP?", "output still on")

    def _ramp_down(self) -> None:
        level = self._known.get("voltage", 0.0)
        if abs(level) > RAMP_ABOVE_V:
            for value in np.linspace(level, 0.0, int(math.ceil(abs(level) / 5.0)) + 1)[1:-1]:
                self.write(f":SOUR:VOLT {value:.6g}")
                self.clock.sleep(0.01)
        self.write(":SOUR:VOLT 0;:SOUR:CURR 0")
