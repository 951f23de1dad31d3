"""FLEX commands of the simulated B1500A (Programming Guide forms; see keysight_b1500.py).

Each handler takes the parameter strings and returns a reply (str), a data block (the reply
of a measurement) or None. Limits: SMU pulse width 0.5 ms–2 s, period 5 ms–5 s and ≥ width +
2 ms (width ≤ 100 ms) or + 10 ms; hold 0–655.35 s; sweep delay 0–65.535 s; 1–10001 steps;
base, start and stop of a pulsed sweep of one polarity; compliance within the module envelope.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from .keysight_b1500 import DataBlock, FlexError, Run, Smu

if TYPE_CHECKING:
    from .keysight_b1500 import SimKeysightB1500

MAX_STEPS = 10_001
PULSE_EPSILON_S = 1e-6  # the pulsed measurement ends just before the pulse does


def real(params: list[str], index: int, low: float, high: float, name: str,
         default: float | None = None) -> float:
    if index >= len(params) or params[index] == "":
        if default is None:
            raise FlexError(102, f"{name} missing")
        return default
    try:
        value = float(params[index])
    except ValueError:
        raise FlexError(101, f"{name} {params[index]!r}") from None
    if math.isnan(value) or not low - 1e-12 <= value <= high + 1e-12:
        raise FlexError(120, f"{name} {value:g} outside {low:g} to {high:g}")
    return value


def integer(params: list[str], index: int, low: int, high: int, name: str,
            default: int | None = None) -> int:
    value = real(params, index, low, high, name, None if default is None else float(default))
    if value != int(value):
        raise FlexError(101, f"{name} {value:g} is not an integer")
    return int(value)


def pulse_gap(width: float) -> float:
    return 2e-3 if width <= 0.1 else 10e-3


def register(inst: SimKeysightB1500) -> None:
    """Fill `inst.handlers` with every command the twin understands."""
    h = inst.handlers

    def smu(params: list[str], index: int = 0, enabled: bool = False) -> Smu:
        slot = integer(params, index, 1, 10, "channel")
        found = inst.smus.get(slot)
        if found is None:
            raise FlexError(150, f"slot {slot} holds {inst.models.get(slot, 'no module')}")
        if enabled and not found.enabled:
            raise FlexError(160, f"channel {slot}")
        return found

    def slots(params: list[str]) -> list[Smu]:
        if not params:
            return list(inst.smus.values())
        return [smu(params, i) for i in range(len(params))]

    def check_level(unit: Smu, level: float, compliance: float, what: str) -> None:
        if abs(level) > unit.module.max_voltage * (1 + 1e-9):
            raise FlexError(120, f"{what} {level:g} V beyond {unit.module.max_voltage:g} V")
        if not 0 < abs(compliance) <= unit.module.max_current_at(level) * (1 + 1e-9):
            raise FlexError(120, f"compliance {compliance:g} A at {level:g} V on a "
                            f"{unit.module.kind} (at most {unit.module.max_current_at(level):g})")

    # -- identification, errors, buffer ---------------------------------------------------------
    h["*IDN?"] = lambda p: inst.idn
    h["*OPC?"] = lambda p: "1"
    h["*STB?"] = lambda p: str(inst.status_byte())
    h["*CLS"] = lambda p: inst.status.errors.clear()
    h["*RST"] = lambda p: _reset(inst)
    h["UNT?"] = lambda p: ";".join(f"{inst.models.get(s, '0')},0" for s in range(1, 11))

    def errx(params: list[str]) -> str:
        code, message = inst.pop_error()
        return f'{code:+d},"{message}"' if integer(params, 0, 0, 1, "mode", 0) == 0 \
            else f"{code:+d}"

    def err(params: list[str]) -> str:
        return ",".join(str(inst.pop_error()[0]) for _ in range(4))

    h["ERRX?"], h["ERR?"] = errx, err
    h["BC"] = lambda p: inst.output.clear()
    h["NUB?"] = lambda p: str(sum(len(b.items) for b in inst.output if hasattr(b, "items")))

    # -- outputs --------------------------------------------------------------------------------
    def switch(params: list[str], on: bool) -> None:
        for unit in slots(params):
            unit.enabled = on
            unit.level = 0.0 if not on else unit.level
            unit.mode = unit.mode if on else "V"
            inst.drive(unit)

    def zero(params: list[str], restore: bool) -> None:
        for unit in slots(params):
            if restore and unit.memory is not None:
                unit.level, unit.compliance = unit.memory
                unit.memory = None
            elif not restore:
                unit.memory = (unit.level, unit.compliance)
                unit.level = 0.0
            inst.drive(unit)

    h["CN"] = lambda p: switch(p, True)
    h["CL"] = lambda p: switch(p, False)
    h["DZ"] = lambda p: zero(p, False)
    h["RZ"] = lambda p: zero(p, True)

    def force(params: list[str], mode: str) -> None:
        unit = smu(params, 0, enabled=True)
        ranges = unit.module.voltage_ranges if mode == "V" else (0, *unit.module.current_ranges)
        if integer(params, 1, 0, 30000, "range") not in ranges:
            raise FlexError(120, f"range {params[1]} on a {unit.module.kind}")
        if mode == "V":
            level = real(params, 2, -200, 200, "voltage")
            compliance = real(params, 3, -1, 1, "Icomp", unit.compliance)
            check_level(unit, level, compliance, "voltage")
        else:
            level = real(params, 2, -1, 1, "current")
            compliance = real(params, 3, -200, 200, "Vcomp", 2.0)
            check_level(unit, compliance, level, "Vcomp")
        unit.mode, unit.level, unit.compliance = mode, level, abs(compliance)
        inst.drive(unit)

    h["DV"] = lambda p: force(p, "V")
    h["DI"] = lambda p: force(p, "I")

    def spot(params: list[str], kind: str) -> DataBlock | None:
        unit = smu(params, 0, enabled=True)
        integer(params, 1, -30000, 30000, "range", 0)
        duration = inst.measure_time(unit.slot)
        return inst.queue(_measuring(inst, None, [], [(duration, unit.slot, kind)], duration))

    h["TI"] = lambda p: spot(p, "I")
    h["TV"] = lambda p: spot(p, "V")

    # -- measurement setup ----------------------------------------------------------------------
    def fmt(params: list[str]) -> None:
        if integer(params, 0, 1, 25, "format") != 1 or integer(params, 1, 0, 10, "mode", 0):
            raise FlexError(120, "the twin returns FMT 1,0 only")

    def mm(params: list[str]) -> None:
        mode = integer(params, 0, 1, 28, "mode")
        if mode not in (1, 2, 3, 4):
            raise FlexError(120, f"MM {mode} is not simulated")
        channels = tuple(smu(params, i).slot for i in range(1, len(params)))
        if not channels or (mode in (3, 4) and len(channels) != 1):
            raise FlexError(102, f"MM {mode} channels")
        inst.mm = (mode, channels)

    def ait(params: list[str]) -> None:
        kind = integer(params, 0, 0, 2, "ADC type")
        mode = integer(params, 1, 0, 3, "ADC mode")
        if mode == 3:
            n = real(params, 2, 2e-6, 0.02, "measurement time", 2e-6)
        else:
            n = integer(params, 2, 1, 100 if mode == 2 else 1023, "N", 1)
        if kind in (0, 1):
            inst.adc[kind] = (mode, n)

    def aad(params: list[str]) -> None:
        smu(params).high_resolution = integer(params, 1, 0, 2, "ADC type") == 1

    h["FMT"], h["MM"], h["AIT"], h["AAD"] = fmt, mm, ait, aad
    h["AZ"] = lambda p: setattr(inst, "autozero", bool(integer(p, 0, 0, 1, "autozero")))
    h["CM"] = lambda p: integer(p, 0, 0, 1, "auto calibration")
    h["FL"] = lambda p: (integer(p, 0, 0, 1, "filter"), slots(p[1:]))
    h["SSR"] = lambda p: (smu(p), integer(p, 1, 0, 1, "series resistor"))
    h["TSC"] = lambda p: integer(p, 0, 0, 0, "time stamp (not simulated)")

    def measure_range(params: list[str], current: bool) -> None:
        unit = smu(params)
        index = integer(params, 1, -30000, 30000, "range")
        allowed = (0, *unit.module.current_ranges) if current else unit.module.voltage_ranges
        if abs(index) not in allowed:
            raise FlexError(120, f"range {index} on a {unit.module.kind}")

    h["RI"] = lambda p: measure_range(p, True)
    h["RV"] = lambda p: measure_range(p, False)

    def wt(params: list[str]) -> None:
        inst.wt = (real(params, 0, 0, 655.35, "hold"), real(params, 1, 0, 65.535, "delay"),
                   real(params, 2, 0, 1, "step delay", 0.0))
        for index in (3, 4):
            real(params, index, 0, 65.535, "trigger delay", 0.0)

    def wm(params: list[str]) -> None:
        inst.wm = (integer(params, 0, 1, 2, "abort"), integer(params, 1, 1, 2, "post", 1))

    def wv(params: list[str]) -> None:
        unit = smu(params)
        mode = integer(params, 1, 1, 4, "sweep mode")
        if mode not in (1, 2):
            raise FlexError(120, "double sweeps are not simulated")
        integer(params, 2, 0, 30000, "range")
        start, stop = real(params, 3, -200, 200, "start"), real(params, 4, -200, 200, "stop")
        steps = integer(params, 5, 1, MAX_STEPS, "step")
        compliance = real(params, 6, -1, 1, "Icomp", unit.compliance)
        if mode == 2 and (start * stop <= 0):
            raise FlexError(120, "log sweep needs start and stop of one polarity, not 0")
        check_level(unit, max(start, stop, key=abs), compliance, "sweep")
        inst.wv = (unit.slot, mode, start, stop, steps, abs(compliance))

    def pt(params: list[str]) -> None:
        hold = real(params, 0, 0, 655.35, "hold")
        width = real(params, 1, 0.5e-3, 2.0, "pulse width")
        period = real(params, 2, 0, 5.0, "pulse period", 0.0) or None
        if period is not None and period < max(5e-3, width + pulse_gap(width)) - 1e-9:
            raise FlexError(120, f"pulse period {period:g} s < max(5 ms, width + "
                            f"{pulse_gap(width) * 1e3:g} ms)")
        real(params, 3, 0, 32.7e-3, "trigger delay", 0.0)
        inst.pt = (hold, width, period)

    def one_polarity(*levels: float) -> None:
        if len({np.sign(v) for v in levels if v != 0}) > 1:
            raise FlexError(120, "base, pulse and stop must have the same polarity")

    def pv(params: list[str]) -> None:
        unit = smu(params)
        integer(params, 1, 0, 30000, "range")
        base, pulse = real(params, 2, -200, 200, "base"), real(params, 3, -200, 200, "pulse")
        compliance = real(params, 4, -1, 1, "Icomp", unit.compliance)
        one_polarity(base, pulse)
        check_level(unit, max(base, pulse, key=abs), compliance, "pulse")
        inst.pv = (unit.slot, base, pulse, abs(compliance))

    def pwv(params: list[str]) -> None:
        unit = smu(params)
        mode = integer(params, 1, 1, 4, "sweep mode")
        if mode != 1:
            raise FlexError(120, "the twin simulates linear single pulsed sweeps")
        integer(params, 2, 0, 30000, "range")
        base, start = real(params, 3, -200, 200, "base"), real(params, 4, -200, 200, "start")
        stop = real(params, 5, -200, 200, "stop")
        steps = integer(params, 6, 1, MAX_STEPS, "step")
        compliance = real(params, 7, -1, 1, "Icomp", unit.compliance)
        one_polarity(base, start, stop)
        check_level(unit, max(base, start, stop, key=abs), compliance, "pulse")
        inst.pwv = (unit.slot, mode, base, start, stop, steps, abs(compliance))

    h["WT"], h["WM"], h["WV"], h["PT"], h["PV"], h["PWV"] = wt, wm, wv, pt, pv, pwv
    h["XE"] = lambda p: _execute(inst)
    h["AB"] = lambda p: inst.abort()
    h["PA"] = lambda p: inst.queue(Run(None, [], [], real(p, 0, 0, 655.35, "pause", 0.0)))
    h["*LRN?"] = lambda p: _learn(inst, integer(p, 0, 0, 110, "type"))


def _reset(inst: SimKeysightB1500) -> None:
    inst.device_clear()
    inst.reset_settings()
    for unit in inst.smus.values():
        inst.drive(unit)


def _learn(inst: SimKeysightB1500, kind: int) -> str:
    if kind == 0:
        on = [str(s) for s, unit in inst.smus.items() if unit.enabled]
        return "CN" + ",".join(on) if on else "CL"
    unit = inst.smus.get(kind)
    if unit is None:
        raise FlexError(120, f"*LRN? {kind} is not simulated")
    if not unit.enabled:
        return f"CL{kind}"
    return f"D{unit.mode}{kind},0,{unit.level:+.4E},{unit.compliance:+.4E},0,0"


def _measuring(inst: SimKeysightB1500, slot: int | None, pieces: list,  # type: ignore[type-arg]
               measures: list[tuple[float, int, str]], duration: float, **kwargs: object) -> Run:
    return Run(slot, pieces, measures, duration, block=DataBlock(0.0), **kwargs)  # type: ignore[arg-type]


def _execute(inst: SimKeysightB1500) -> DataBlock | None:
    """``XE``: the measurement ``MM`` names, with the matching source setup."""
    if inst.mm is None:
        raise FlexError(180, "no MM")
    mode, channels = inst.mm
    for slot in channels:
        if not inst.smus[slot].enabled:
            raise FlexError(160, f"channel {slot}")
    if mode == 1:
        t, measures = 0.0, []
        for slot in channels:
            t += inst.measure_time(slot)
            measures.append((t, slot, "I"))
        return inst.queue(_measuring(inst, None, [], measures, t))
    if mode == 2:
        return inst.queue(_staircase(inst, channels))
    return inst.queue(_pulsed(inst, mode, channels[0]))


def _staircase(inst: SimKeysightB1500, channels: tuple[int, ...]) -> Run:
    if inst.wv is None or inst.wv[0] not in channels:
        raise FlexError(180, "MM 2 needs WV on a measured channel")
    slot, mode, start, stop, steps, compliance = inst.wv
    unit = inst.smus[slot]
    unit.compliance = compliance
    levels = (np.linspace(start, stop, steps) if mode == 1 else np.geomspace(start, stop, steps))
    hold, delay, step_delay = inst.wt
    reading = max(inst.measure_time(s) for s in channels)
    period = delay + max(reading, step_delay)
    pieces = [(0.0, hold, unit.state(float(levels[0])))]
    measures = []
    for k, level in enumerate(levels):
        begin = hold + k * period
        pieces.append((begin, begin + period, unit.state(float(level))))
        measures.extend((begin + delay + reading, s, "I") for s in channels)
    abort, post = inst.wm
    unit.level = float(levels[0] if post == 1 else levels[-1])
    return _measuring(inst, slot, pieces, measures, hold + steps * period, after=unit.state(),
                      abort_state=unit.state(float(levels[0])), stop_on_limit=abort == 2)


def _pulsed(inst: SimKeysightB1500, mode: int, slot: int) -> Run:
    unit = inst.smus[slot]
    if inst.pt is None:
        raise FlexError(180, "pulsed measurement without PT")
    hold, width, period = inst.pt
    if mode == 3:
        if inst.pv is None or inst.pv[0] != slot:
            raise FlexError(180, "MM 3 needs PV on its channel")
        _, base, pulse, compliance = inst.pv
        levels = np.array([pulse])
    else:
        if inst.pwv is None or inst.pwv[0] != slot:
            raise FlexError(180, "MM 4 needs PWV on its channel")
        _, _, base, start, stop, steps, compliance = inst.pwv
        levels = np.linspace(start, stop, steps)
    period = period or max(5e-3, width + pulse_gap(width))
    unit.compliance, unit.level = compliance, base
    pieces = [(0.0, hold, unit.state(base))]
    measures = []
    for k, level in enumerate(levels):
        begin = hold + k * period
        pieces.append((begin, begin + width, unit.state(float(level))))
        if k < len(levels) - 1:
            pieces.append((begin + width, begin + period, unit.state(base)))
        measures.append((begin + width - PULSE_EPSILON_S, slot, "I"))
    duration = hold + (len(levels) - 1) * period + width
    return _measuring(inst, slot, pieces, measures, duration, after=unit.state(),
                      abort_state=unit.state(base))
