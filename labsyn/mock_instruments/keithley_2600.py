"""Simulated Keithley 2636B System SourceMeter: TSP (Lua) commands, two SMU channels on the bench.

A program message is read line by line (LF or CR LF) and each line is one chunk, as on the
instrument; ``loadscript NAME`` / ``loadandrunscript [NAME]`` … ``endscript`` collect a script
(named scripts become globals: ``NAME()`` or ``NAME.run()``). IEEE 488.2 common commands
(``*IDN?``, ``*RST``, ``*CLS``, ``*OPC?``, ``*WAI``…) are accepted on their own line. Only
``print()``, ``printnumber()`` and ``printbuffer()`` answer; numbers print with
``format.asciiprecision`` digits (default 6: ``1.00000e-03``), ``printbuffer`` in binary is
``#0`` + IEEE-754 values + LF (2600B RM: "the response message starts with #0 and ends with a
new line"). Errors queue as ``errorqueue.next()`` → code, message, severity, node.

Timing: commands that wait (``delay()``, measurements, ``waitcomplete()``) run on virtual time;
while they do, the instrument is busy, later messages queue behind them and a reply can be read
once it exists. Device clear (viClear) empties the input and output queues and abandons a running
script, but not an SMU trigger model (an overlapped operation: ``smuX.abort()`` ends it). Whether
DCL stops a running script on the real 2636B is unconfirmed in the reference; this is the choice.
"""

from __future__ import annotations

import math
import struct
from collections import deque
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import numpy as np

from .keithley_2600_lua import ExitSignal, number_text, tostring
from .keithley_2600_nodes import (
    TIMER_EVENT_BASE,
    BufferColumn,
    global_environment,
    integer,
)
from .keithley_2600_smu import Smu, timer_settings
from .keithley_2600_tsp import (
    SYNTAX_ERROR,
    Builtin,
    Context,
    Interpreter,
    TspError,
    TspErrorQueue,
    compile_chunk,
    lines_of,
)
from .scpi import Reply
from .sim_instrument import fault_last_reply
from .timeline import SourceChannel

if TYPE_CHECKING:
    from .bench import Bench

RUN_AHEAD_LIMIT_S = 3600.0
STB_EAV, STB_MAV = 0x04, 0x10


class Job:
    """The message lines being executed; `wake` is the virtual time it waits for."""

    __slots__ = ("gen", "wake")

    def __init__(self, gen: Generator[float, None, None]) -> None:
        self.gen = gen
        self.wake: float | None = None


class Script:
    """A loaded script: ``NAME()`` or ``NAME.run()`` runs it; ``NAME.source`` is its text."""

    def __init__(self, inst: SimKeithley2600, name: str, source: str,
                 chunk: list[tuple]) -> None:
        self.inst, self.name, self.source, self.chunk = inst, name, source, chunk

    def tsp_call(self, ctx: Context, *args: Any) -> Generator[float, None, None]:
        yield from self.inst.interpreter.run(self.chunk, ctx)

    def tsp_get(self, key: Any, line: int) -> Any:
        if key == "run":
            return Builtin(f"{self.name}.run", self.tsp_call, "generator")
        if key in ("name", "source"):
            return getattr(self, str(key))
        raise TspError(-286, f"attempt to index unknown attribute `{tostring(key)}' of script "
                       f"{self.name}", line)

    def tsp_set(self, key: Any, value: Any, line: int) -> None:
        raise TspError(-286, f"script {self.name} attribute `{tostring(key)}' is read-only", line)


class SimKeithley2600(TspErrorQueue):
    """One simulated 2636B; `channels_by_number` = {1: smua, 2: smub} outputs for the bench."""

    serial, firmware = "4308079", "3.2.2"

    def __init__(self, name: str = "Keithley 2636B", line_frequency: float = 50.0,
                 seed: int = 0, model: str = "2636B") -> None:
        self.name, self.model, self.line_frequency = name, model, line_frequency
        self.idn = f"Keithley Instruments Inc., Model {model}, {self.serial}, {self.firmware}"
        self.rng = np.random.default_rng(seed)
        self.bench: Bench | None = None
        self.timers = timer_settings()
        self.timer_events = {n: TIMER_EVENT_BASE + n for n in self.timers}
        self.smua, self.smub = Smu(self, "a", 1), Smu(self, "b", 11)
        self.channel = self.smua.channel
        self.channels_by_number = {1: self.smua.channel, 2: self.smub.channel}
        self.errors: deque[tuple[int, str]] = deque()
        self.output: deque[Reply] = deque()
        self.format = {"data": 1, "asciiprecision": 6, "byteorder": 1}
        self.flags = {"prompts": 0, "showerrors": 0}
        self.scripts: dict[str, Script] = {}
        self._input: deque[str] = deque()
        self._job: Job | None = None
        self._loading: tuple[str | None, list[str], bool] | None = None
        self._fault: str | None = None
        self._last_reply = b"\n"
        self.scheduler = SourceChannel(f"{name} scheduler")  # owner of internal events
        self._chunks: dict[str, list[tuple]] = {}
        self.globals = global_environment(self)
        self.interpreter = Interpreter(self.globals, lambda: self.timeline_time)

    def attach(self, bench: Bench) -> None:
        self.bench = bench
        for smu in (self.smua, self.smub):
            bench.timeline.add_channel(smu.channel)
            smu.apply()

    @property
    def timeline(self) -> Any:
        assert self.bench is not None, f"{self.name} is not on a bench"
        return self.bench.timeline

    @property
    def timeline_time(self) -> float:
        return self.bench.timeline.time if self.bench is not None else 0.0

    @property
    def now(self) -> float:
        return self.bench.clock.now() if self.bench is not None else 0.0

    @property
    def busy(self) -> bool:
        return self._job is not None

    # -- messages and jobs -----------------------------------------------------------------------
    def receive(self, data: bytes, now: float) -> None:
        try:
            text = data.decode("ascii")
        except UnicodeDecodeError:
            self.push_error(SYNTAX_ERROR, "TSP Syntax error at line 1: non-ASCII character")
            return
        self._input.extend(lines_of(text))
        if self._job is None:
            self._start(max(now, self.timeline_time))

    def _start(self, t: float) -> None:
        if self._input:
            self._job = Job(self._process(Context(t)))
            self._advance(self._job)

    def _process(self, ctx: Context) -> Generator[float, None, None]:
        while self._input:
            yield from self._line(self._input.popleft(), ctx)
        if ctx.cursor > self.timeline_time:
            yield ctx.cursor

    def _advance(self, job: Job) -> None:
        while self._job is job:
            try:
                t = next(job.gen)
            except StopIteration:
                self._job = None
                self._start(self.timeline_time)
                return
            if t <= self.timeline_time:
                continue
            job.wake = t
            if not math.isinf(t):
                self.timeline.measure_at(t, self.scheduler, lambda m, j=job: self._resume(j))
            return

    def _resume(self, job: Job) -> None:
        if self._job is job:
            self._advance(job)

    def _line(self, line: str, ctx: Context) -> Generator[float, None, None]:
        head = line.strip()
        if self._loading is not None:
            name, lines, run = self._loading
            if head != "endscript":
                lines.append(line)
                return
            self._loading = None
            script = self._load(name, lines)
            if script is not None and run:
                yield from self._guarded(script.chunk, ctx)
            return
        word, _, rest = head.partition(" ")
        if word in ("loadscript", "loadandrunscript"):
            name = rest.strip() or None
            if (word == "loadscript" and name is None) or (name and not name.isidentifier()):
                self.push_error(SYNTAX_ERROR, f"TSP Syntax error at line 1: `{word}' needs a "
                                "script name")
                return
            self._loading = (name, [], word == "loadandrunscript")
            return
        if head.startswith("*"):
            self._common(head, ctx)
            return
        try:
            chunk = self._chunks.get(line) or compile_chunk(line)
        except TspError as err:
            self.push_error(err.code, err.message)
            return
        if len(self._chunks) < 10_000:
            self._chunks[line] = chunk
        yield from self._guarded(chunk, ctx)

    def _guarded(self, chunk: list[tuple], ctx: Context) -> Generator[float, None, None]:
        try:
            yield from self.interpreter.run(chunk, ctx)
        except TspError as err:
            self.push_error(err.code, err.message)
        except ExitSignal:
            return

    def _load(self, name: str | None, lines: list[str]) -> Script | None:
        source = "\n".join(lines)
        try:
            chunk = compile_chunk(source)
        except TspError as err:
            self.push_error(err.code, err.message)
            return None
        script = Script(self, name or "anonymous", source, chunk)
        if name:
            self.scripts[name] = script
            self.globals[name] = script
        return script

    def delete_script(self, name: Any) -> None:
        self.scripts.pop(str(name), None)

    def _common(self, head: str, ctx: Context) -> None:
        word = head.split()[0].upper()
        replies = {"*IDN?": self.idn, "*ESR?": "0", "*ESE?": "0", "*SRE?": "0", "*TST?": "0",
                   "*STB?": str(self.status_byte())}
        if word in replies:
            self.emit(replies[word] + "\n", ctx)
        elif word == "*RST":
            self.reset()
        elif word == "*CLS":
            self.errors.clear()
        elif word in ("*WAI", "*OPC?"):
            self.waitcomplete(ctx)
            if word == "*OPC?":
                self.emit("1\n", ctx)
        elif word not in ("*OPC", "*TRG", "*ESE", "*SRE"):
            self.push_error(SYNTAX_ERROR, "TSP Syntax error at line 1: unexpected symbol "
                            "near `*'")

    # -- functions the globals call --------------------------------------------------------------
    def reset(self) -> None:
        """``reset()`` / ``*RST``: both SMUs, the timers and the data format to defaults."""
        for smu in (self.smua, self.smub):
            smu.reset()
        self.timers.clear()
        self.timers.update(timer_settings())
        self.format.update(data=1, asciiprecision=6, byteorder=1)

    def waitcomplete(self, ctx: Context, group: Any = None) -> None:
        ctx.cursor = max(ctx.cursor, self.smua.busy_until(), self.smub.busy_until())

    def number_text(self, value: float) -> str:
        return number_text(float(value), self.format["asciiprecision"])

    def tsp_print(self, ctx: Context, *values: Any) -> None:
        parts = [self.number_text(v) if isinstance(v, (int, float)) and not isinstance(v, bool)
                 else tostring(v) for v in values]
        self.emit("\t".join(parts) + "\n", ctx)

    def tsp_printnumber(self, ctx: Context, *values: Any) -> None:
        self.emit(self._numbers([float(v) for v in values]), ctx)

    def tsp_printbuffer(self, ctx: Context, start: Any, end: Any, *buffers: Any) -> None:
        first = integer(start, "printbuffer start index", 1, 10**7)
        last = integer(end, "printbuffer end index", 1, 10**7)
        if not buffers:
            raise TspError(-286, "bad argument #3 to `printbuffer' (reading buffer expected)")
        columns = []
        for buffer in buffers:
            if isinstance(buffer, BufferColumn):
                columns.append(buffer.values())
            elif hasattr(buffer, "buffer"):
                columns.append(buffer.buffer.readings)
            else:
                raise TspError(-286, "bad argument to `printbuffer' (reading buffer expected, "
                               f"got {tostring(buffer)})")
        held = min(len(c) for c in columns)
        if first > last or last > held:
            raise TspError(-286, f"bad argument to `printbuffer' (indices {first}..{last}, "
                           f"buffer holds {held} readings)")
        values = [column[i] for i in range(first - 1, last) for column in columns]
        self.emit(self._numbers(values), ctx)

    def _numbers(self, values: list[float]) -> str | bytes:
        data = self.format["data"]
        if data == 1:
            return ", ".join(self.number_text(v) for v in values) + "\n"
        order = "<" if self.format["byteorder"] == 1 else ">"
        code = "f" if data == 2 else "d"
        return b"#0" + struct.pack(f"{order}{len(values)}{code}", *values) + b"\n"

    def emit(self, data: str | bytes, ctx: Context) -> None:
        raw = data.encode("ascii") if isinstance(data, str) else data
        self.output.append(Reply(raw, ctx.cursor))
        fault, self._fault = self._fault, None
        if fault is not None:
            fault_last_reply(self.output, fault, self._last_reply)

    # -- VISA-facing -----------------------------------------------------------------------------
    def next_reply(self) -> Reply | None:
        """The oldest reply; if none yet but work is pending, run the bench until it answers."""
        for _ in range(1_000_000):
            job = self._job
            if self.output or job is None or job.wake is None or math.isinf(job.wake):
                break
            if job.wake - self.now > RUN_AHEAD_LIMIT_S or job.wake <= self.timeline_time:
                break
            assert self.bench is not None
            self.bench.run_until(job.wake)
        return self.output[0] if self.output else None

    def pop_reply(self) -> bytes:
        self._last_reply = self.output.popleft().data
        return self._last_reply

    def device_clear(self) -> None:
        """viClear: drop input, output and the running script; SMU sweeps keep running."""
        if self.bench is not None:
            self.bench.sync()  # the script ran until now
        self.output.clear()
        self._input.clear()
        self._loading = None
        self._job = None
        self._fault = None

    def query_unterminated(self) -> None:
        """A read with nothing to say just times out on the 2636B (no queued error)."""

    def query_interrupted(self) -> None:
        """TSP keeps unread output queued when a new message arrives."""

    def status_byte(self) -> int:
        return (STB_EAV if self.errors else 0) | (STB_MAV if self.output else 0)

    def trigger(self, now: float) -> None:
        """GPIB GET: the command-interface trigger event, which nothing here waits on."""

    def inject(self, kind: str, error: tuple[int, str]) -> None:
        if kind == "error":
            self.push_error(*error)
        elif self.output and self._job is None:
            fault_last_reply(self.output, kind, self._last_reply)
        else:
            self._fault = kind

    def output_state(self) -> dict[str, Any]:
        t = self.now
        states = {smu.name: "ON" if smu.channel.state_at(t).on else "OFF"
                  for smu in (self.smua, self.smub)}
        return {"output": "ON" if "ON" in states.values() else "OFF", **states,
                "sweeping": [smu.name for smu in (self.smua, self.smub) if smu.running],
                "script_running": self.busy}
