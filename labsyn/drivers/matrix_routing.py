"""Routing a switch matrix: checking crosspoints, and the open-then-close-then-read-back step
every matrix driver shares (the drivers give their own command forms)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from labsyn.errors import InstrumentError, LimitError

from .capabilities import Crosspoint


def check_crosspoints(instrument: str, crosspoints: Iterable[Crosspoint], inputs: int,
                      outputs: int) -> set[Crosspoint]:
    """The crosspoints as a set, each within the matrix; refuses two inputs on one output."""
    wanted: set[Crosspoint] = set()
    for point in crosspoints:
        if not (isinstance(point, tuple) and len(point) == 2):
            raise LimitError(f"{instrument} crosspoint", point, "an (input, output) pair")
        for what, value, high in (("input", point[0], inputs), ("output", point[1], outputs)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise LimitError(f"{instrument} crosspoint {what}", value, f"an integer 1 … {high}")
            if not 1 <= value <= high:
                raise LimitError(f"{instrument} crosspoint {what}", value, f"1 … {high}")
        wanted.add((point[0], point[1]))
    by_output: dict[int, int] = {}
    for inp, out in sorted(wanted):
        if out in by_output:
            raise LimitError(f"{instrument} output {out} tied to inputs", f"{by_output[out]} and "
                             f"{inp}", "one input per output (two sources are never tied to "
                             "one pin)")
        by_output[out] = inp
    return wanted


def route_crosspoints(matrix: Any, crosspoints: Iterable[Crosspoint], inputs: int, outputs: int,
                      opening: Callable[[set[Crosspoint]], str],
                      closing: Callable[[set[Crosspoint]], str], separator: str
                      ) -> set[Crosspoint]:
    """Check, then in four transactions: read what is closed, open what must open and close what
    must close in one message (opening first: two inputs never share an output even briefly),
    read back, check errors. Refused while safed or while the station's interlock says no."""
    wanted = check_crosspoints(matrix.name, crosspoints, inputs, outputs)
    matrix.require_armed("route")
    matrix.check_interlock("route")
    with matrix.lock:
        present = matrix.closed()
        units = ([opening(present - wanted)] if present - wanted else []) + (
            [closing(wanted - present)] if wanted - present else [])
        command = separator.join(units)
        if units:
            matrix.write(command)
        now = matrix.closed()
        matrix.check_errors(command or "route")
    if now != wanted and not matrix.dry_run:
        raise InstrumentError(matrix.name, command or "route", f"read back closed "
                              f"{matrix.channel_list(now) or 'nothing'}, wanted "
                              f"{matrix.channel_list(wanted) or 'nothing'}")
    return wanted if matrix.dry_run else now
