"""Simulated Keysight B1500A mainframe speaking FLEX, with SMU modules driving the bench.

FLEX is not SCPI: headers are bare mnemonics (``DV 1,0,1.5,1E-3``, ``WV1,1,0,0,1,11``), several
commands share a message separated by ``;``, and the errors are read with ``ERRX?`` (positive
codes). Measurement data are replies too: every ``XE``, ``TI`` and ``TV`` puts one CR LF-ended
FMT 1 block in the output queue (``NAI+1.23456E-06``: status N normal / C this channel in
compliance / V no data, channel letter A–J = slot 1–10, type I or V). The mainframe runs one
measurement at a time, so a trigger sent while another runs starts when it ends, and sources set
meanwhile take effect then.

Modelled: ``CN``/``CL``/``DZ``/``RZ``, ``DV``/``DI`` with the module's envelope, ``TI``/``TV``,
``MM`` 1 spot, 2 staircase (``WT``/``WM``/``WV``, ``WM 2`` aborting at compliance with dummy data
after it), 3 pulsed spot (``PT``/``PV``), 4 pulsed sweep (``PT``/``PWV``) with the SMU pulse
rules, ``AIT``/``AAD``/``AZ`` timing, ``AB`` (enters only once the last queued trigger has
started, as the programming guide says), device clear, ``BC`` (alone in its message),
``UNT?``, ``*LRN? 0|n``, ``ERRX?``/``ERR?``. Not modelled: CMU/SPGU/WGFMU modules, time stamps,
FMT other than 1,0, search, sampling and multi-channel sweeps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .scpi import Reply, split_units
from .sim_instrument import ScpiInstrument
from .timeline import DriveState, Measurement, Piece, SourceChannel

LETTERS = "ABCDEFGHIJ"
DUMMY = "+199.999E+99"
TERMINATOR = b"\r\n"
MEASURE_OVERHEAD_S = 200e-6
CURRENT_RANGES = (1e-11, 1e-10, 1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)
ERRORS = {  # the twin's numbering ?: check against the Programming Guide's error table
    100: "Undefined GPIB command.",
    101: "Incorrect numeric data syntax.",
    102: "Incorrect number of parameters.",
    120: "Parameter value out of range.",
    150: "Command not available for the module in this slot.",
    160: "Output switch of the channel is off (CN first).",
    170: "Multi command statement is not allowed for this command.",
    180: "Measurement mode and source setup do not match.",
}


@dataclass(frozen=True)
class Module:
    """An SMU module type: envelope steps (up to |V|, at most |I|) and output ranges."""

    kind: str
    envelope: tuple[tuple[float, float], ...]
    current_ranges: tuple[int, ...]
    voltage_ranges: tuple[int, ...]

    @property
    def max_voltage(self) -> float:
        return self.envelope[-1][0]

    def max_current_at(self, voltage: float) -> float:
        for volts, current in self.envelope:
            if abs(voltage) <= volts * (1 + 1e-9):
                return current
        return 0.0


_MP_V = (0, 5, 20, 50, 200, 400, 1000)
MPSMU = Module("MPSMU", ((20.0, 0.1), (40.0, 0.05), (100.0, 0.02)), tuple(range(11, 20)), _MP_V)
HRSMU = Module("HRSMU", ((20.0, 0.1), (40.0, 0.05), (100.0, 0.02)), tuple(range(9, 20)), _MP_V)
HPSMU = Module("HPSMU", ((20.0, 1.0), (40.0, 0.5), (100.0, 0.125), (200.0, 0.05)),
               tuple(range(11, 21)), (0, 20, 200, 400, 1000, 2000))
MODULES = {"B1511A": MPSMU, "B1511B": MPSMU, "B1517A": HRSMU, "B1510A": HPSMU}
DEFAULT_MODULES = ("B1511B", "B1517A", "B1520A", "B1510A")


class FlexError(Exception):
    """A command failed; becomes an ``ERRX?`` entry."""

    def __init__(self, code: int, detail: str = "") -> None:
        self.code = code
        self.message = ERRORS.get(code, "Error.") + (f" {detail}" if detail else "")
        super().__init__(f"{code}: {self.message}")


@dataclass
class Smu:
    """One SMU module: its output switch, forced value and compliance, and its bench output."""

    slot: int
    module: Module
    channel: SourceChannel
    enabled: bool = False
    mode: str = "V"
    level: float = 0.0
    compliance: float = 100e-6
    memory: tuple[float, float] | None = None
    high_resolution: bool = False

    def state(self, level: float | None = None) -> DriveState:
        return DriveState(self.enabled, self.mode, self.level if level is None else level,  # type: ignore[arg-type]
                          self.compliance, "HIMP")


class DataBlock:
    """One measurement's reply: items gathered as the timeline measures, rendered when read."""

    def __init__(self, ready_at: float) -> None:
        self.items: list[str] = []
        self.ready_at = ready_at

    @property
    def data(self) -> bytes:
        return ",".join(self.items).encode("ascii") + TERMINATOR


@dataclass
class Run:
    """One measurement (or pause): relative drive pieces on `slot`, relative measure events
    (offset, slot, I/V), what the source holds after it and after an abort."""

    slot: int | None
    pieces: list[tuple[float, float, DriveState]]
    measures: list[tuple[float, int, str]]
    duration: float
    after: DriveState | None = None
    abort_state: DriveState | None = None
    stop_on_limit: bool = False
    block: DataBlock | None = None
    start: float = 0.0
    end: float = 0.0
    generation: int = 0
    cut_at: float = float("inf")
    expected: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.expected = len(self.measures)


class SimKeysightB1500(ScpiInstrument):
    """A B1500A with SMUs in the slots `modules` names; `channels_by_number` = their outputs."""

    idn = "Agilent Technologies,B1500A,0,A.06.01.2019.0308"
    terminator = TERMINATOR

    def __init__(self, name: str = "Keysight B1500A", modules: tuple[str, ...] = DEFAULT_MODULES,
                 line_frequency: float = 50.0, seed: int = 0) -> None:
        if len(modules) > 10:
            raise ValueError(f"a B1500A has 10 slots, not {len(modules)}")
        self.models = {slot: model for slot, model in enumerate(modules, 1) if model}
        self.smus = {slot: Smu(slot, MODULES[model], SourceChannel(f"{name} SMU{slot}"))
                     for slot, model in self.models.items() if model in MODULES}
        self.channels_by_number = {slot: smu.channel for slot, smu in self.smus.items()}
        self.line_frequency = line_frequency
        self.rng = np.random.default_rng(seed)
        self.runs: list[Run] = []
        self.handlers: dict[str, Callable[[list[str]], Any]] = {}
        self.reset_settings()
        super().__init__(name)
        from .keysight_b1500_commands import register

        register(self)

    def attach(self, bench: Any) -> None:
        super().attach(bench)
        for smu in self.smus.values():
            bench.timeline.add_channel(smu.channel)

    def reset_settings(self) -> None:
        self.mm: tuple[int, tuple[int, ...]] | None = None
        self.adc = {0: (0, 1), 1: (0, 6)}  # type → (mode, N)
        self.autozero = True
        self.wt = (0.0, 0.0, 0.0)
        self.wm = (1, 1)
        self.wv: tuple[int, int, float, float, int, float] | None = None
        self.pt: tuple[float, float, float | None] | None = None
        self.pv: tuple[int, float, float, float] | None = None
        self.pwv: tuple[int, int, float, float, float, int, float] | None = None
        for smu in self.smus.values():
            smu.enabled, smu.mode, smu.level, smu.compliance = False, "V", 0.0, 100e-6
            smu.memory, smu.high_resolution = None, False

    # -- messages -------------------------------------------------------------------------------
    def receive(self, data: bytes, now: float) -> None:
        self.before_message(now)
        try:
            message = data.decode("ascii").strip("\r\n")
        except UnicodeDecodeError:
            self.status.push(101, ERRORS[101] + " Non-ASCII bytes.")
            return
        units = split_units(message)
        for unit in units:
            header, params = parse_unit(unit)
            try:
                if header == "BC" and len(units) > 1:
                    raise FlexError(170, "BC")
                handler = self.handlers.get(header)
                if handler is None:
                    raise FlexError(100, repr(unit[:20]))
                reply = handler(params)
            except FlexError as err:
                self.status.push(err.code, err.message)
                continue
            if isinstance(reply, str):
                self.output.append(Reply(reply.encode("ascii", "replace") + TERMINATOR,
                                         max(self.now, self.busy_until())))

    def before_message(self, now: float) -> None:
        self.runs = [r for r in self.runs if r.end > now]

    def busy_until(self) -> float:
        return max((r.end for r in self.runs), default=self.now)

    def query_unterminated(self) -> None:
        """FLEX keeps no error for a read with nothing to say (the read just times out)."""

    def query_interrupted(self) -> None:
        """Unread output stays queued in the B1500's output buffer."""

    def device_clear(self) -> None:
        """Stop the running measurement, drop queued ones and all output."""
        if self.bench is not None:
            self.bench.sync()
        now = self.now
        for run in self.runs:
            self._cut(run, max(now, run.start), run.abort_state if run.start <= now else None)
        self.runs.clear()
        self.output.clear()

    def push_error(self, code: int, detail: str = "") -> None:
        err = FlexError(code, detail)
        self.status.push(err.code, err.message)

    def pop_error(self) -> tuple[int, str]:
        code, message = self.status.pop()
        return (0, "No Error.") if code == 0 else (code, message)

    # -- timing and readings --------------------------------------------------------------------
    def measure_time(self, slot: int) -> float:
        """ADC integration (``AIT`` of the ADC the channel uses) plus processing."""
        smu = self.smus[slot]
        mode, n = self.adc[1 if smu.high_resolution else 0]
        plc = 1.0 / self.line_frequency
        if smu.high_resolution:
            integration = n * plc if mode == 2 else n * 1e-3
            integration *= 2 if self.autozero else 1
        elif mode == 2:
            integration = n * plc
        elif mode == 3:
            integration = float(n)
        else:
            integration = n * plc / 128
        return integration + MEASURE_OVERHEAD_S

    def item(self, status: str, slot: int, kind: str, value: float) -> str:
        text = DUMMY if status == "V" else f"{value:+.5E}"
        return f"{status}{LETTERS[slot - 1]}{kind}{text}"

    def reading(self, m: Measurement, kind: str) -> float:
        value = m.voltage if kind == "V" else m.current
        if m.limited and kind == "I":
            return value
        scale = next((r for r in CURRENT_RANGES if abs(value) <= r), 1.0) if kind == "I" else 1.0
        return value + float(self.rng.normal(0.0, 2e-5 * scale))

    # -- scheduling -----------------------------------------------------------------------------
    def queue(self, run: Run) -> DataBlock | None:
        """Start `run` when the mainframe is free; its block is the reply, ready at its end."""
        self.bench.sync()
        self._place(run, max(self.now, self.busy_until()), self.now)
        self.runs.append(run)
        if run.block is not None:
            self.output.append(run.block)
        return run.block

    def _place(self, run: Run, start: float, now: float) -> None:
        run.start, run.end = start, start + run.duration
        run.generation += 1
        if run.block is not None:
            run.block.ready_at = run.end
        if run.slot is not None:
            pieces = [Piece(start + a, start + b, s) for a, b, s in run.pieces if b > a]
            self.extend(self.smus[run.slot].channel, pieces, run.after, now)
        for offset, slot, kind in run.measures:
            self.bench.timeline.measure_at(
                start + offset, self.smus[slot].channel,
                lambda m, r=run, g=run.generation, s=slot, k=kind: self._measured(r, g, s, k, m))

    def extend(self, channel: SourceChannel, pieces: list[Piece], after: DriveState | None,
               now: float) -> None:
        """Append `pieces` after what is already scheduled, then hold `after`."""
        future = [Piece(max(p.start, now), p.end, p.state) for p in channel.pieces if p.end > now]
        hold = after if after is not None else (pieces[-1].state if pieces else
                                                channel.hold)
        channel.schedule(future + pieces, hold, now)

    def drive(self, smu: Smu) -> None:
        """A source setting: in force now, or once the queued measurements end."""
        self.bench.sync()
        self.extend(smu.channel, [], smu.state(), self.now)

    def _measured(self, run: Run, generation: int, slot: int, kind: str, m: Measurement) -> None:
        if run.generation != generation or m.time > run.cut_at or run.block is None:
            return
        status = "C" if m.limited and kind == "I" else "N"
        run.block.items.append(self.item(status, slot, kind, self.reading(m, kind)))
        if run.stop_on_limit and m.limited:
            missing = run.expected - len(run.block.items)
            run.block.items.extend(self.item("V", slot, kind, 0.0) for _ in range(missing))
            self._cut(run, m.time, run.abort_state)
            self._replan_after(run, m.time)

    def abort(self) -> None:
        """``AB``: it enters once the last queued trigger has started, and aborts that one
        (data before the abort are returned, no dummy data)."""
        pending = [r for r in self.runs if r.end > self.now and r.block is not None]
        if pending:
            last = pending[-1]
            self._cut(last, max(self.now, last.start), last.abort_state)

    def _cut(self, run: Run, t: float, state: DriveState | None) -> None:
        """End `run` at `t`: its later pieces and measurements go; the source holds `state`."""
        run.cut_at, run.end = t, min(run.end, t)
        if run.block is not None:
            run.block.ready_at = min(run.block.ready_at, t)
        if run.slot is None:
            return
        channel = self.smus[run.slot].channel
        channel.cancel_after(t)
        if state is not None:
            channel.set(state, t)
        self.bench.timeline.cancel_events(channel, t)

    def _replan_after(self, run: Run, t: float) -> None:
        """Measurements queued behind an aborted one start earlier."""
        later = self.runs[self.runs.index(run) + 1:]
        start = t
        for each in later:
            if each.block is not None:
                each.block.items.clear()
            self._place(each, start, t)
            start = each.end

    # -- state for the bench --------------------------------------------------------------------
    def output_state(self) -> dict[str, Any]:
        on = [slot for slot, smu in self.smus.items() if smu.channel.state_at(self.now).on]
        return {"output": "ON" if on else "OFF", "channels_on": on,
                "measuring": any(r.end > self.now for r in self.runs)}


def parse_unit(unit: str) -> tuple[str, list[str]]:
    """``WV1, 1, 0`` → ("WV", ["1", "1", "0"]); ``*LRN? 0`` → ("*LRN?", ["0"])."""
    text = unit.strip()
    end = 1 if text.startswith("*") else 0
    while end < len(text) and text[end].isalpha():
        end += 1
    if end < len(text) and text[end] == "?":
        end += 1
    header, rest = text[:end].upper(), text[end:].strip()
    return header, [p.strip() for p in rest.split(",")] if rest else []
