"""Fault injection for the simulated VISA backend, per resource and command."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

FaultKind = Literal["timeout", "garbled", "truncated", "disconnect", "error", "stale"]
FAULT_KINDS: tuple[str, ...] = ("timeout", "garbled", "truncated", "disconnect", "error", "stale")


@dataclass
class Fault:
    """One injected fault.

    `command` matches a program message case-insensitively as a substring ("" matches any);
    `times` is how many matching messages it affects (0 = every one until cleared).
    """

    resource: str
    command: str
    kind: FaultKind
    times: int = 1
    error: tuple[int, str] = (-200, "Execution error; injected fault")
    hits: int = 0


class LinkLost(Exception):
    """The connection to a simulated instrument is down (a disconnect fault)."""


@dataclass
class FaultPlan:
    """Faults waiting to happen, and the resources whose connection is lost."""

    faults: list[Fault] = field(default_factory=list)
    lost: set[str] = field(default_factory=set)

    def inject(self, resource: str, command: str, kind: FaultKind, times: int = 1,
               error: tuple[int, str] | None = None) -> Fault:
        if kind not in FAULT_KINDS:
            raise ValueError(f"fault kind {kind!r} is not one of {', '.join(FAULT_KINDS)}")
        if times < 0:
            raise ValueError(f"fault times {times!r} must be >= 0")
        fault = Fault(_canonical(resource), command.upper(), kind, times)
        if error is not None:
            fault.error = error
        self.faults.append(fault)
        return fault

    def take(self, resource: str, message: str) -> Fault | None:
        """The fault that applies to `message` on `resource`, consuming one use of it."""
        text = message.upper()
        for fault in self.faults:
            if fault.resource in (resource, "*") and fault.command in text:
                fault.hits += 1
                if fault.times and fault.hits >= fault.times:
                    self.faults.remove(fault)
                return fault
        return None

    def reconnect(self, resource: str) -> None:
        """End a lost-connection fault: the resource can be opened and used again."""
        self.lost.discard(_canonical(resource))

    def clear(self) -> None:
        self.faults.clear()
        self.lost.clear()


def _canonical(resource: str) -> str:
    if resource == "*":
        return resource
    from pyvisa import rname

    return str(rname.parse_resource_name(resource))
