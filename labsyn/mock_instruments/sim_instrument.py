"""Base of simulated SCPI instruments: the engine plus the VISA-facing glue and fault hooks."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from .scpi import CommandTree, Reply, ScpiEngine, ScpiError

if TYPE_CHECKING:
    from .bench import Bench

GARBLED = b"7#k@!~%\n"


class ScpiInstrument(ScpiEngine):
    """A simulated instrument speaking SCPI; subclasses declare commands in `build(tree)`."""

    idn = "LABSYN,SIMULATED,0,0"

    def __init__(self, name: str) -> None:
        tree = CommandTree()
        super().__init__(tree)
        self.name = name
        self.bench: Bench | None = None
        self._reply_time = 0.0
        self._last_reply = b"0\n"
        tree.add(":SYSTem:ERRor[:NEXT]", query=self._error_next)
        tree.add(":SYSTem:ERRor:COUNt", query=lambda c: str(len(self.status.errors)))
        tree.add(":SYSTem:CLEar", setter=lambda c: self.status.errors.clear())
        tree.add(":STATus:QUEue[:NEXT]", query=self._error_next)
        self.build(tree)

    def build(self, tree: CommandTree) -> None:
        """Declare the instrument's commands."""

    def attach(self, bench: Bench) -> None:
        self.bench = bench

    @property
    def now(self) -> float:
        assert self.bench is not None, f"{self.name} is not on a bench"
        return self.bench.clock.now()

    # -- replies and timing ---------------------------------------------------------------------
    def receive(self, data: bytes, now: float) -> None:
        self._reply_time = now
        self.before_message(now)
        super().receive(data, now)

    def before_message(self, now: float) -> None:
        """Hook run before each program message (e.g. to finish a trigger model that ended)."""

    def reply_at(self, t: float) -> None:
        """The reply being built exists only at virtual time `t`."""
        self._reply_time = max(self._reply_time, t)

    def reply_ready_at(self, now: float) -> float:
        return max(now, self._reply_time)

    def next_reply(self) -> Reply | None:
        return self.output[0] if self.output else None

    def pop_reply(self) -> bytes:
        self._last_reply = self.output.popleft().data
        return self._last_reply

    def trigger(self, now: float) -> None:
        """A GPIB GET / ``*TRG``; instruments override it."""

    # -- common commands ------------------------------------------------------------------------
    def common_extra(self, header: str, params: list[str]) -> str | None:
        if header == "*IDN?":
            return self.idn
        if header == "*RST":
            self.reset()
            return None
        if header == "*TST?":
            return "0"
        if header == "*WAI":
            self.reply_at(self.busy_until())
            self.bench_wait(self.busy_until())
            return None
        if header == "*OPC?":
            self.reply_at(self.busy_until())
            return "1"
        if header == "*TRG":
            self.trigger(self.now)
            return None
        raise ScpiError(-113, header)

    def reset(self) -> None:
        """``*RST``: instrument defaults."""

    def busy_until(self) -> float:
        """When the operations started so far are complete (virtual time)."""
        return self.now

    def bench_wait(self, t: float) -> None:
        """Make later commands wait until `t` (``*WAI``)."""
        if self.bench is not None:
            self.bench.clock.sleep_until(t)
            self.bench.sync()

    def _error_next(self, call: Any) -> str:
        code, message = self.status.pop()
        return f'{code},"{message}"'

    # -- faults ---------------------------------------------------------------------------------
    def inject(self, kind: str, error: tuple[int, str]) -> None:
        """Apply an injected fault to what the last message produced."""
        if kind == "error":
            self.status.push(*error)
        else:
            fault_last_reply(self.output, kind, self._last_reply)

    def output_state(self) -> dict[str, Any]:
        return {}


class ReplyQueue:
    """The VISA-facing reply queue of a twin that is not an `ScpiInstrument`: replies wait in
    `output` until read; the last one read is kept for the stale-reply fault. A read with
    nothing queued times out, and unread replies stay queued when a new message arrives."""

    output: deque[Reply]
    _last_reply: bytes

    def next_reply(self) -> Reply | None:
        return self.output[0] if self.output else None

    def pop_reply(self) -> bytes:
        self._last_reply = self.output.popleft().data
        return self._last_reply

    def query_unterminated(self) -> None:
        """Nothing to answer: the controller stays silent (a VISA timeout)."""

    def query_interrupted(self) -> None:
        """A new message before the reply was read: the reply stays queued."""

    def device_clear(self) -> None:
        self.output.clear()


def fault_last_reply(output: Any, kind: str, last_reply: bytes) -> None:
    """A reply fault on what the last message produced, for any twin's reply queue: timeout
    drops it, garbled and truncated corrupt it, stale puts the previous reply in front."""
    if not output:
        return
    if kind == "timeout":
        output.pop()
    elif kind == "garbled":
        output[-1] = Reply(GARBLED, output[-1].ready_at)
    elif kind == "truncated":
        data = output[-1].data
        output[-1] = Reply(data[: max(1, len(data) // 2)], output[-1].ready_at)
    elif kind == "stale":
        output.appendleft(Reply(last_reply, output[0].ready_at))
