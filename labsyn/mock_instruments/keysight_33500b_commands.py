"""The SCPI command table of the simulated 33500B / 33600A (``SOUR<n>:``, ``OUTP<n>``,
``TRIG<n>``; the suffix defaults to 1, a channel the model lacks is -114).

Errors: a value beyond a command's range is -222 and changes nothing; two settings that cannot
hold together are -221: levels (high above low, within ±5 V into 50 Ω / ±10 V into high-Z)
are refused, timing is adjusted as the 33220A family does (a width that leaves no 16 ns gap is
cut to the period, an edge longer than 0.625 of the pulse or the gap is shortened) and reported.
Changing a channel while its triggered burst runs is -221; a bus trigger nothing waits for is
-211; more than 65 536 arb points in one message is -223, an arb name already loaded -221.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from .scpi import Call, CommandTree, ScpiError

if TYPE_CHECKING:
    from .keysight_33500b import Output, SimKeysight33500B

ARB_MIN_POINTS, ARB_MAX_POINTS, ARB_MEMORY = 8, 65_536, 1_048_576
MAX_BURST = 99_999
FUNCTIONS = {"SINusoid": "SIN", "SQUare": "SQU", "TRIangle": "TRI", "RAMP": "RAMP",
             "PULSe": "PULS", "PRBS": "PRBS", "NOISe": "NOIS", "ARBitrary": "ARB", "DC": "DC"}
NO_BURST = ("DC", "NOIS", "PRBS")


def _e(value: float) -> str:
    return "+9.900000000000000E+37" if math.isinf(value) else f"{value:+.15E}"


def register_commands(inst: SimKeysight33500B, tree: CommandTree) -> None:
    """Declare every command the simulated generator understands."""
    from .keysight_33500b import MAX_EDGE, MIN_EDGE, MIN_PERIOD, MIN_WIDTH

    def on(fn: Callable[[Output, Call], object], what: str = "changing a setting",
           idle: bool = True, one: bool = True) -> Callable[[Call], str | None]:
        """A handler on the addressed output; settings wait for an idle channel, then drive
        the bench."""
        def handler(c: Call) -> str | None:
            output = inst.get_output(c.suffixes[0])
            if c.is_query:
                return str(fn(output, c))
            if idle:
                inst.require_idle(output, what)
            c.require(1, 1 if one else 1 << 30)
            fn(output, c)
            inst.refresh(output)
            return None
        return handler

    def add(pattern: str, query: Callable[[Output, Call], object] | None,
            setter: Callable[[Output, Call], object] | None) -> None:
        tree.add(pattern, query=on(query) if query else None,
                 setter=on(setter) if setter else None)

    # -- waveform -------------------------------------------------------------------------------
    add("[:SOURce#]:FUNCtion[:SHAPe]", lambda o, c: o.function, lambda o, c: _function(o, c))
    add("[:SOURce#]:FREQuency[:FIXed]", lambda o, c: _e(o.frequency),
        lambda o, c: _frequency(inst, o, c))
    add("[:SOURce#]:PHASe[:ADJust]", lambda o, c: _e(o.phase),
        lambda o, c: setattr(o, "phase", c.number(0, -360, 360)))
    add("[:SOURce#]:FUNCtion:SQUare:DCYCle", lambda o, c: _e(o.square_duty),
        lambda o, c: setattr(o, "square_duty", c.number(0, 0.01, 99.99)))
    add("[:SOURce#]:FUNCtion:RAMP:SYMMetry", lambda o, c: _e(o.ramp_symmetry),
        lambda o, c: setattr(o, "ramp_symmetry", c.number(0, 0, 100)))

    # -- pulse ----------------------------------------------------------------------------------
    add("[:SOURce#]:FUNCtion:PULSe:WIDTh", lambda o, c: _e(o.width),
        lambda o, c: _width(inst, o, c.number(0, MIN_WIDTH, 1e6, minimum=MIN_WIDTH,
                                              maximum=1e6)))
    add("[:SOURce#]:FUNCtion:PULSe:PERiod", lambda o, c: _e(o.period),
        lambda o, c: _period(inst, o, c.number(0, MIN_PERIOD, 1e6, minimum=MIN_PERIOD,
                                               maximum=1e6)))
    add("[:SOURce#]:FUNCtion:PULSe:DCYCle", lambda o, c: _e(100 * o.width / o.period),
        lambda o, c: _width(inst, o, max(MIN_WIDTH, c.number(0, 0, 100) / 100 * o.period)))
    add("[:SOURce#]:FUNCtion:PULSe:HOLD", lambda o, c: o.hold,
        lambda o, c: setattr(o, "hold", c.choice(0, {"WIDTh": "WIDT", "DCYCle": "DCYC"})))
    for node, edges in ((":TRANsition[:BOTH]", ("lead", "trail")), (":TRANsition:LEADing",
                        ("lead",)), (":TRANsition:TRAiling", ("trail",))):
        add("[:SOURce#]:FUNCtion:PULSe" + node, lambda o, c, e=edges: _e(getattr(o, e[0])),
            lambda o, c, e=edges: _edges(inst, o, e, c.number(0, MIN_EDGE, MAX_EDGE,
                                                               minimum=MIN_EDGE,
                                                               maximum=MAX_EDGE)))

    # -- levels and output ----------------------------------------------------------------------
    volt = "[:SOURce#]:VOLTage[:LEVel][:IMMediate]"
    add(volt + "[:AMPLitude]", lambda o, c: _e(o.high - o.low), lambda o, c: _amplitude(o, c))
    add(volt + ":OFFSet", lambda o, c: _e(o.offset), lambda o, c: _offset(o, c))
    add(volt + ":HIGH", lambda o, c: _e(o.high), lambda o, c: _level(o, c, "high"))
    add(volt + ":LOW", lambda o, c: _e(o.low), lambda o, c: _level(o, c, "low"))
    add("[:SOURce#]:VOLTage:UNIT", lambda o, c: o.unit, lambda o, c: setattr(
        o, "unit", c.choice(0, {"VPP": "VPP", "VRMS": "VRMS", "DBM": "DBM"})))
    add(":OUTPut#:LOAD", lambda o, c: _e(o.load), lambda o, c: _load(o, c))
    add(":OUTPut#:POLarity", lambda o, c: o.polarity, lambda o, c: setattr(
        o, "polarity", c.choice(0, {"NORMal": "NORM", "INVerted": "INV"})))
    tree.add(":OUTPut#[:STATe]", query=on(lambda o, c: "1" if o.on else "0"),
             setter=on(lambda o, c: _output(inst, o, c.boolean(0)), idle=False))
    tree.add(":OUTPut:TRIGger[:STATe]", query=lambda c: "1" if inst.trigger_out else "0",
             setter=lambda c: setattr(inst, "trigger_out", c.boolean(0)))
    tree.add(":OUTPut:TRIGger:SLOPe", query=lambda c: inst.trigger_out_slope,
             setter=lambda c: setattr(inst, "trigger_out_slope", c.choice(
                 0, {"POSitive": "POS", "NEGative": "NEG"})))
    tree.add(":OUTPut:TRIGger:SOURce", query=lambda c: inst.trigger_out_source,
             setter=lambda c: _trigger_out_source(inst, c))

    # -- burst and trigger ----------------------------------------------------------------------
    add("[:SOURce#]:BURSt:STATe", lambda o, c: "1" if o.burst else "0",
        lambda o, c: _burst_state(o, c.boolean(0)))
    add("[:SOURce#]:BURSt:MODE", lambda o, c: o.burst_mode, lambda o, c: setattr(
        o, "burst_mode", c.choice(0, {"TRIGgered": "TRIG", "GATed": "GAT"})))
    add("[:SOURce#]:BURSt:NCYCles", lambda o, c: _e(o.cycles), lambda o, c: setattr(
        o, "cycles", c.integer(0, 1, MAX_BURST) if c.params[0].strip().upper()[:3] not in (
            "MIN", "MAX") else (1 if c.params[0].strip().upper()[:3] == "MIN" else MAX_BURST)))
    add("[:SOURce#]:BURSt:INTernal:PERiod", lambda o, c: _e(o.burst_period),
        lambda o, c: setattr(o, "burst_period", c.number(0, 1e-6, 8000)))
    add(":TRIGger#:SOURce", lambda o, c: o.trigger_source, lambda o, c: setattr(
        o, "trigger_source", c.choice(0, {"IMMediate": "IMM", "EXTernal": "EXT",
                                          "TIMer": "TIM", "BUS": "BUS"})))
    add(":TRIGger#:DELay", lambda o, c: _e(o.trigger_delay),
        lambda o, c: setattr(o, "trigger_delay", c.number(0, 0, 1000)))
    add(":TRIGger#:SLOPe", lambda o, c: o.trigger_slope, lambda o, c: setattr(
        o, "trigger_slope", c.choice(0, {"POSitive": "POS", "NEGative": "NEG"})))
    add(":TRIGger#:TIMer", lambda o, c: _e(o.timer),
        lambda o, c: setattr(o, "timer", c.number(0, 1e-6, 8000)))
    tree.add(":TRIGger#[:IMMediate]", setter=lambda c: inst.fire(inst.get_output(c.suffixes[0])))
    tree.add(":ABORt", setter=lambda c: inst.abort())

    # -- arbitrary waveforms --------------------------------------------------------------------
    tree.add("[:SOURce#]:DATA:ARBitrary",
             setter=on(lambda o, c: _arb_data(o, c, dac=False), "loading a waveform", one=False))
    tree.add("[:SOURce#]:DATA:ARBitrary:DAC",
             setter=on(lambda o, c: _arb_data(o, c, dac=True), "loading a waveform", one=False))
    tree.add("[:SOURce#]:DATA:VOLatile:CLEar", setter=lambda c: _clear(inst, c))
    tree.add("[:SOURce#]:DATA:VOLatile:CATalog", query=on(
        lambda o, c: ",".join(f'"{n}"' for n in o.arbs) or '""'))
    add("[:SOURce#]:FUNCtion:ARBitrary", lambda o, c: f'"{o.arb or ""}"',
        lambda o, c: _select_arb(o, c))
    add("[:SOURce#]:FUNCtion:ARBitrary:SRATe", lambda o, c: _e(o.sample_rate),
        lambda o, c: setattr(o, "sample_rate", c.number(0, 1e-6, inst.max_sample_rate,
                                                        maximum=inst.max_sample_rate)))
    add("[:SOURce#]:FUNCtion:ARBitrary:FILTer", lambda o, c: o.arb_filter, lambda o, c: setattr(
        o, "arb_filter", c.choice(0, {"NORMal": "NORM", "STEP": "STEP", "OFF": "OFF"})))
    add("[:SOURce#]:FUNCtion:ARBitrary:ADVance", lambda o, c: o.arb_advance,
        lambda o, c: setattr(o, "arb_advance", c.choice(0, {"TRIGger": "TRIG",
                                                            "SRATe": "SRAT"})))
    tree.add("[:SOURce#]:FUNCtion:ARBitrary:POINts", query=on(
        lambda o, c: f"{len(o.arbs[o.arb]) if o.arb in o.arbs else 0:+d}"))


def _conflict(inst: SimKeysight33500B, detail: str) -> None:
    """An adjusted setting: reported, the rest of the message still runs."""
    inst.status.push(-221, f"Settings conflict; {detail}")


def _function(o: Output, c: Call) -> None:
    function = c.choice(0, FUNCTIONS)
    if o.burst and function in NO_BURST:
        raise ScpiError(-221, f"{function} cannot burst; BURS:STAT OFF first")
    o.function = function


def _frequency(inst: SimKeysight33500B, o: Output, c: Call) -> None:
    o.frequency = c.number(0, 1e-6, inst.max_frequency, maximum=inst.max_frequency)
    if o.function == "PULS":
        _period(inst, o, 1.0 / o.frequency)


def _clamp_edges(inst: SimKeysight33500B, o: Output) -> None:
    from .keysight_33500b import EDGE_FRACTION

    longest = EDGE_FRACTION * min(o.width, o.period - o.width)
    if max(o.lead, o.trail) > longest * (1 + 1e-9):
        o.lead, o.trail = min(o.lead, longest), min(o.trail, longest)
        _conflict(inst, f"edge time cut to {longest:g} s")


def _width(inst: SimKeysight33500B, o: Output, width: float) -> None:
    from .keysight_33500b import MIN_GAP

    longest = o.period - MIN_GAP
    if width > longest * (1 + 1e-9):
        width = longest
        _conflict(inst, f"pulse width cut to {longest:g} s (period {o.period:g} s)")
    o.width = width
    _clamp_edges(inst, o)


def _period(inst: SimKeysight33500B, o: Output, period: float) -> None:
    from .keysight_33500b import MIN_GAP, MIN_WIDTH

    duty = o.width / o.period
    o.period = period
    o.frequency = 1.0 / period
    width = duty * period if o.hold == "DCYC" else o.width
    if width > period - MIN_GAP:
        width = period - MIN_GAP
        _conflict(inst, f"pulse width cut to {width:g} s by the period")
    o.width = max(width, MIN_WIDTH)
    _clamp_edges(inst, o)


def _edges(inst: SimKeysight33500B, o: Output, edges: tuple[str, ...], value: float) -> None:
    for edge in edges:
        setattr(o, edge, value)
    _clamp_edges(inst, o)


def _check_levels(o: Output, high: float, low: float) -> None:
    limit = o.level_limit()
    for value in (high, low):
        if abs(value) > limit * (1 + 1e-12):
            raise ScpiError(-222, f"level {value:g} V beyond +/-{limit:g} V into "
                            f"{'high-Z' if math.isinf(o.load) else f'{o.load:g} ohm'}")
    if high - low < o.min_amplitude() * (1 - 1e-9):
        raise ScpiError(-221, f"high level {high:g} V must exceed low level {low:g} V by "
                        f"{o.min_amplitude() * 1e3:g} mV")


def _level(o: Output, c: Call, which: str) -> None:
    value = c.number(0)
    high, low = (value, o.low) if which == "high" else (o.high, value)
    _check_levels(o, high, low)
    o.high, o.low = high, low


def _amplitude(o: Output, c: Call) -> None:
    amplitude = c.number(0, o.min_amplitude(), 2 * o.level_limit(),
                         minimum=o.min_amplitude(), maximum=2 * o.level_limit())
    if abs(o.offset) + amplitude / 2 > o.level_limit() * (1 + 1e-12):
        raise ScpiError(-221, f"amplitude {amplitude:g} Vpp with offset {o.offset:g} V")
    o.high, o.low = o.offset + amplitude / 2, o.offset - amplitude / 2


def _offset(o: Output, c: Call) -> None:
    offset = c.number(0, -o.level_limit(), o.level_limit())
    half = (o.high - o.low) / 2
    if abs(offset) + half > o.level_limit() * (1 + 1e-12):
        raise ScpiError(-221, f"offset {offset:g} V with amplitude {2 * half:g} Vpp")
    o.high, o.low = offset + half, offset - half


def _load(o: Output, c: Call) -> None:
    """A new load setting keeps the output voltage: the programmed levels are rescaled."""
    from .keysight_33500b import load_factor

    text = c.params[0].strip().upper()
    if text in ("INF", "INFINITY", "MAX", "MAXIMUM"):
        load = math.inf
    else:
        load = c.number(0, 1.0, 10_000.0, minimum=1.0, default=50.0)
    scale = load_factor(o.load) / load_factor(load)
    o.load, o.high, o.low = load, o.high * scale, o.low * scale


def _output(inst: SimKeysight33500B, o: Output, on: bool) -> None:
    if not on and inst.running(o):
        o.burst_end = None
    o.on = on


def _burst_state(o: Output, on: bool) -> None:
    if on and o.function in NO_BURST:
        raise ScpiError(-221, f"{o.function} cannot burst")
    o.burst = on


def _trigger_out_source(inst: SimKeysight33500B, c: Call) -> None:
    source = c.choice(0, {"CH1": "CH1", "CH2": "CH2"})
    if int(source[-1]) not in inst.outputs:
        raise ScpiError(-224, f"{source}: the {inst.model} has one channel")
    inst.trigger_out_source = source


def _arb_data(o: Output, c: Call, dac: bool) -> None:
    name, values = c.string(0), c.params[1:]
    if not name or not name[0].isalpha() or len(name) > 12 or not all(
            ch.isalnum() or ch == "_" for ch in name):
        raise ScpiError(-224, f"waveform name {name!r}")
    if name in o.arbs:
        raise ScpiError(-221, f"waveform {name!r} is already in volatile memory")
    if len(values) > ARB_MAX_POINTS:
        raise ScpiError(-223, f"{len(values)} points (at most {ARB_MAX_POINTS} per message)")
    if len(values) < ARB_MIN_POINTS:
        raise ScpiError(-222, f"{len(values)} points (at least {ARB_MIN_POINTS})")
    try:
        numbers = np.asarray([float(v) for v in values])
    except ValueError:
        raise ScpiError(-104, "waveform values must be numbers") from None
    full = 32_767 if dac else 1.0
    if not np.all(np.abs(numbers) <= full) or (dac and np.any(numbers != np.rint(numbers))):
        raise ScpiError(-222, f"waveform values beyond +/-{full:g}" + (" or not integers"
                                                                   if dac else ""))
    if sum(len(a) for a in o.arbs.values()) + len(numbers) > ARB_MEMORY:
        raise ScpiError(-225, f"volatile memory holds {ARB_MEMORY} points")
    o.arbs[name] = np.rint(numbers if dac else numbers * 32_767).astype(int)


def _clear(inst: SimKeysight33500B, c: Call) -> None:
    o = inst.get_output(c.suffixes[0])
    inst.require_idle(o, "clearing waveforms")
    o.arbs.clear()
    o.arb = None
    inst.refresh(o)


def _select_arb(o: Output, c: Call) -> None:
    name = c.string(0)
    if name not in o.arbs:
        raise ScpiError(-224, f"no waveform {name!r} in volatile memory")
    o.arb = name
