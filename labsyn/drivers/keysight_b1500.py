"""Keysight (Agilent) B1500A semiconductor device analyzer in its FLEX command language.

pymeasure's `AgilentB1500` knows the command set and its range-index tables, which this driver
reuses (`SMUVoltageRanging`, `SMUCurrentRanging` validate the ``RI``/``RV`` indices per module
type). What labsyn adds: every transaction under one lock with labsyn's error translation and
clock; ``ERRX?`` entries surfacing as `InstrumentReportedError` (pymeasure's ``check_errors``
raises a bare OSError and follows every write with a query); strict limits per module type,
coupled voltage/current envelopes included, checked before anything is sent (pymeasure's
``force`` and ``staircase_sweep_source`` send any compliance); spot measurements (``TI``/``TV``),
pulsed spot and pulsed sweeps (``PT``/``PV``/``PWV``), which pymeasure lacks; and `Sequence`s
run instrument-side (keysight_b1500_program.py) with sliced, abortable waits.

Each SMU module is one channel, numbered by its slot (``UNT?``); `channels_by_number` holds the
supported SMU slots, each a `SourceMeter`. The mainframe's `safe_off` switches every channel off.
"""

from __future__ import annotations

import math
import threading
from typing import Any, ClassVar

import numpy as np
from pymeasure.instruments import Instrument

from labsyn.errors import (
    InstrumentError,
    InstrumentReplyError,
    InstrumentReportedError,
    InstrumentTimeout,
)

from .base import LabsynInstrument, try_each
from .capabilities import AbortCheck
from .keysight_b1500_channel import B1500SMU, ON_OFF
from .keysight_b1500_program import (
    SLOTS,
    SMU_MODULES,
    Batch,
    Piece,
    batch_data,
    block_rows,
    enabled_channels,
    parse_block,
    parse_modules,
    up_to_first_limited,
)
from .sequence import SequenceData
from .validators import strict_choice, strict_integer_range

ABORT_SLICE_S = 0.05
RAMP_ABOVE_V, RAMP_STEP_V = 20.0, 5.0


__all__ = ["ABORT_SLICE_S", "B1500SMU", "ON_OFF", "RAMP_ABOVE_V", "RAMP_STEP_V", "KeysightB1500"]


class KeysightB1500(LabsynInstrument):
    """B1500A mainframe: modules from ``UNT?``, SMU channels by slot, data format FMT 1,0."""

    channels = Instrument.MultiChannelCreator(B1500SMU, list(SLOTS), prefix="smu")

    auto_calibration = Instrument.setting("CM %d", "Set automatic self-calibration.",
                                          validator=strict_choice("auto calibration"),
                                          values=ON_OFF, map_values=True)
    autozero = Instrument.setting("AZ %d", "Set autozero of the high-resolution ADC.",
                                  validator=strict_choice("autozero"), values=ON_OFF,
                                  map_values=True)
    high_speed_adc_plc = Instrument.setting(
        "AIT 0,2,%d", "Set the high-speed ADC to PLC mode, N power-line cycles.",
        validator=strict_integer_range("high-speed ADC PLC"), values=(1, 100))
    high_speed_adc_samples = Instrument.setting(
        "AIT 0,1,%d", "Set the high-speed ADC to manual mode, N samples.",
        validator=strict_integer_range("high-speed ADC samples"), values=(1, 1023))
    high_resolution_adc_plc = Instrument.setting(
        "AIT 1,2,%d", "Set the high-resolution ADC to PLC mode, N power-line cycles.",
        validator=strict_integer_range("high-resolution ADC PLC"), values=(1, 100))

    init_exchanges: ClassVar[list[tuple[str, str | None]]] = [
        ("UNT? 0", "B1511B,0;B1517A,0;B1520A,0;B1510A,0;0,0;0,0;0,0;0,0;0,0;0,0"),
        ("FMT 1,0", None)]

    def __init__(self, adapter: Any, name: str = "Keysight B1500A",
                 line_frequency: float = 50.0, **kwargs: Any) -> None:
        kwargs.setdefault("read_termination", "\r\n")
        kwargs.setdefault("write_termination", "\r\n")
        super().__init__(adapter, name, **kwargs)
        self.line_frequency = line_frequency
        self.abort_event = threading.Event()
        self.buffer_dirty = False
        self.clears = 0
        self.modules = parse_modules(self.ask("UNT? 0"))
        self.channels_by_number: dict[int, B1500SMU] = {}
        for slot, model in self.modules.items():
            channel: B1500SMU = self.channels[slot]
            channel.model = model
            channel.module = SMU_MODULES.get(model)
            if channel.module is not None:
                self.channels_by_number[slot] = channel
        self.write("FMT 1,0")

    # -- errors and replies ---------------------------------------------------------------------
    @property
    def next_error(self) -> tuple[int, str]:
        """Get the oldest ``ERRX?`` entry as (code, message); (0, "No Error.") when empty."""
        return self._parse_error(self.ask("ERRX?"))

    def _parse_error(self, reply: str) -> tuple[int, str]:
        code, _, message = reply.strip().partition(",")
        try:
            return int(code), message.strip().strip('"')
        except ValueError:
            raise InstrumentReplyError(self.name, "ERRX?", f"reply {reply[:80]!r} is not "
                                       "'code,\"message\"'") from None

    def items(self, command: str, reply: str) -> list[Any]:
        try:
            return parse_block(reply)
        except ValueError as exc:
            raise InstrumentReplyError(self.name, command, str(exc)) from None

    def reset(self) -> None:
        """``*RST``: all channels off; the driver forgets what it knew."""
        with self.lock:
            self.write("*RST")
            self.write("FMT 1,0")
        for channel in self.channels_by_number.values():
            channel.known.clear()
            channel.is_on = False

    # -- running a piece ------------------------------------------------------------------------
    def run_piece(self, piece: Piece, index: int, label: str,
                  should_abort: AbortCheck | None, enable: str = "") -> tuple[SequenceData, bool]:
        """Configure (`enable` first, checked by ``ERRX?``), then each batch: write, wait, read
        its blocks. Returns (data, stopped at the compliance limit); a stop-on-limit piece keeps
        its rows up to the first limited one (the instrument sends dummy data after it). The lock
        is held from each trigger to its data: the data block is the trigger's reply.
        """
        with self.lock:
            self.require_armed("configure sequence")  # held off after safe_off()
            if self.buffer_dirty:
                self.write("BC")
                self.buffer_dirty = False
            self._configure(enable + piece.setup)
        parts: list[SequenceData] = []
        for batch in piece.batches:
            with self.lock:
                start, clears = self.clock.now(), self.clears
                self.write(batch.message)
                if self._wait(start + batch.duration, should_abort):
                    if self.clears == clears:  # not switched off meanwhile (that cleared all)
                        parts.append(self._abort_batch(batch, index, start, label))
                    data = SequenceData.concatenate(parts)
                    data.aborted = True  # also when nothing was read
                    return data, False
                parts.append(self._read_batch(batch, index, start, label))
            if piece.stop_on_limit and parts[-1].limited.any():
                parts[-1] = up_to_first_limited(parts[-1])
                return SequenceData.concatenate(parts), True
        return SequenceData.concatenate(parts), False

    def _configure(self, setup: str) -> None:
        try:
            code, message = self._parse_error(self.ask(setup))
        except InstrumentTimeout:  # the rest of a message after an error may not run (?)
            self.clear_interface()
            self.check_errors(setup)
            raise
        if code != 0:
            raise InstrumentReportedError(self.name, setup, [(code, message), *self.errors()])

    def _wait(self, end: float, should_abort: AbortCheck | None) -> bool:
        """Clock waits in ≤ 50 ms slices; True if an abort was asked."""
        while self.clock.now() < end:
            if self.abort_event.is_set() or (should_abort is not None and should_abort()):
                return True
            self.clock.sleep(min(ABORT_SLICE_S, end - self.clock.now()))
        return False

    def _read_batch(self, batch: Batch, index: int, start: float, label: str) -> SequenceData:
        """All blocks of a batch: one read per block, or one read of the whole batch."""
        if batch.blocks == 1 or self.dry_run:
            texts = [self.read() for _ in range(batch.blocks)]
        else:
            raw = self.read_bytes(batch.reply_bytes).decode("ascii", errors="replace")
            texts = [t for t in raw.split("\r\n") if t]
            if len(texts) != batch.blocks:
                raise InstrumentReplyError(self.name, "XE", f"{len(texts)} data blocks in "
                                           f"{batch.reply_bytes} bytes, expected {batch.blocks}")
        try:
            rows = block_rows(batch, texts, strict=not self.dry_run, label=label or str(index))
        except ValueError as exc:
            raise InstrumentReplyError(self.name, "XE", str(exc)) from None
        return batch_data(batch, rows, index, start, label)

    def _abort_batch(self, batch: Batch, index: int, start: float, label: str) -> SequenceData:
        """One trigger in flight: ``AB``, then the data taken before it. Several: device clear
        (``AB`` would wait behind the queued triggers); that batch's data are lost."""
        if self.dry_run:
            for _ in range(batch.blocks):
                self.read()
            return SequenceData.empty()
        if batch.blocks > 1:
            self.clear_interface()
            self.buffer_dirty = True
            return SequenceData.empty()
        self.write("AB")
        try:
            rows = block_rows(batch, [self.read()], strict=False, label=label)
        except ValueError as exc:
            raise InstrumentReplyError(self.name, "AB", str(exc)) from None
        return batch_data(batch, rows, index, start, label)

    # -- safe state -----------------------------------------------------------------------------
    def safe_off(self) -> None:
        """From any state: stop what runs, every channel to 0 V and off, verified."""
        self.switch_off(None)

    def switch_off(self, slots: list[int] | None) -> None:
        """Device clear and ``AB`` (stop any measurement: the mainframe runs one at a time,
        whichever channel it is on), ramp down above 20 V, ``DZ`` and ``CL`` (all channels, or
        `slots`), clear the buffer, then ``*LRN? 0`` must list none of them."""
        self.abort_event.set()
        if slots is None:
            self.safed.set()  # outputs held off until rearm()
        targets = list(self.channels_by_number) if slots is None else slots
        suffix = "" if slots is None else " " + ",".join(map(str, slots))
        problems: list[Exception] = []
        with self.lock:
            self.clears += 1
            try_each((self.clear_interface, lambda: self.write("AB"),
                      lambda: self._ramp_down(targets),
                      lambda: self.write(f"DZ{suffix};CL{suffix}"),
                      lambda: self.write("BC")), problems)
            self.buffer_dirty = False
            try:
                still_on = set(enabled_channels(self.ask("*LRN? 0"))) & set(targets)
                if still_on:
                    problems.append(InstrumentError(self.name, "*LRN? 0", "output still on: "
                                                    f"channel(s) {sorted(still_on)}"))
            except Exception as exc:
                problems.append(exc)
        for slot in targets:
            channel = self.channels_by_number.get(slot)
            if channel is not None:
                channel.is_on = False
                channel.known.pop("level", None)
        if problems:
            raise problems[0]

    def _ramp_down(self, slots: list[int]) -> None:
        for slot in slots:
            channel = self.channels_by_number.get(slot)
            if channel is None or not channel.is_on:
                continue
            level = channel.known.get("level", 0.0)
            limit = channel.known.get("limit", 100e-6)
            if abs(level) <= RAMP_ABOVE_V:
                continue
            steps = int(math.ceil(abs(level) / RAMP_STEP_V))
            for value in np.linspace(level, 0.0, steps + 1)[1:-1]:
                self.write(f"DV {slot},0,{value:.6g},{limit:.6g}")
                self.clock.sleep(0.01)
