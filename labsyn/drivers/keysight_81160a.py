"""Keysight (Agilent) 81150A / 81160A pulse function arbitrary noise generator (SCPI).

pymeasure's `Keysight81160A` has the right command strings for most of what labsyn needs, and
they are reused here (`:FUNC1`, `:PULS:PER1`, `:PULS:WIDT1`, `:VOLT1:HIGH/LOW`,
`:VOLT1:LIM:HIGH/LOW`, `:OUTP1:LOAD`, `:BURS1:STAT`, `:BURS1:NCYC`, `:ARM:SOUR1`, `:TRIG1:COUN`).
It is not subclassed, because its validators do not hold: `burst_state = True` sends
`:BURS1:STAT 0` (a list mapped by index), `burst_ncycles` and `output_load` accept what the
instrument cannot do or refuse what it can, the 81150A's longer minimum period is not known to it,
levels ignore the load setting, and pymeasure's ValueError is not labsyn's LimitError. What labsyn
adds:

- strict validators per model (from ``*IDN?``) and per load setting (levels double into high-Z);
- the coupled rule period ≥ width + 1.6 × edge, levels and amplitude checked on the whole train
  before anything is sent;
- `PulseGenerator` channels (`channels_by_number`, one or two outputs from ``*OPT?``);
- a pulse train run as one triggered burst: one configuration message closed by ``:SYST:ERR?``,
  ``:OUTP ON;*TRG``, a sliced wait on the station clock, ``*OPC?``, the error check;
- `safe_off()` of every output, verified by ``:OUTP?``.

Choices where the reference is unconfirmed (?): the edge is ``:PULS:TRAN<n>`` (the ``:PULSe``
tree of the manual, like ``:PULS:PER<n>``; pymeasure's ``:FUNC<n>:PULS:TRAN`` is the
33250A-compatible tree), the output is ``:OUTP<n> ON|OFF``, negative pulses use
``:OUTP<n>:POL INV`` (idle at the high level = base, pulses down to the low level), the channel
count is ``001``/``002`` in ``*OPT?``, a running burst is stopped by switching the output off,
and ``*TRG`` starts every output armed manually (so other outputs are disarmed with ``EXT``
before a burst). A generator measures nothing and has no buffer, so `dry_run` changes nothing.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from pymeasure.instruments import Channel, Instrument

from labsyn.errors import InstrumentError, InstrumentReplyError, InstrumentReportedError, LimitError

from .base import LabsynInstrument, parse_error
from .capabilities import AbortCheck, PulseGeneratorLimits
from .keysight_81160a_program import (
    MAX_EDGE,
    MAX_PERIOD,
    MAX_PULSES,
    MAX_WIDTH,
    MIN_BURST_CYCLES,
    MODELS,
    SOURCE_IMPEDANCE,
    ModelLimits,
    amplitude_range,
    burst_commands,
    level_window,
    plan_burst,
)
from .sequence import PulseTrain, Sequence, SequenceData
from .validators import checked, limited, strict_choice, strict_integer_range, strict_range

ABORT_SLICE_S = 0.05
HIGH_Z = 9.9e37  # what :OUTP:LOAD? reports for INF
FUNCTIONS = {"sine": "SIN", "square": "SQU", "ramp": "RAMP", "pulse": "PULS", "noise": "NOIS",
             "dc": "DC", "user": "USER"}
ARM_SOURCES = {"immediate": "IMM", "internal": "INT2", "external": "EXT", "manual": "MAN"}
ON_OFF = {True: "ON", False: "OFF"}
WIDEST = MODELS["81160A"]


def _seconds(command: str, doc: str, quantity: str, low: float, high: float) -> property:
    return Instrument.control(f"{command}?", f"{command} %.9g", doc,
                              validator=strict_range(quantity, "s"), values=(low, high),
                              dynamic=True)


def _volts(command: str, doc: str, quantity: str, low: float, high: float) -> property:
    return Instrument.control(f"{command}?", f"{command} %.9g", doc,
                              validator=strict_range(quantity, "V"), values=(low, high),
                              dynamic=True)


def _switch(command: str, doc: str, quantity: str) -> property:
    """``<command> ON|OFF``, read back as 1|0."""
    return Instrument.control(f"{command}?", f"{command} %s", doc,
                              validator=strict_choice(quantity), values=[True, False],
                              set_process=lambda v: ON_OFF[v], cast=bool)


def _load_reply(value: float) -> float:
    return math.inf if value >= HIGH_Z else value


class PulseChannel(Channel):
    """One output of the generator; implements `PulseGenerator` for one DUT terminal."""

    function = Instrument.control(
        ":FUNC{ch}?", ":FUNC{ch} %s", "Control the waveform function.",
        validator=strict_choice("waveform function"), values=FUNCTIONS, map_values=True,
        cast=str)
    pulse_period = _seconds(":PULS:PER{ch}", "Control the pulse period (s).", "pulse period",
                            WIDEST.min_period, MAX_PERIOD)
    pulse_width = _seconds(":PULS:WIDT{ch}", "Control the pulse width (s).", "pulse width",
                           WIDEST.min_width, MAX_WIDTH)
    pulse_edge = _seconds(":PULS:TRAN{ch}", "Control the leading-edge time (s); the trailing "
                          "edge follows it.", "pulse edge time", WIDEST.min_edge, MAX_EDGE)
    amplitude = _volts(":VOLT{ch}", "Control high − low (V, into the load setting).",
                       "amplitude", *amplitude_range(math.inf))
    offset = _volts(":VOLT{ch}:OFFS", "Control (high + low) / 2 (V, into the load setting).",
                    "offset", -level_window(math.inf), level_window(math.inf))
    voltage_high = _volts(":VOLT{ch}:HIGH", "Control the high level (V, into the load setting).",
                          "high level", -level_window(math.inf), level_window(math.inf))
    voltage_low = _volts(":VOLT{ch}:LOW", "Control the low level (V, into the load setting).",
                         "low level", -level_window(math.inf), level_window(math.inf))
    voltage_limit_high = _volts(":VOLT{ch}:LIM:HIGH", "Control the high-level limit (V).",
                                "high-level limit", -level_window(math.inf),
                                level_window(math.inf))
    voltage_limit_low = _volts(":VOLT{ch}:LIM:LOW", "Control the low-level limit (V).",
                               "low-level limit", -level_window(math.inf), level_window(math.inf))
    voltage_limit_enabled = _switch(":VOLT{ch}:LIM:STAT", "Control the level limits.",
                                    "level limits")
    polarity = Instrument.control(
        ":OUTP{ch}:POL?", ":OUTP{ch}:POL %s", "Control the polarity (inverted: idle at high).",
        validator=strict_choice("polarity"), values={"normal": "NORM", "inverted": "INV"},
        map_values=True, cast=str)
    output_enabled = _switch(":OUTP{ch}", "Control the output (True = on).", "output state")
    burst_enabled = _switch(":BURS{ch}:STAT", "Control burst mode.", "burst state")
    burst_count = Instrument.control(
        ":BURS{ch}:NCYC?", ":BURS{ch}:NCYC %d", "Control the pulses per triggered burst.",
        validator=strict_integer_range("burst count"), values=(MIN_BURST_CYCLES, MAX_PULSES),
        cast=int)
    burst_period = _seconds(":BURS{ch}:INT:PER", "Control the burst repetition period for the "
                            "internal trigger (s).", "burst period", WIDEST.min_period,
                            MAX_PERIOD)
    arm_source = Instrument.control(
        ":ARM:SOUR{ch}?", ":ARM:SOUR{ch} %s", "Control what starts the output (manual = *TRG).",
        validator=strict_choice("arm source"), values=ARM_SOURCES, map_values=True, cast=str)
    trigger_count = Instrument.control(
        ":TRIG{ch}:COUN?", ":TRIG{ch}:COUN %d", "Control the pulses per trigger (> 1 turns "
        "burst mode on).", validator=strict_integer_range("trigger count"),
        values=(1, MAX_PULSES), cast=int)

    def __init__(self, parent: Keysight81160A, id: int, **kwargs: Any) -> None:
        super().__init__(parent, id, **kwargs)
        self.name = f"{parent.name} ch{id}"
        self._load: float | None = None
        self._train_edge = WIDEST.min_edge

    # -- model and load dependent limits --------------------------------------------------------
    def apply_model(self, model: ModelLimits) -> None:
        """Narrow the timing validators to the model; run() uses its fastest edge."""
        self.model = model
        self.pulse_period_values = (model.min_period, MAX_PERIOD)
        self.pulse_width_values = (model.min_width, MAX_WIDTH)
        self.pulse_edge_values = (model.min_edge, MAX_EDGE)
        self.burst_period_values = (model.min_period, MAX_PERIOD)
        self._train_edge = model.min_edge

    def _apply_load(self, load: float) -> None:
        self._load = load
        window = level_window(load)
        for name in ("offset", "voltage_high", "voltage_low", "voltage_limit_high",
                     "voltage_limit_low"):
            setattr(self, f"{name}_values", (-window, window))
        self.amplitude_values = amplitude_range(load)

    def _get_load(self) -> float:
        if self._load is None:
            self._apply_load(_load_reply(float(self.ask(":OUTP{ch}:LOAD?"))))
        assert self._load is not None
        return self._load

    def _set_load(self, load: float) -> None:
        load = strict_choice("output-load setting")(load, (50.0, math.inf))
        self.write(f":OUTP{{ch}}:LOAD {'INF' if math.isinf(load) else '50'}")
        self._apply_load(float(load))

    load = checked(_get_load, _set_load, [50.0, math.inf], "The output-load setting the levels "
                   "refer to: 50.0 Ω or math.inf (high-Z); read once, then remembered.")

    def _get_train_edge(self) -> float:
        return self._train_edge

    def _set_train_edge(self, seconds: float) -> None:
        low = getattr(self, "model", WIDEST).min_edge
        self._train_edge = strict_range("train edge time", "s")(seconds, (low, MAX_EDGE))

    train_edge = limited(_get_train_edge, _set_train_edge, WIDEST.min_edge, MAX_EDGE,
                         "The edge time run() programs (s); the model's fastest by default. "
                         "Nothing is sent when set.")

    # -- PulseGenerator capability --------------------------------------------------------------
    @property
    def limits(self) -> PulseGeneratorLimits:
        model = getattr(self, "model", WIDEST)
        return PulseGeneratorLimits(max_level=level_window(self.load), min_width=model.min_width,
                                    min_period=model.min_period, min_edge=model.min_edge,
                                    max_pulses=MAX_PULSES, output_impedance=SOURCE_IMPEDANCE)

    def check_sequence(self, sequence: Sequence) -> None:
        """Every segment against the instrument (may read the load setting once)."""
        for segment in sequence.segments:
            if not isinstance(segment, PulseTrain):
                raise LimitError(f"{segment.label or 'staircase'} segment", "Staircase",
                                 "pulse trains only: a pulse generator holds no DC staircase "
                                 "and measures nothing")
            plan_burst(segment, self.model, self.load, self._train_edge)

    def run(self, sequence: Sequence, should_abort: AbortCheck | None = None) -> SequenceData:
        """Each pulse train as one burst; no rows (a generator measures nothing)."""
        return self.parent.run_channel(self, sequence, should_abort)

    def safe_off(self) -> None:
        """Output off (this channel), verified."""
        self.parent.safe_off(channels=(self.id,))

    def errors(self) -> list[tuple[int, str]]:
        return self.parent.errors()


class Keysight81160A(LabsynInstrument):
    """81150A / 81160A; each output in `channels_by_number` is a `PulseGenerator`."""

    channels = Instrument.MultiChannelCreator(PulseChannel, (1, 2))

    init_exchanges: ClassVar[list[tuple[str, str | None]]] = [
        ("*IDN?", "Agilent Technologies,81160A,DE00000000,1.0.0.0"), ("*OPT?", "002")]

    def __init__(self, adapter: Any, name: str = "Keysight 81160A", **kwargs: Any) -> None:
        kwargs.setdefault("read_termination", "\n")
        kwargs.setdefault("write_termination", "\n")
        super().__init__(adapter, name, **kwargs)
        idn = self.ask("*IDN?").strip()
        fields = [f.strip() for f in idn.split(",")]
        model = next((MODELS[f] for f in fields[1:2] if f in MODELS), None)
        if model is None:
            raise InstrumentError(self.name, "*IDN?", f"{idn!r} is not an 81150A or 81160A")
        self.model = model
        options = {o.strip() for o in self.ask("*OPT?").split(",")}
        count = 1 if "001" in options and "002" not in options else 2
        for channel in self.channels.values():
            channel.apply_model(model)
        self.channels_by_number: dict[int, PulseChannel] = {
            n: self.channels[n] for n in range(1, count + 1)}
        self._armed = set(self.channels_by_number)  # may answer *TRG: unknown until disarmed

    def trigger(self) -> None:
        """``*TRG``: starts every output armed manually."""
        self.write("*TRG")

    # -- running --------------------------------------------------------------------------------
    def run_channel(self, channel: PulseChannel, sequence: Sequence,
                    should_abort: AbortCheck | None = None) -> SequenceData:
        """Check everything first, then one burst per pulse train on `channel`."""
        if channel.id not in self.channels_by_number:
            raise LimitError(f"{self.name} channel", channel.id,
                             ", ".join(map(str, self.channels_by_number)))
        channel.check_sequence(sequence)
        load = channel.load
        plans = [plan_burst(s, self.model, load, channel.train_edge)  # type: ignore[arg-type]
                 for s in sequence.segments]
        for plan in plans:
            commands = burst_commands(channel.id, plan, self.model, load)
            if self.safed.is_set() or self._run_burst(channel.id, commands, plan.duration,
                                                      should_abort):
                data = SequenceData.empty()
                data.aborted = True
                return data
        self.check_errors("run sequence")
        return SequenceData.empty()

    def _run_burst(self, ch: int, commands: list[str], duration: float,
                   should_abort: AbortCheck | None) -> bool:
        """Configure (refused configurations stop here), trigger, wait, confirm; True if
        aborted. ``*TRG`` starts every output armed manually, so the other outputs this driver
        may have left armed are disarmed first (``EXT``: nothing starts them unless a cable
        drives the external trigger input)."""
        others = sorted(self._armed - {ch})
        with self.lock:
            if self.safed.is_set():  # held off after safe_off() until rearm()
                return True
            reply = self.ask(";".join([*(f":ARM:SOUR{m} EXT" for m in others), *commands,
                                       ":SYST:ERR?"]))
            self._armed = {ch}
            code, message = parse_error(self.name, reply.strip())
            if code != 0:
                found = [(code, message), *self.errors()]
                raise InstrumentReportedError(self.name, "configure burst", found)
            self.require_armed(f":OUTP{ch} ON")
            self.write(f":OUTP{ch} ON;*TRG")
            end = self.clock.now() + duration
        while self.clock.now() < end:
            if self.safed.is_set() or (should_abort is not None and should_abort()):
                self.write(f":OUTP{ch} OFF")
                return True
            self.clock.sleep(min(ABORT_SLICE_S, end - self.clock.now()))
        done = self.ask("*OPC?").strip()
        if done != "1":
            raise InstrumentReplyError(self.name, "*OPC?", f"expected 1 after the burst, got "
                                       f"{done!r}")
        return False

    # -- safe state -----------------------------------------------------------------------------
    def safe_off(self, channels: tuple[int, ...] | None = None) -> None:
        """From any state: every output (or those named) off, arm manual, verified by
        ``:OUTP<n>?``. Switching the output off also stops a running burst."""
        if channels is None:
            self.safed.set()  # every output held off until rearm()
        numbers = tuple(self.channels_by_number) if channels is None else channels
        problems = self.safe_steps([lambda ch=ch: self._switch_off(ch) for ch in numbers])
        if problems:
            raise problems[0]

    def _switch_off(self, ch: int) -> None:
        """Output `ch` off and arm manual (no trigger starts it again), verified."""
        self.write(f":OUTP{ch} OFF;:ARM:SOUR{ch} MAN")
        self._armed.add(ch)
        if self.ask(f":OUTP{ch}?").strip() not in ("0", "OFF"):
            raise InstrumentError(self.name, f":OUTP{ch}?", "output still on")
