"""Simulated Temptronic ThermoStream ATS-545: the commands `labsyn.drivers.temptronic_ats` sends,
with a first-order thermal response of the DUT in virtual time.

With air flow on the DUT temperature relaxes towards the setpoint with time constant `tau_s`
(30 s by default), with flow off towards ambient with `tau_off_s`; `temperature_at(t)` gives it
at any bench time (the station's simulated bench makes the device follow it). ``TEMP?`` and
``TMPD?`` / ``TMPA?`` read it (air = DUT here) with 0.1 °C resolution. ``TECR?`` bit 0 is set once
the temperature has stayed within ``WNDW`` of the setpoint for ``SOAK`` s, else bit 1.

Refusals: an unknown command, a value that does not parse or a setpoint outside the model range
(-99.9 … 225 °C) or the air limits (``LLIM``/``ULIM``) changes nothing; it is recorded in
`rejected` and sets CME (32) or EXE (16) in ``*ESR?``. Faults in ``EROR?`` (e.g. `Fault.LOW_FLOW`)
are injected with `inject("error", (bits, ""))` or by `fault`; ``CLER`` clears them. A
program message may hold several commands separated by ``;`` or new lines.
"""

from __future__ import annotations

import math
from collections import deque
from typing import TYPE_CHECKING, Any

from .scpi import Reply
from .sim_instrument import ReplyQueue, fault_last_reply

if TYPE_CHECKING:
    from .bench import Bench

ZERO_C = 273.15
SETPOINT_RANGE_C = (-99.9, 225.0)
ESR_EXE, ESR_CME = 16, 32
RESPONSE_S = 5e-3  # ? command processing time per message


class SimTemptronicATS(ReplyQueue):
    """One ThermoStream head blowing on the bench's DUT."""

    def __init__(self, name: str = "Temptronic ATS", model: str = "ATS-545",
                 ambient_k: float = 298.15, tau_s: float = 30.0,
                 tau_off_s: float = 300.0) -> None:
        if not tau_s > 0 or not tau_off_s > 0:
            raise ValueError(f"thermal time constants {tau_s!r}, {tau_off_s!r} must be > 0 s")
        self.name, self.model = name, model
        self.idn = f"TEMPTRONIC,{model},SIM0001,1.0"
        self.tau_s, self.tau_off_s = tau_s, tau_off_s
        self.bench: Bench | None = None
        self.output: deque[Reply] = deque()
        self.rejected: list[str] = []
        self.commands: list[str] = []
        self._last_reply = b"\n"
        self.ambient_k = ambient_k
        self.reset()

    def reset(self) -> None:
        self.remote = False
        self.flow = False
        self.head = 1
        self.dut_mode = 1
        self.set_number = 1
        self.setpoints_c = [25.0, 25.0, 25.0]
        self.window_k, self.soak_s, self.test_time_s = 1.0, 30.0, 1000.0
        self.air_low_c, self.air_high_c = -60.0, 225.0
        self.fault = 0
        self.esr = 0
        self._anchor = (self.now, self.ambient_k)  # (time, temperature) the response starts at
        self._in_window_since: float | None = None

    def attach(self, bench: Bench) -> None:
        self.bench = bench
        self._anchor = (self.now, self._anchor[1])

    def set_ambient(self, kelvin: float) -> None:
        """Ambient (and the present temperature, if idle) — the station's `sim.temperature_k`."""
        self.ambient_k = float(kelvin)
        if not self.flow:
            self._anchor = (self.now, self.ambient_k)

    @property
    def now(self) -> float:
        return self.bench.clock.now() if self.bench is not None else 0.0

    # -- thermal response ----------------------------------------------------------------------
    @property
    def setpoint_k(self) -> float:
        return self.setpoints_c[self.set_number] + ZERO_C if self.set_number < 3 else \
            self.ambient_k

    def target_k(self) -> float:
        return self.setpoint_k if self.flow else self.ambient_k

    def temperature_at(self, t: float) -> float:
        """The DUT temperature at bench time `t` (≥ the last change), K."""
        t0, start = self._anchor
        tau = self.tau_s if self.flow else self.tau_off_s
        return self.target_k() + (start - self.target_k()) * math.exp(-max(t - t0, 0.0) / tau)

    def _retarget(self, change: Any) -> None:
        """Apply `change` (flow, setpoint) with the temperature continuous through it."""
        now = self.now
        present = self.temperature_at(now)
        change()
        self._anchor = (now, present)

    def _status(self) -> int:
        now = self.now
        inside = abs(self.temperature_at(now) - self.setpoint_k) <= self.window_k and self.flow
        if not inside:
            self._in_window_since = None
            return 2
        if self._in_window_since is None:
            self._in_window_since = now
        return 1 if now - self._in_window_since >= self.soak_s else 2

    # -- messages ------------------------------------------------------------------------------
    def receive(self, data: bytes, now: float) -> None:
        text = data.decode("ascii", errors="replace")
        for unit in (u.strip() for line in text.splitlines() for u in line.split(";")):
            if unit:
                self.commands.append(unit)
                self._command(unit, now + RESPONSE_S)

    def _command(self, unit: str, ready: float) -> None:
        header, _, argument = unit.partition(" ")
        header = header.upper()
        queries = {"*IDN?": lambda: self.idn, "*ESR?": self._pop_esr,
                   "TEMP?": self._temp, "TMPD?": self._temp, "TMPA?": self._temp,
                   "SETP?": lambda: f"{self.setpoints_c[self.set_number]:.1f}",
                   "SETN?": lambda: str(self.set_number), "TECR?": lambda: str(self._status()),
                   "EROR?": lambda: str(self.fault), "HEAD?": lambda: str(self.head),
                   "DUTM?": lambda: str(self.dut_mode), "FLOW?": lambda: str(int(self.flow)),
                   "WNDW?": lambda: f"{self.window_k:.1f}", "SOAK?": lambda: f"{self.soak_s:g}",
                   "TTIM?": lambda: f"{self.test_time_s:g}",
                   "LLIM?": lambda: f"{self.air_low_c:.1f}",
                   "ULIM?": lambda: f"{self.air_high_c:.1f}", "WHAT?": lambda: "5"}
        if header in queries:
            self.output.append(Reply((queries[header]() + "\n").encode("ascii"), ready))
            return
        words = {"%RM": lambda: setattr(self, "remote", True),
                 "%GL": lambda: setattr(self, "remote", False),
                 "%LL": lambda: setattr(self, "remote", True),
                 "*CLS": lambda: setattr(self, "esr", 0), "*RST": self.reset,
                 "CLER": lambda: setattr(self, "fault", 0), "RSTO": lambda: None}
        if header in words and not argument:
            words[header]()
            return
        try:
            value = float(argument)
        except ValueError:
            self._reject(unit, ESR_CME)
            return
        setters = {"SETP": self._set_setpoint, "SETN": self._set_number, "FLOW": self._set_flow,
                   "HEAD": lambda v: self._choice("head", v, (0, 1)),
                   "DUTM": lambda v: self._choice("dut_mode", v, (0, 1)),
                   "WNDW": lambda v: self._ranged("window_k", v, 0.1, 9.9),
                   "SOAK": lambda v: self._ranged("soak_s", v, 0.0, 9999.0),
                   "TTIM": lambda v: self._ranged("test_time_s", v, 0.0, 9999.0),
                   "LLIM": lambda v: self._ranged("air_low_c", v, -99.0, 25.0),
                   "ULIM": lambda v: self._ranged("air_high_c", v, 25.0, 225.0)}
        if header not in setters:
            self._reject(unit, ESR_CME)
        elif not setters[header](value):
            self._reject(unit, ESR_EXE)

    def _reject(self, unit: str, bit: int) -> None:
        self.rejected.append(unit)
        self.esr |= bit

    def _pop_esr(self) -> str:
        value, self.esr = self.esr, 0
        return str(value)

    def _temp(self) -> str:
        return f"{self.temperature_at(self.now) - ZERO_C:.1f}"

    def _set_setpoint(self, celsius: float) -> bool:
        low, high = max(SETPOINT_RANGE_C[0], self.air_low_c), min(SETPOINT_RANGE_C[1],
                                                                  self.air_high_c)
        if not low <= celsius <= high:
            return False
        self._retarget(lambda: self.setpoints_c.__setitem__(self.set_number, round(celsius, 1)))
        return True

    def _set_number(self, value: float) -> bool:
        if value not in (0, 1, 2):
            return False
        self._retarget(lambda: setattr(self, "set_number", int(value)))
        return True

    def _set_flow(self, value: float) -> bool:
        if value not in (0, 1):
            return False
        self._retarget(lambda: setattr(self, "flow", bool(value)))
        return True

    def _choice(self, attribute: str, value: float, allowed: tuple[int, ...]) -> bool:
        if value not in allowed:
            return False
        setattr(self, attribute, int(value))
        return True

    def _ranged(self, attribute: str, value: float, low: float, high: float) -> bool:
        if not low <= value <= high:
            return False
        setattr(self, attribute, value)
        return True

    # -- VISA-facing -----------------------------------------------------------------------------
    def status_byte(self) -> int:
        return 0x10 if self.output else 0

    def trigger(self, now: float) -> None:
        """Nothing here takes a trigger."""

    def inject(self, kind: str, error: tuple[int, str]) -> None:
        if kind == "error":
            self.fault |= int(error[0])
        else:
            fault_last_reply(self.output, kind, self._last_reply)

    def output_state(self) -> dict[str, Any]:
        return {"flow": self.flow, "remote": self.remote, "setpoint_k": self.setpoint_k,
                "temperature_k": self.temperature_at(self.now), "fault": self.fault}
