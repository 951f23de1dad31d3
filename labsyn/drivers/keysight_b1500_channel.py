"""One SMU module of the Keysight B1500A (a channel numbered by its slot) as a `SourceMeter`:
settings checked against its module type, spot measurements, and `Sequence`s handed to the
mainframe piece by piece (the mainframe is in `keysight_b1500`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pymeasure.instruments import Channel

from labsyn.errors import ConfigError, InstrumentError, LimitError

from .capabilities import AbortCheck, SourceMeterLimits, SpotReading
from .keysight_b1500_program import (
    ANY_SMU,
    MAX_ANY_CURRENT,
    MAX_ANY_VOLTAGE,
    MAX_DELAY_S,
    MAX_SWEEP_STEPS,
    MIN_ANY_LIMIT,
    MIN_PULSE_WIDTH,
    SMU_MODULES,
    SmuModule,
    adc_setting,
    check_train,
    measure_time,
    pulse_pieces,
    staircase_pieces,
)
from .sequence import Sequence, SequenceData, Staircase, refuse_pulse_sampling
from .validators import checked, strict_choice, strict_range

if TYPE_CHECKING:
    from .keysight_b1500 import KeysightB1500

ON_OFF = {True: 1, False: 0}


class B1500SMU(Channel):
    """One SMU module of the mainframe (channel = slot number); implements `SourceMeter`.

    Output on is ``CN`` (the channel forces 0 V), then ``DV`` sets compliance and level in one
    command; ``CL`` opens the output switch.
    """

    adc_type = Channel.setting("AAD {ch},%d", "Set the ADC (high_speed: 0, high_resolution: 1).",
                               validator=strict_choice("ADC type"),
                               values={"high_speed": 0, "high_resolution": 1}, map_values=True)
    filter_enabled = Channel.setting("FL %d,{ch}", "Set the output filter.",
                                     validator=strict_choice("filter"), values=ON_OFF,
                                     map_values=True)
    series_resistor = Channel.setting("SSR {ch},%d", "Set the 1 MΩ series resistor.",
                                      validator=strict_choice("series resistor"), values=ON_OFF,
                                      map_values=True)

    def __init__(self, parent: KeysightB1500, id: int, **kwargs: Any) -> None:
        super().__init__(parent, id, **kwargs)
        self.parent: KeysightB1500 = parent
        self.name = f"{parent.name} SMU{id}"
        self.model = ""
        self.module: SmuModule | None = None
        self.known: dict[str, float] = {}
        self.is_on = False

    # -- settings checked against the module ----------------------------------------------------
    def _smu(self) -> SmuModule:
        if self.module is None:
            raise ConfigError(f"{self.parent.name}: slot {self.id} holds "
                              f"{self.model or 'nothing'}, not a supported SMU "
                              f"({', '.join(SMU_MODULES)})")
        return self.module

    def _set_range(self, quantity: str, command: str, value: Any) -> None:
        union = sorted({r for m in ANY_SMU for r in m.measure_ranges(quantity)})
        strict_choice(f"{quantity} measure range index")(value, union)
        allowed = self._smu().measure_ranges(quantity)
        if value not in allowed:
            raise LimitError(f"{quantity} measure range index", value,
                             f"{', '.join(map(str, allowed))} on a {self._smu().kind}")
        self.write(f"{command} {{ch}},{value}")
        self.known[command] = value

    def _set_current_range(self, value: Any) -> None:
        self._set_range("current", "RI", value)

    def _set_voltage_range(self, value: Any) -> None:
        self._set_range("voltage", "RV", value)

    def _set_enabled(self, on: bool) -> None:
        strict_choice("output switch")(on, (True, False))
        self._smu()
        self.write("CN {ch}" if on else "CL {ch}")
        self.is_on = on
        if not on:
            self.known.pop("level", None)

    def _set_source_voltage(self, level: float) -> None:
        strict_range("source voltage", "V")(level, (-MAX_ANY_VOLTAGE, MAX_ANY_VOLTAGE))
        self._force(level, self.known.get("limit", 100e-6))

    def _set_current_limit(self, limit: float) -> None:
        strict_range("current limit", "A")(limit, (MIN_ANY_LIMIT, MAX_ANY_CURRENT))
        self._force(self.known.get("level", 0.0), limit)

    def _force(self, level: float, limit: float) -> None:
        self._smu().check("source", level, limit)
        if not self.is_on:
            raise InstrumentError(self.name, "DV", "the output switch is open: set enabled = "
                                  "True (CN) or use apply_voltage")
        self.write(f"DV {{ch}},0,{level:.6g},{limit:.6g}")
        self.known.update(level=level, limit=limit)

    enabled = checked(lambda self: self.is_on, _set_enabled, [True, False],
                      "Control the output switch (True: CN, the channel forces 0 V; False: CL).")

    current_measure_range = checked(lambda self: self.known.get("RI"), _set_current_range,
                                    sorted({r for m in ANY_SMU for r in
                                            m.measure_ranges("current")}),
                                    "Control the current measure range index (RI; 0 auto, "
                                    "negative fixed).")
    voltage_measure_range = checked(lambda self: self.known.get("RV"), _set_voltage_range,
                                    sorted({r for m in ANY_SMU for r in
                                            m.measure_ranges("voltage")}),
                                    "Control the voltage measure range index (RV).")
    source_voltage = checked(lambda self: self.known.get("level"), _set_source_voltage,
                             (-MAX_ANY_VOLTAGE, MAX_ANY_VOLTAGE),
                             "Control the forced voltage (DV, auto range, present compliance); "
                             "the channel must be on.")
    current_limit = checked(lambda self: self.known.get("limit"), _set_current_limit,
                            (MIN_ANY_LIMIT, MAX_ANY_CURRENT),
                            "Control the current compliance (DV at the present level).")

    # -- SourceMeter ----------------------------------------------------------------------------
    @property
    def limits(self) -> SourceMeterLimits:  # type: ignore[override]
        smu = self._smu()
        return SourceMeterLimits(max_voltage=smu.max_voltage, max_current=smu.max_current,
                                 min_current_limit=smu.min_current_limit,
                                 min_pulse_width=MIN_PULSE_WIDTH,
                                 max_list_points=MAX_SWEEP_STEPS, min_nplc=0.01, max_nplc=100.0)

    def apply_voltage(self, level: float, current_limit: float) -> None:
        """Output on (``CN``: 0 V) if off, then compliance and level together (``DV``)."""
        self._smu().check("source", level, current_limit)
        with self.parent.lock:
            self.parent.require_armed("apply_voltage")
            commands = [] if self.is_on else [f"CN {self.id}"]
            self.write(";".join([*commands, f"DV {{ch}},0,{level:.6g},{current_limit:.6g}"]))
            self.is_on = True
        self.known.update(level=level, limit=current_limit)

    def measure(self) -> SpotReading:
        """High-speed spot current and voltage (``TI``, ``TV``): one write, two replies."""
        if not self.is_on:
            raise InstrumentError(self.name, "TI", "the channel is off: apply_voltage first")
        command = f"TI {self.id},0;TV {self.id},0"
        with self.parent.lock:
            current = self.parent.items(command, self.parent.ask(command))[0]
            voltage = self.parent.items(command, self.read())[0]
        return SpotReading(voltage.value, current.value, current.limited)

    def check_sequence(self, sequence: Sequence) -> None:
        """Levels, compliance, timing and list sizes against this SMU; raises before sending."""
        refuse_pulse_sampling(sequence, "Keysight B1500")
        smu = self._smu()
        adc_setting(sequence.nplc)
        for segment in sequence.segments:
            name = segment.label or type(segment).__name__
            peak = float(max(segment.levels, key=abs))
            smu.check(name, peak, segment.current_limit)
            if isinstance(segment, Staircase):
                reading = measure_time(sequence.nplc, self.parent.line_frequency)
                strict_range(f"{name} dwell", "s")(segment.dwell, (0.0, MAX_DELAY_S + reading))
            else:
                check_train(segment, name)

    def run(self, sequence: Sequence, should_abort: AbortCheck | None = None) -> SequenceData:
        """Each segment instrument-side; on abort, what was measured (flagged aborted)."""
        self.check_sequence(sequence)
        parent = self.parent
        parent.abort_event.clear()
        parts: list[SequenceData] = []
        for index, segment in enumerate(sequence.segments):
            if isinstance(segment, Staircase):
                pieces = staircase_pieces(segment, self.id, sequence.nplc,
                                          parent.line_frequency)
            else:
                pieces = pulse_pieces(segment, self.id)
            segment_parts: list[SequenceData] = []
            for piece in pieces:
                if parent.safed.is_set() or (should_abort is not None and should_abort()):
                    segment_parts.append(_aborted())
                    break
                enable = "" if self.is_on else f"CN {self.id};"
                self.is_on = True  # before: a safe_off during the piece turns it off again
                data, stopped = parent.run_piece(piece, index, segment.label, should_abort,
                                                 enable)
                segment_parts.append(data)
                if data.aborted or stopped:
                    break
            parts.append(SequenceData.concatenate(segment_parts))
            parts[-1].labels = [segment.label]
            if parts[-1].aborted:
                return SequenceData.concatenate(parts, aborted=True)
            last = segment.levels[-1] if isinstance(segment, Staircase) else segment.base
            self.known.update(level=float(last), limit=segment.current_limit)
        parent.check_errors("run sequence")
        return SequenceData.concatenate(parts)

    def safe_off(self) -> None:
        """Stop what runs, this channel to 0 V and its output switch open, verified."""
        self.parent.switch_off([self.id])

    def errors(self) -> list[tuple[int, str]]:
        return self.parent.errors()


def _aborted() -> SequenceData:
    data = SequenceData.empty()
    data.aborted = True
    return data
