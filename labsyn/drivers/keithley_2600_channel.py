"""One Keithley 2600B channel (smua or smub) as a `SourceMeter`: strict TSP settings, the power
envelope, and sequences run as loaded scripts (the mainframe is in `keithley_2600`)."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
from pymeasure.instruments import Channel

from labsyn.errors import InstrumentReplyError, LimitError

from . import keithley_2600_pair
from .capabilities import AbortCheck, SourceMeterLimits, SpotReading
from .keithley_2600_script import (
    ScriptPlan,
    binary_size,
    instrument_pieces,
    is_compliance,
    load_message,
    measure_time,
    parse_ascii,
    parse_binary,
    pulse_train_script,
    ramp_until_limit_script,
    read_message,
    staircase_script,
)
from .sequence import PulseTrain, Sequence, SequenceData, Staircase, refuse_pulse_sampling
from .validators import (
    check_source_sequence,
    limited,
    strict_choice,
    strict_integer_range,
    strict_range,
)

MAX_VOLTAGE, MAX_CURRENT = 200.0, 1.5
MIN_CURRENT_LIMIT, MIN_VOLTAGE_LIMIT = 100e-12, 20e-3
HIGH_VOLTAGE, HIGH_VOLTAGE_MAX_CURRENT = 20.0, 0.1
VOLTAGE_RANGES = [0.2, 2.0, 20.0, 200.0]
CURRENT_RANGES = [1e-9, 10e-9, 100e-9, 1e-6, 10e-6, 100e-6, 1e-3, 10e-3, 100e-3, 1.0, 1.5]
MIN_NPLC, MAX_NPLC = 0.001, 25.0
MIN_PULSE_WIDTH = 100e-6
MAX_READINGS = 50_000
KNOWN_MODELS = ("2634B", "2635B", "2636B")
TIMERS = {"a": (1, 2, 3), "b": (4, 5, 6)}
RAMP_ABOVE_V = 20.0
ABORT_SLICE_S = 0.05
PERIOD_MARGIN_S = 50e-6  # timer margins (2 × 20 µs) and a 10 µs minimum at base
_TOKENS = itertools.count(1)


def check_power_envelope(voltage: float, current_limit: float) -> None:
    """2636B: 1.5 A up to 20 V, 0.1 A above (its DC power envelope)."""
    if abs(voltage) > HIGH_VOLTAGE and current_limit > HIGH_VOLTAGE_MAX_CURRENT:
        raise LimitError("current limit", f"{current_limit:g} A at {voltage:g} V",
                         "≤ 0.1 A above 20 V (≤ 1.5 A up to 20 V)")


def tsp_on_off(attribute: str, doc: str, quantity: str) -> property:
    """A 0/1 attribute read with ``print(attribute)`` and set with ``attribute = 0|1``."""
    return Channel.control(f"print({attribute})", f"{attribute} = %d", doc,
                           validator=strict_choice(quantity), values={True: 1, False: 0},
                           map_values=True)


class Keithley2600Channel(Channel):
    """One SMU channel (``smua`` / ``smub``): its settings, and `SourceMeter` for a terminal."""

    limits = SourceMeterLimits(max_voltage=MAX_VOLTAGE, max_current=MAX_CURRENT,
                               min_current_limit=MIN_CURRENT_LIMIT,
                               min_pulse_width=MIN_PULSE_WIDTH, max_list_points=MAX_READINGS,
                               min_nplc=MIN_NPLC, max_nplc=MAX_NPLC)

    source_function = Channel.control(
        "print(smu{ch}.source.func)", "smu{ch}.source.func = %d", "Control the source "
        "function (voltage or current).", validator=strict_choice("source function"),
        values={"voltage": 1, "current": 0}, map_values=True)
    source_voltage_range = Channel.control(
        "print(smu{ch}.source.rangev)", "smu{ch}.source.rangev = %g", "Control the voltage "
        "source range (V); setting it turns source autorange off.",
        validator=strict_choice("voltage source range (V)"), values=VOLTAGE_RANGES)
    source_voltage_autorange = tsp_on_off("smu{ch}.source.autorangev", "Control voltage "
                                          "source autorange.", "voltage source autorange")
    voltage_limit = Channel.control(
        "print(smu{ch}.source.limitv)", "smu{ch}.source.limitv = %g", "Control the voltage "
        "limit when sourcing current (V).", validator=strict_range("voltage limit", "V"),
        values=(MIN_VOLTAGE_LIMIT, MAX_VOLTAGE))
    source_delay = Channel.control(
        "print(smu{ch}.source.delay)", "smu{ch}.source.delay = %g", "Control the source "
        "delay (s).", validator=strict_range("source delay", "s"), values=(0.0, 1e4))
    nplc = Channel.control(
        "print(smu{ch}.measure.nplc)", "smu{ch}.measure.nplc = %g", "Control the "
        "integration time (power-line cycles).", validator=strict_range("NPLC"),
        values=(MIN_NPLC, MAX_NPLC))
    current_range = Channel.control(
        "print(smu{ch}.measure.rangei)", "smu{ch}.measure.rangei = %g", "Control the current "
        "measure range (A); setting it turns measure autorange off.",
        validator=strict_choice("current measure range (A)"), values=CURRENT_RANGES)
    current_autorange = tsp_on_off("smu{ch}.measure.autorangei", "Control current measure "
                                   "autorange.", "current measure autorange")
    autozero = Channel.control(
        "print(smu{ch}.measure.autozero)", "smu{ch}.measure.autozero = %d", "Control "
        "autozero (off, once, auto).", validator=strict_choice("autozero"),
        values={"off": 0, "once": 1, "auto": 2}, map_values=True)
    measure_delay = Channel.control(
        "print(smu{ch}.measure.delay)", "smu{ch}.measure.delay = %g", "Control the delay "
        "before each measurement (s).", validator=strict_range("measure delay", "s"),
        values=(0.0, 1e4))
    measure_count = Channel.control(
        "print(smu{ch}.measure.count)", "smu{ch}.measure.count = %d", "Control readings per "
        "measure call.", validator=strict_integer_range("measure count"), values=(1, 60_000),
        cast=lambda v: int(float(v)))
    output_enabled = tsp_on_off("smu{ch}.source.output", "Control the output (True = on).",
                                "output state")
    output_off_mode = Channel.control(
        "print(smu{ch}.source.offmode)", "smu{ch}.source.offmode = %d", "Control the "
        "output-off state.", validator=strict_choice("output-off state"),
        values={"normal": 0, "zero": 1, "high_impedance": 2}, map_values=True)
    compliance = Channel.measurement(
        "print(smu{ch}.source.compliance)", "Get whether the source is in its limit.",
        cast=str, get_process=lambda v: v.strip() == "true")

    def __init__(self, parent: Any, id: str, **kwargs: Any) -> None:
        super().__init__(parent, id, **kwargs)
        self.smu = f"smu{id}"
        self.name = f"{parent.name} {self.smu}"
        self._known: dict[str, float] = {}

    # -- transport: one locked transaction on the parent, strict parsing ----------------------
    def ask(self, command: str, query_delay: float | None = None) -> str:
        return self.parent.ask(self.insert_id(command))

    def values(self, command: str, **kwargs: Any) -> list[Any]:
        return self.parent.values(self.insert_id(command), **kwargs)

    def _send(self, command: str) -> None:
        self.parent.write(command)

    def _number(self, command: str) -> float:
        return self.parent.number(command)

    # -- coupled settings -----------------------------------------------------------------------
    def _known_value(self, key: str) -> float:
        if key not in self._known:
            self._known[key] = self._number(f"print({self.smu}.source.{key})")
        return self._known[key]

    def _get_source_voltage(self) -> float:
        return self._number(f"print({self.smu}.source.levelv)")

    def _set_source_voltage(self, level: float) -> None:
        level = strict_range("source voltage", "V")(level, (-MAX_VOLTAGE, MAX_VOLTAGE))
        check_power_envelope(level, self._known_value("limiti"))
        self._send(f"{self.smu}.source.levelv = {level:.9g}")
        self._known["levelv"] = level

    def _get_current_limit(self) -> float:
        return self._number(f"print({self.smu}.source.limiti)")

    def _set_current_limit(self, limit: float) -> None:
        limit = strict_range("current limit", "A")(limit, (MIN_CURRENT_LIMIT, MAX_CURRENT))
        check_power_envelope(self._known_value("levelv"), limit)
        self._send(f"{self.smu}.source.limiti = {limit:.9g}")
        self._known["limiti"] = limit

    source_voltage = limited(_get_source_voltage, _set_source_voltage, -MAX_VOLTAGE,
                             MAX_VOLTAGE, "Control the source voltage level (V); checked with "
                             "the current limit.")
    current_limit = limited(_get_current_limit, _set_current_limit, MIN_CURRENT_LIMIT,
                            MAX_CURRENT, "Control the current limit when sourcing V (A).")

    # -- SourceMeter capability -----------------------------------------------------------------
    def apply_voltage(self, level: float, current_limit: float) -> None:
        """Limit, then level (level first when raising the limit above 0.1 A), output on.

        One line, one chunk: if the instrument refuses any part, the output is not switched on.
        """
        level = strict_range("source voltage", "V")(level, (-MAX_VOLTAGE, MAX_VOLTAGE))
        current_limit = strict_range("current limit", "A")(current_limit,
                                                          (MIN_CURRENT_LIMIT, MAX_CURRENT))
        check_power_envelope(level, current_limit)
        x = self.smu
        settings = [f"{x}.source.limiti = {current_limit:.9g}", f"{x}.source.levelv = {level:.9g}"]
        if current_limit > HIGH_VOLTAGE_MAX_CURRENT:
            settings.reverse()
        with self.parent.lock:
            self.parent.require_armed("apply_voltage")
            self._send(" ".join([f"{x}.source.func = {x}.OUTPUT_DCVOLTS",
                                 f"{x}.source.autorangev = {x}.AUTORANGE_ON", *settings,
                                 f"{x}.source.output = {x}.OUTPUT_ON"]))
        self._known.update(levelv=level, limiti=current_limit)

    def measure(self) -> SpotReading:
        """One ``measure.iv()`` with the compliance flag, in one query."""
        x = self.smu
        command = f"local i, v = {x}.measure.iv() print(i, v, {x}.source.compliance)"
        reply = self.parent.ask(command).strip()
        parts = reply.split("\t")
        try:
            current, voltage = float(parts[0]), float(parts[1])
            flag = parts[2].strip()
        except (ValueError, IndexError):
            raise InstrumentReplyError(self.name, command, f"reply {reply[:80]!r} is not "
                                       "'current<TAB>voltage<TAB>true|false'") from None
        if flag not in ("true", "false"):
            raise InstrumentReplyError(self.name, command, f"compliance flag {flag!r} is not "
                                       "true or false")
        return SpotReading(voltage, current, flag == "true")

    def check_sequence(self, sequence: Sequence) -> None:
        """Every level, limit and timing against the 2636B; raises before anything is sent."""
        refuse_pulse_sampling(sequence, "Keithley 2600")
        check_source_sequence(sequence, nplc=(MIN_NPLC, MAX_NPLC),
                              current_limit=(MIN_CURRENT_LIMIT, MAX_CURRENT),
                              max_voltage=MAX_VOLTAGE, envelope=check_power_envelope,
                              max_dwell=1e4, check_train=self._check_train)

    def _check_train(self, train: PulseTrain, name: str, nplc: float) -> None:
        reading = measure_time(nplc, self.parent.line_frequency)
        strict_range(f"{name} pulse width", "s")(train.width, (MIN_PULSE_WIDTH, 1e4))
        strict_range(f"{name} read delay", "s")(train.read_delay, (0.0, 1e4))
        minimum = train.width + PERIOD_MARGIN_S + (train.read_delay + reading
                                                   if train.read_level is not None else 0.0)
        strict_range(f"{name} period", "s")(train.period, (minimum, 1e5))

    def run(self, sequence: Sequence, should_abort: AbortCheck | None = None) -> SequenceData:
        """Run each segment as one instrument-side script; on abort return what was measured.

        After `safe_off()` nothing starts until the instrument is rearmed: the run comes back
        empty and flagged aborted."""
        self.check_sequence(sequence)
        parts: list[SequenceData] = []
        for index, segment in enumerate(sequence.segments):
            for piece in instrument_pieces(segment, MAX_READINGS):
                parts.append(self._run_piece(piece, sequence.nplc, index, should_abort))
                if parts[-1].aborted:
                    return SequenceData.concatenate(parts, aborted=True)
                if _stopped_on_limit(piece, parts[-1]):
                    break
        return SequenceData.concatenate(parts)

    def _compile(self, piece: Staircase | PulseTrain, nplc: float) -> ScriptPlan:
        frequency = self.parent.line_frequency
        if isinstance(piece, PulseTrain):
            return pulse_train_script(self.smu, piece, nplc, frequency, TIMERS[self.id])
        if piece.stop_on_limit:
            return ramp_until_limit_script(self.smu, piece, nplc, frequency)
        return staircase_script(self.smu, piece, nplc, frequency)

    def _run_piece(self, piece: Staircase | PulseTrain, nplc: float, index: int,
                   should_abort: AbortCheck | None) -> SequenceData:
        """Load, run, wait on the clock, read the buffer, check the error queue."""
        with self.parent.lock:
            if self._abort_requested(should_abort):
                data = SequenceData.empty()
                data.aborted = True
                return data
            plan = self._compile(piece, nplc)
            script = f"labsynSeq{next(_TOKENS)}"
            self._send(load_message(script, plan.lines))
            start = self.parent.clock.now()
            self.parent.require_armed(f"{script}()")  # the script turns the output on
            self._send(f"{script}()")
        self._known.clear()
        aborted = self._wait(start + plan.duration, should_abort, plan.blocking)
        data = self._fetch(plan, script, index, start, piece.label)
        self.parent.check_errors(f"{script} ({piece.label or type(piece).__name__})")
        expected = plan.readings // plan.every
        if _stopped_on_limit(piece, data):
            expected = len(data)
        if not aborted and len(data) != expected and not self.parent.dry_run:
            raise InstrumentReplyError(self.name, "printbuffer", f"segment {piece.label or index}"
                                       f" stored {len(data)} readings, expected {expected}")
        data.aborted = aborted
        return data

    def _wait(self, expected_end: float, should_abort: AbortCheck | None,
              script_running: bool) -> bool:
        """Sleep on the clock in ≤ 50 ms slices until the expected end; True if aborted."""
        clock = self.parent.clock
        while clock.now() < expected_end:
            if self._abort_requested(should_abort):
                self._stop(script_running)
                return True
            clock.sleep(min(ABORT_SLICE_S, expected_end - clock.now()))
        return False

    def _abort_requested(self, should_abort: AbortCheck | None) -> bool:
        return self.parent.safed.is_set() or (should_abort is not None and should_abort())

    def _stop(self, script_running: bool) -> None:
        """Device clear ends a running script; ``smuX.abort()`` ends the trigger model."""
        with self.parent.lock:
            if script_running:
                self.parent.clear_interface()
            self._send(f"{self.smu}.abort()")

    def _fetch(self, plan: ScriptPlan, script: str, index: int, start: float,
               label: str) -> SequenceData:
        command = read_message(self.smu, plan.binary, script)
        with self.parent.lock:
            self._send(command)
            text = self.parent.read().strip()
            try:
                count = int(float(text))
            except ValueError:
                raise InstrumentReplyError(self.name, command, f"reading count {text[:40]!r} "
                                           "is not a number") from None
            if count <= 0:
                return SequenceData.empty()
            if plan.binary:
                values = parse_binary(self.parent.read_bytes(binary_size(count)), count)
            else:
                values = parse_ascii(self.parent.read(), count)
        if values is None:
            raise InstrumentReplyError(self.name, command, f"buffer reply is not {count} "
                                       "readings of current, voltage, time, status")
        table = np.asarray(values, dtype=float).reshape(count, 4)[plan.every - 1::plan.every]
        limited_rows = np.array([is_compliance(s) for s in table[:, 3]], dtype=bool)
        return SequenceData(np.full(len(table), index), start + table[:, 2], table[:, 1],
                            table[:, 0], limited_rows, labels=[label])

    def safe_off(self) -> None:
        """This channel only: clear, abort, level 0, output off, verified."""
        self.parent.safe_off(channels=(self,))

    def errors(self) -> list[tuple[int, str]]:
        return self.parent.errors()

    def rearm(self) -> None:
        """Allow outputs again after safe_off() (the latch is the instrument's)."""
        self.parent.rearm()

    # -- two channels together (keithley_2600_pair) ---------------------------------------------
    def pairs_with(self, partner: Any) -> bool:
        """`partner` is the other channel of this mainframe: `run_pair` can drive both."""
        return keithley_2600_pair.pairs_with(self, partner)

    def check_pair(self, partner: Any, own: Staircase, theirs: Staircase, nplc: float) -> None:
        keithley_2600_pair.check_pair(self, partner, own, theirs, nplc)

    def run_pair(self, partner: Any, own: Staircase, theirs: Staircase, nplc: float,
                 should_abort: AbortCheck | None = None) -> tuple[SequenceData, SequenceData]:
        """`own` here and `theirs` on `partner`, sample by sample on one trigger timer."""
        return keithley_2600_pair.run_pair(self, partner, own, theirs, nplc, should_abort)


def _stopped_on_limit(piece: Staircase | PulseTrain, data: SequenceData) -> bool:
    return (isinstance(piece, Staircase) and piece.stop_on_limit and len(data) > 0
            and bool(data.limited[-1]))
