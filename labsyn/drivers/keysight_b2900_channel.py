"""One B2900 SMU channel (`B2900Channel`, a SourceMeter): settings with strict validators,
spot source/measure and instrument-side sequences. The mainframe is keysight_b2900.py."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from pymeasure.instruments import Channel, Instrument

from labsyn.errors import InstrumentReplyError, InstrumentTimeout

from .base import on_off
from .capabilities import AbortCheck, SourceMeterLimits, SpotReading
from .keysight_b2900_program import (
    ELEMENTS,
    LIST_MAX_POINTS,
    MAX_COUNT,
    MAX_CURRENT,
    MAX_NPLC,
    MAX_PULSE_WIDTH,
    MAX_TIME,
    MAX_VOLTAGE,
    MIN_CURRENT_LIMIT,
    MIN_NPLC,
    MIN_PULSE_WIDTH,
    MIN_TRIGGER_INTERVAL,
    STATUS_COMPLIANCE,
    Program,
    check_envelope,
    check_nplc,
    check_segment_levels,
    check_staircase,
    check_train,
    check_two_channel_envelope,
    pieces,
    pulse_train_program,
    ramp_steps,
    staircase_program,
    stopped_on_limit,
    up_to,
)
from .sequence import PulseTrain, Sequence, SequenceData, Staircase, refuse_pulse_sampling
from .validators import limited, strict_choice, strict_integer_range, strict_range

if TYPE_CHECKING:
    from .keysight_b2900 import KeysightB2900

MODELS = {"B2901A": 1, "B2902A": 2, "B2901B": 1, "B2902B": 2}
# Below this current limit no setting of the other channel can break the shared-supply rule.
SIBLING_FREE_LIMIT = 0.6
RAMP_ABOVE_V = 20.0
ABORT_SLICE_S = 0.05
POLL_S = 0.01
OVERRUN_S = 10.0
STB_MAV = 16
VALUES_PER_READING = len(ELEMENTS.split(","))


def control(command: str, doc: str, quantity: str, values: Any, unit: str = "",
            fmt: str = "%g", **kwargs: Any) -> property:
    """``<command>?`` / ``<command> <value>`` with a strict range or choice validator."""
    if isinstance(values, dict):
        return Instrument.control(f"{command}?", f"{command} %s", doc,
                                  validator=strict_choice(quantity), values=values,
                                  map_values=True, cast=str, **kwargs)
    validator = (strict_integer_range(quantity) if fmt == "%d"
                 else strict_range(quantity, unit))
    return Instrument.control(f"{command}?", f"{command} {fmt}", doc, validator=validator,
                              values=values, **kwargs)


class B2900Channel(Channel):
    """One B2900 source-measure channel; implements `SourceMeter` for one DUT terminal."""

    limits = SourceMeterLimits(max_voltage=MAX_VOLTAGE, max_current=MAX_CURRENT,
                               min_current_limit=MIN_CURRENT_LIMIT,
                               min_pulse_width=MIN_PULSE_WIDTH, max_list_points=LIST_MAX_POINTS,
                               min_nplc=MIN_NPLC, max_nplc=MAX_NPLC)

    source_function = control(":SOUR{ch}:FUNC:MODE", "Control the source function.",
                              "source function", {"voltage": "VOLT", "current": "CURR"})
    source_shape = control(":SOUR{ch}:FUNC:SHAP", "Control DC or pulsed output.",
                           "source shape", {"dc": "DC", "pulse": "PULS"})
    source_mode = control(":SOUR{ch}:VOLT:MODE", "Control fixed, sweep or list sourcing.",
                          "voltage source mode", {"fixed": "FIX", "sweep": "SWE", "list": "LIST"})
    source_voltage_range = control(":SOUR{ch}:VOLT:RANG", "Control the voltage source range "
                                   "(V).", "voltage source range", (0.0, MAX_VOLTAGE), "V")
    source_voltage_range_auto = on_off(":SOUR{ch}:VOLT:RANG:AUTO", "Control voltage source "
                                       "autorange.", "voltage source autorange")
    pulse_width = control(":SOUR{ch}:PULS:WIDT", "Control the pulse width (s).", "pulse width",
                          (MIN_PULSE_WIDTH, MAX_PULSE_WIDTH), "s")
    pulse_delay = control(":SOUR{ch}:PULS:DEL", "Control the pulse delay (s).", "pulse delay",
                          (0.0, MAX_TIME), "s")
    voltage_limit = control(":SENS{ch}:VOLT:PROT", "Control the voltage compliance when "
                            "sourcing current (V).", "voltage limit", (0.0, MAX_VOLTAGE), "V")
    current_nplc = control(":SENS{ch}:CURR:NPLC", "Control the aperture in power-line cycles.",
                           "NPLC", (MIN_NPLC, MAX_NPLC))
    current_aperture = control(":SENS{ch}:CURR:APER", "Control the aperture (s).", "aperture",
                               (8e-6, 2.0), "s")
    current_range = control(":SENS{ch}:CURR:RANG", "Control the current measure range (A).",
                            "current measure range", (1e-7, MAX_CURRENT), "A")
    current_range_auto = on_off(":SENS{ch}:CURR:RANG:AUTO", "Control current autorange.",
                                "current autorange")
    output_enabled = on_off(":OUTP{ch}", "Control the output switch (True = on).",
                            "output state")
    output_off_mode = control(":OUTP{ch}:OFF:MODE", "Control the output-off state.",
                              "output-off state",
                              {"normal": "NORM", "high_impedance": "HIZ", "zero": "ZERO"})
    output_protection = on_off(":OUTP{ch}:PROT", "Control the output-off at compliance.",
                               "output protection")
    trigger_count = control(":TRIG{ch}:COUN", "Control the trigger count.", "trigger count",
                            (1, MAX_COUNT), fmt="%d", cast=int)
    trigger_interval = control(":TRIG{ch}:TIM", "Control the timer trigger interval (s).",
                               "trigger interval", (MIN_TRIGGER_INTERVAL, MAX_TIME), "s")
    acquire_delay = control(":TRIG{ch}:ACQ:DEL", "Control the acquire trigger delay (s).",
                            "acquire delay", (0.0, MAX_TIME), "s")
    transient_delay = control(":TRIG{ch}:TRAN:DEL", "Control the transient trigger delay (s).",
                              "transient delay", (0.0, MAX_TIME), "s")
    current_limit_tripped = Instrument.measurement(
        ":SENS{ch}:CURR:PROT:TRIP?", "Get whether the current compliance is in force.",
        cast=bool)

    def __init__(self, parent: KeysightB2900, id: int, **kwargs: Any) -> None:
        super().__init__(parent, id, **kwargs)
        self.number = int(id)
        self.name = f"{parent.name} channel {id}"
        self._known: dict[str, float] = {}

    # -- transport through the instrument (its lock, its strict parsing) ------------------------
    def ask(self, command: str, query_delay: float | None = None) -> str:
        return self.parent.ask(self.insert_id(command))

    def values(self, command: str, **kwargs: Any) -> list[Any]:
        return self.parent.values(self.insert_id(command), **kwargs)

    def errors(self) -> list[tuple[int, str]]:
        """The instrument's (shared) error queue, emptied."""
        return self.parent.errors()

    # -- coupled settings -----------------------------------------------------------------------
    def _known_value(self, key: str, query: str) -> float:
        if key not in self._known:
            self._known[key] = self.parent.number(query)
        return self._known[key]

    def _check_siblings(self, level: float, limit: float) -> None:
        """The B2902A's shared supply; only a large limit can break it (then ask the other)."""
        if limit <= SIBLING_FREE_LIMIT:
            return
        for other in getattr(self.parent, "channels_by_number", {}).values():
            if other is not self:
                m = other.number
                check_two_channel_envelope(
                    (level, limit), (other._known_value("voltage", f":SOUR{m}:VOLT?"),
                                     other._known_value("ilimit", f":SENS{m}:CURR:PROT?")))

    def _get_source_voltage(self) -> float:
        return self.parent.number(f":SOUR{self.number}:VOLT?")

    def _set_source_voltage(self, level: float) -> None:
        level = strict_range("source voltage", "V")(level, (-MAX_VOLTAGE, MAX_VOLTAGE))
        limit = self._known_value("ilimit", f":SENS{self.number}:CURR:PROT?")
        check_envelope(level, limit)
        self._check_siblings(level, limit)
        self.parent.write(f":SOUR{self.number}:VOLT {level:.9g}")
        self._known["voltage"] = level

    def _get_triggered_voltage(self) -> float:
        return self.parent.number(f":SOUR{self.number}:VOLT:TRIG?")

    def _set_triggered_voltage(self, level: float) -> None:
        level = strict_range("triggered voltage", "V")(level, (-MAX_VOLTAGE, MAX_VOLTAGE))
        check_envelope(level, self._known_value("ilimit", f":SENS{self.number}:CURR:PROT?"))
        self.parent.write(f":SOUR{self.number}:VOLT:TRIG {level:.9g}")

    def _get_current_limit(self) -> float:
        return self.parent.number(f":SENS{self.number}:CURR:PROT?")

    def _set_current_limit(self, limit: float) -> None:
        limit = strict_range("current limit", "A")(limit, (MIN_CURRENT_LIMIT, MAX_CURRENT))
        level = self._known_value("voltage", f":SOUR{self.number}:VOLT?")
        check_envelope(level, limit)
        self._check_siblings(level, limit)
        self.parent.write(f":SENS{self.number}:CURR:PROT {limit:.9g}")
        self._known["ilimit"] = limit

    source_voltage = limited(_get_source_voltage, _set_source_voltage, -MAX_VOLTAGE, MAX_VOLTAGE,
                             "Control the immediate (DC or pulse base) voltage (V).")
    triggered_voltage = limited(_get_triggered_voltage, _set_triggered_voltage, -MAX_VOLTAGE,
                                MAX_VOLTAGE, "Control the triggered (pulse peak) voltage (V).")
    current_limit = limited(_get_current_limit, _set_current_limit, MIN_CURRENT_LIMIT,
                            MAX_CURRENT, "Control the current compliance when sourcing V (A).")

    # -- SourceMeter capability -----------------------------------------------------------------
    def apply_voltage(self, level: float, current_limit: float) -> None:
        """Compliance first, then the level, then the output on; all checked before sending."""
        level = strict_range("source voltage", "V")(level, (-MAX_VOLTAGE, MAX_VOLTAGE))
        current_limit = strict_range("current limit", "A")(current_limit,
                                                          (MIN_CURRENT_LIMIT, MAX_CURRENT))
        check_envelope(level, current_limit)
        self._check_siblings(level, current_limit)
        n = self.number
        with self.parent.lock:
            self.parent.require_armed("apply_voltage")
            self.parent.write(f":SOUR{n}:FUNC:MODE VOLT;:SOUR{n}:FUNC:SHAP DC;"
                              f":SOUR{n}:VOLT:MODE FIX;:SOUR{n}:VOLT:RANG:AUTO 1;"
                              f":ARM{n}:COUN 1;:TRIG{n}:COUN 1;:OUTP{n}:PROT 0")
            self.parent.write(f":SENS{n}:CURR:PROT {current_limit:.9g}")
            self.parent.write(f":SOUR{n}:VOLT {level:.9g}")
            self.parent.write(f":OUTP{n} 1")
        self._known.update(voltage=level, ilimit=current_limit)

    def measure(self) -> SpotReading:
        """One spot reading (``:MEAS? (@n)``): measured voltage, current, compliance flag.

        Refused while the safe state holds: with automatic output-on (the default) ``:MEAS?``
        may switch the output on by itself.
        """
        n = self.number
        with self.parent.lock:
            self.parent.require_armed("measure")
            self.parent.write(f':FORM:ELEM:SENS {ELEMENTS};:SENS{n}:FUNC:ON "VOLT","CURR"')
            command = f":MEAS? (@{n})"
            values = self.parent.numbers(command)
        if not values or len(values) % VALUES_PER_READING:
            raise InstrumentReplyError(self.parent.name, command, f"expected {ELEMENTS} "
                                       f"({VALUES_PER_READING} values), got {len(values)}")
        voltage, current, _, status, _ = values[-VALUES_PER_READING:]
        return SpotReading(voltage, current, bool(int(status) & STATUS_COMPLIANCE))

    def check_sequence(self, sequence: Sequence) -> None:
        """Every level, limit and timing against the B2900's limits; raises before sending."""
        refuse_pulse_sampling(sequence, "Keysight B2900")
        check_nplc(sequence.nplc)
        for segment in sequence.segments:
            name = segment.label or type(segment).__name__
            peak = check_segment_levels(segment, name)
            self._check_siblings(peak, segment.current_limit)
            if isinstance(segment, Staircase):
                check_staircase(segment, name)
            else:
                check_train(segment, name, sequence.nplc, self.parent.line_frequency)

    def run(self, sequence: Sequence, should_abort: AbortCheck | None = None) -> SequenceData:
        """Run each segment instrument-side; on abort, return what was measured (flagged)."""
        self.check_sequence(sequence)
        parts: list[SequenceData] = []
        for index, segment in enumerate(sequence.segments):
            for piece in pieces(segment):
                parts.append(self._run_piece(piece, sequence.nplc, index, should_abort))
                if parts[-1].aborted:
                    return SequenceData.concatenate(parts, aborted=True)
                if stopped_on_limit(piece, parts[-1]):
                    break
        self.parent.check_errors("run sequence")
        return SequenceData.concatenate(parts)

    def _run_piece(self, piece: Staircase | PulseTrain, nplc: float, index: int,
                   should_abort: AbortCheck | None) -> SequenceData:
        """Configure, start, wait and read back one sweep or pulse train (4 transactions)."""
        n, lf = self.number, self.parent.line_frequency
        program = (staircase_program(n, piece, nplc, lf) if isinstance(piece, Staircase)
                   else pulse_train_program(n, piece, nplc, lf))
        with self.parent.lock:
            if self.parent.safed.is_set() or (should_abort is not None and should_abort()):
                data = SequenceData.empty()
                data.aborted = True
                return data
            self.parent.write(program.configure)
            # What the output holds afterwards: the last step, or the pulses' base (safe_off
            # ramps down from it).
            self._known["voltage"] = (piece.levels[-1] if isinstance(piece, Staircase)
                                      else piece.base)
            self._known["ilimit"] = piece.current_limit
            self.parent.check_errors("configure sequence")
            start = self.parent.clock.now()
            self.parent.require_armed(":INIT")
            self.parent.write(f":INIT (@{n});*OPC?")
        aborted = self._wait(start + program.duration, should_abort)
        if not aborted:
            try:
                self._read_complete()
            except InstrumentTimeout:
                if not self.parent.safed.is_set():
                    raise
                aborted = True  # an emergency safe_off() cleared the *OPC? reply
        data = SequenceData.empty()
        if program.readings and (not aborted or
                                 self.parent.clock.now() - start >= program.first_reading):
            data = self._fetch(index, start, program, piece.label)
        if isinstance(piece, Staircase) and piece.stop_on_limit and data.limited.any():
            data = up_to(data, int(np.argmax(data.limited)) + 1)
        expected = len(data) if stopped_on_limit(piece, data) else program.readings
        if not aborted and len(data) != expected and not self.parent.dry_run:
            raise InstrumentReplyError(self.parent.name, f":FETC:ARR? (@{n})",
                                       f"segment {piece.label or index} returned {len(data)} "
                                       f"readings, expected {expected}")
        data.aborted = aborted
        return data

    def _wait(self, expected_end: float, should_abort: AbortCheck | None) -> bool:
        """Wait on the clock in slices to the expected end, then serial-poll until the
        ``*OPC?`` reply waits (MAV); True if aborted (the channel's trigger system stopped)."""
        clock, deadline = self.parent.clock, expected_end + OVERRUN_S
        while True:
            if self.parent.safed.is_set() or (should_abort is not None and should_abort()):
                self._interrupt()
                return True
            now = clock.now()
            if now < expected_end:
                clock.sleep(min(ABORT_SLICE_S, expected_end - now))
            elif self.parent.reply_waiting():
                return False
            elif now > deadline:
                self._interrupt()
                raise InstrumentTimeout(self.parent.name, "*OPC?", f"the run on channel "
                                        f"{self.number} had not completed {OVERRUN_S:g} s "
                                        "after its expected end; aborted")
            else:
                clock.sleep(POLL_S)

    def _interrupt(self) -> None:
        with self.parent.lock:
            self.parent.discard_reply()
            self.parent.write(f":ABOR (@{self.number})")

    def _read_complete(self) -> None:
        reply = self.parent.read().strip()
        if reply != "1":
            raise InstrumentReplyError(self.parent.name, "*OPC?", f"reply {reply[:40]!r} is "
                                       "not 1 (operation complete)")

    def _fetch(self, index: int, start: float, program: Program, label: str) -> SequenceData:
        command = f":FETC:ARR? (@{self.number})"
        values = self.parent.numbers(command)
        if len(values) % VALUES_PER_READING:
            raise InstrumentReplyError(self.parent.name, command, f"{len(values)} values are "
                                       f"not whole readings of {ELEMENTS}")
        rows = np.asarray(values, dtype=float).reshape(-1, VALUES_PER_READING)
        voltage, current, stamp, status, _ = rows.T
        time = start + program.first_reading + (stamp - stamp[0])
        compliance = (status.astype(int) & STATUS_COMPLIANCE) > 0
        return SequenceData(np.full(len(rows), index), time, voltage, current, compliance,
                            labels=[label])

    def safe_off(self) -> None:
        """From any state: stop this channel, source to 0, output off, verified; the
        instrument's outputs are then held off until `rearm()`."""
        self.parent.switch_off([self])

    def zero_and_off(self) -> None:
        """Ramp down from above 20 V, back to DC 0 V, output off (no verification)."""
        n = self.number
        for value in ramp_steps(self._known.get("voltage", 0.0), RAMP_ABOVE_V):
            self.parent.write(f":SOUR{n}:VOLT {value:.6g}")
            self.parent.clock.sleep(0.01)
        self.parent.write(f":SOUR{n}:VOLT:MODE FIX;:SOUR{n}:FUNC:SHAP DC;:SOUR{n}:VOLT 0")
        self.parent.write(f":OUTP{n} 0")
        self._known["voltage"] = 0.0
