"""Keysight (Agilent) 33500B / 33600A Trueform waveform generators as pulse generators.

Each output channel implements the `PulseGenerator` capability: a train of identical pulses is
one bus-triggered burst of the pulse function (one configuration message, one ``*TRG``, one
``*OPC?``, one error check); a train of different amplitudes, or any shaped spike
(`load_waveform`), is an arbitrary waveform of DAC codes played once per trigger.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pymeasure.instruments import Instrument

from labsyn.errors import InstrumentError

from . import keysight_33500b_program as program
from .base import LabsynInstrument, on_off
from .capabilities import AbortCheck, PulseGeneratorLimits
from .keysight_33500b_channel import ABORT_SLICE_S, LOADS, Keysight33500BChannel
from .sequence import PulseTrain, Sequence, SequenceData
from .validators import strict_choice

__all__ = ["ABORT_SLICE_S", "IDN_33522B", "LOADS", "Keysight33500B", "Keysight33500BChannel"]

IDN_33522B = "Agilent Technologies,33522B,MY52800000,3.05-1.19-2.00-52-00"


class Keysight33500B(LabsynInstrument):
    """Keysight 33500B / 33600A waveform generator: channel 1 (``ch_1``) and, on two-channel
    models (an even model number: 33522B, 33612A, …), channel 2 (``ch_2``); the model comes
    from ``*IDN?``. `channels_by_number` maps channel numbers to `PulseGenerator` channels;
    `run`, `check_sequence`, `load_waveform` and `load` on the instrument act on channel 1.

    ``*TRG`` fires every channel armed on the bus trigger, so a channel's run parks a channel
    this driver left armed on the external trigger first."""

    ch_1 = Instrument.ChannelCreator(Keysight33500BChannel, 1)

    trigger_output = on_off("OUTP:TRIG", "Control the rear Trig Out signal.", "trigger output")
    trigger_output_slope = Instrument.control(
        "OUTP:TRIG:SLOP?", "OUTP:TRIG:SLOP %s", "Control the Trig Out edge (POS or NEG).",
        validator=strict_choice("trigger output slope"), values=["POS", "NEG"], cast=str)
    trigger_output_source = Instrument.control(
        "OUTP:TRIG:SOUR?", "OUTP:TRIG:SOUR %s", "Control which channel drives Trig Out.",
        validator=strict_choice("trigger output source"), values=["CH1", "CH2"], cast=str)

    init_exchanges: ClassVar[list[tuple[str, str | None]]] = [("*IDN?", IDN_33522B)]

    def __init__(self, adapter: Any, name: str = "Keysight 33500B", **kwargs: Any) -> None:
        kwargs.setdefault("read_termination", "\n")
        kwargs.setdefault("write_termination", "\n")
        super().__init__(adapter, name, **kwargs)
        idn = self.ask("*IDN?").strip()
        fields = [f.strip() for f in idn.split(",")]
        self.model_name = fields[1] if len(fields) > 1 else idn
        model = program.model_of(self.model_name)
        if model is None:
            raise InstrumentError(self.name, "*IDN?", f"model {self.model_name!r} is not a "
                                  "33500B (33509B…33522B) or 33600A (33611A…33622A)")
        self.model = model
        if model.channels == 2:
            self.add_child(Keysight33500BChannel, 2)
        self.channels_by_number: dict[int, Keysight33500BChannel] = {
            n: self.channels[n] for n in range(1, model.channels + 1)}
        for channel in self.channels_by_number.values():
            channel.configure_model(model)
        self._bus_armed: set[int] = set()

    def arm_bus_trigger(self, channel: int) -> tuple[int, ...]:
        """Channels to park before `channel` is armed on the bus trigger."""
        park = tuple(sorted(self._bus_armed - {channel}))
        self._bus_armed = {channel}
        return park

    # -- channel 1 as the instrument's PulseGenerator ---------------------------------------------
    @property
    def limits(self) -> PulseGeneratorLimits:
        return self.ch_1.limits

    @property
    def load(self) -> float:
        return self.ch_1.load

    def check_sequence(self, sequence: Sequence) -> None:
        self.ch_1.check_sequence(sequence)

    def run(self, sequence: Sequence, should_abort: AbortCheck | None = None) -> SequenceData:
        return self.ch_1.run(sequence, should_abort)

    def load_waveform(self, name: str, samples: np.ndarray, sample_rate: float) -> None:
        self.ch_1.load_waveform(name, samples, sample_rate)

    def check_external(self, train: PulseTrain, count: int, delay: float = 0.0) -> None:
        self.ch_1.check_external(train, count, delay)

    def arm_external(self, train: PulseTrain, count: int, delay: float = 0.0) -> None:
        self.ch_1.arm_external(train, count, delay)

    def disarm_external(self) -> None:
        self.ch_1.disarm_external()

    def trigger(self) -> None:
        """Software trigger (``*TRG``) of every channel armed on the bus."""
        self.require_armed("*TRG")
        self.write("*TRG")

    def abort(self) -> None:
        """Stop every running burst (``ABOR``); outputs stay as they are."""
        self.write(":ABOR")

    def safe_off(self, channels: tuple[Keysight33500BChannel, ...] | None = None) -> None:
        """From any state: stop the bursts, every output (or `channels`) off, verified by
        ``OUTP<n>?``; outputs stay off until rearm()."""
        self.safed.set()
        targets = tuple(self.channels_by_number.values()) if channels is None else channels
        offs = ";".join(f":OUTP{c.id} OFF" for c in targets)
        problems = self.safe_steps((
            lambda: self.write(offs),
            lambda: self.write(":ABOR"),
            *(lambda n=channel.id: self._check_output_off(n) for channel in targets)))
        if problems:
            raise problems[0]

    def _check_output_off(self, number: int) -> None:
        command = f"OUTP{number}?"
        if self.ask(command).strip() not in ("0", "OFF"):
            raise InstrumentError(self.name, command, "output still on")
