"""The SCPI command table of the simulated Keithley 2450 (2450-901-01 §6; 2461RM for blocks)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from .keithley_trigger import Block, SourceSettings, sweep_blocks, with_level
from .scpi import Call, CommandTree, ScpiError

if TYPE_CHECKING:
    from .keithley_2450 import SimKeithley2450

LIST_VALUES_PER_COMMAND = 100
LIST_MAX_POINTS = 2500
SWEEP_MAX_POINTS = 1_000_000
BINARY_ELEMENTS = {"READ", "REL", "SOUR", "EXTR"}
ELEMENTS = {"READING": "READ", "READ": "READ", "SOURCE": "SOUR", "SOUR": "SOUR",
            "RELATIVE": "REL", "REL": "REL", "SECONDS": "SEC", "SEC": "SEC",
            "SOURSTATUS": "SOURSTAT", "SOURSTAT": "SOURSTAT", "STATUS": "STAT", "STAT": "STAT",
            "UNIT": "UNIT", "SOURUNIT": "SOURUNIT", "EXTRA": "EXTR", "EXTR": "EXTR"}
FUNCTIONS = {"VOLTage": "VOLT", "CURRent": "CURR"}


def _e(value: float) -> str:
    return f"{value:.6E}"


def register_commands(inst: SimKeithley2450, tree: CommandTree) -> None:
    """Declare every command the simulated 2450 understands."""
    from .keithley_2450 import (
        CURRENT_RANGES,
        MAX_CURRENT,
        MAX_VOLTAGE,
        VOLTAGE_RANGES,
        range_for,
    )

    def source_level(function: str) -> None:
        limit, ranges = (MAX_VOLTAGE, VOLTAGE_RANGES) if function == "VOLT" else (
            MAX_CURRENT, CURRENT_RANGES)
        key, range_key = ("voltage", "voltage_range") if function == "VOLT" else (
            "current", "current_range")
        auto_attr = "voltage_range_auto" if function == "VOLT" else "current_range_auto"
        node = "VOLTage" if function == "VOLT" else "CURRent"
        prefix = "[:SOURce#]:" + node

        def set_level(c: Call) -> None:
            c.require(1)
            value = c.number(0, -limit, limit, minimum=-limit, maximum=limit, default=0.0)
            present = getattr(inst.source, range_key)
            if getattr(inst, auto_attr):
                inst.set_source(**{key: value, range_key: range_for(value, ranges)})
            elif abs(value) > present * 1.05 and not (present == 200.0 and abs(value) <= 210):
                raise ScpiError(-222, f"level {value:g} exceeds the {present:g} range")
            else:
                inst.set_source(**{key: value})

        def set_range(c: Call) -> None:
            c.require(1)
            value = c.number(0, 0, ranges[-1] * 1.05, minimum=ranges[0], maximum=ranges[-1])
            setattr(inst, auto_attr, False)
            inst.set_source(**{range_key: range_for(value, ranges)})

        def set_auto(c: Call) -> None:
            c.require(1)
            setattr(inst, auto_attr, c.boolean(0))

        tree.add(prefix + "[:LEVel][:IMMediate][:AMPLitude]", setter=set_level,
                 query=lambda c: _e(getattr(inst.source, key)))
        tree.add(prefix + ":RANGe", setter=set_range,
                 query=lambda c: _e(getattr(inst.source, range_key)))
        tree.add(prefix + ":RANGe:AUTO", setter=set_auto,
                 query=lambda c: "1" if getattr(inst, auto_attr) else "0")
        tree.add(prefix + ":DELay", setter=lambda c: _set_delay(inst, c),
                 query=lambda c: _e(inst.source.delay))
        tree.add(prefix + ":DELay:AUTO", setter=lambda c: setattr(inst, "delay_auto",
                                                                  c.boolean(0)),
                 query=lambda c: "1" if inst.delay_auto else "0")
        tree.add(prefix + ":READ:BACK", setter=lambda c: setattr(inst, "readback", c.boolean(0)),
                 query=lambda c: "1" if inst.readback else "0")
        sweep = "[:SOURce#]:SWEep:" + node
        tree.add(sweep + ":LINear", setter=lambda c: _sweep_linear(inst, c, function))
        tree.add(sweep + ":LINear:STEP",
                 setter=lambda c: _sweep_linear(inst, c, function, by_step=True))
        tree.add(sweep + ":LIST", setter=lambda c: _sweep_list(inst, c, function))
        tree.add("[:SOURce#]:LIST:" + node, setter=lambda c: _source_list(inst, c, function, False),
                 query=lambda c: ",".join(_e(s.level) for s in inst.source_lists.get(
                     _custom_list(function), [])))
        tree.add("[:SOURce#]:LIST:" + node + ":APPend",
                 setter=lambda c: _source_list(inst, c, function, True))
        tree.add("[:SOURce#]:LIST:" + node + ":POINts",
                 query=lambda c: str(len(inst.source_lists.get(_custom_list(function), []))))

    source_level("VOLT")
    source_level("CURR")

    def set_ilimit(c: Call) -> None:
        c.require(1)
        inst.set_source(ilimit=c.number(0, 1e-9, MAX_CURRENT, minimum=1e-9,
                                        maximum=MAX_CURRENT))

    def set_vlimit(c: Call) -> None:
        c.require(1)
        inst.set_source(vlimit=c.number(0, 0.02, MAX_VOLTAGE, minimum=0.02, maximum=MAX_VOLTAGE))

    tree.add("[:SOURce#]:VOLTage:ILIMit[:LEVel]", setter=set_ilimit,
             query=lambda c: _e(inst.source.ilimit))
    tree.add("[:SOURce#]:VOLTage:ILIMit[:LEVel]:TRIPped",
             query=lambda c: "1" if inst.tripped or inst.channel_limited() else "0")
    tree.add("[:SOURce#]:CURRent:VLIMit[:LEVel]", setter=set_vlimit,
             query=lambda c: _e(inst.source.vlimit))
    tree.add("[:SOURce#]:CURRent:VLIMit[:LEVel]:TRIPped",
             query=lambda c: "1" if inst.tripped or inst.channel_limited() else "0")

    def set_function(c: Call) -> None:
        c.require(1)
        inst.set_source(function=c.choice(0, FUNCTIONS))

    tree.add("[:SOURce#]:FUNCtion[:MODE]", setter=set_function,
             query=lambda c: inst.source.function)

    for function, ranges, low in (("CURR", CURRENT_RANGES, 1e-8), ("VOLT", VOLTAGE_RANGES, 0.02)):
        prefix = ":SENSe#:" + ("CURRent" if function == "CURR" else "VOLTage") + "[:DC]"
        tree.add(prefix + ":RANGe[:UPPer]",
                 setter=lambda c, f=function, r=ranges, lo=low: _sense_range(inst, c, f, r, lo),
                 query=lambda c, f=function: _e(inst.sense_range[f]))
        tree.add(prefix + ":RANGe:AUTO",
                 setter=lambda c, f=function: inst.sense_range_auto.__setitem__(f, c.boolean(0)),
                 query=lambda c, f=function: "1" if inst.sense_range_auto[f] else "0")
        tree.add(prefix + ":NPLCycles", setter=lambda c: _set_nplc(inst, c),
                 query=lambda c: _e(inst.nplc))
        tree.add(prefix + ":AZERo[:STATe]",
                 setter=lambda c: setattr(inst, "autozero", c.boolean(0)),
                 query=lambda c: "1" if inst.autozero else "0")
        tree.add(prefix + ":RSENse", setter=lambda c: c.boolean(0), query=lambda c: "0")
    tree.add(":SENSe#:FUNCtion[:ON]", setter=lambda c: _sense_function(inst, c),
             query=lambda c: f'"{inst.sense_function}:DC"')
    tree.add(":SENSe#:COUNt", setter=lambda c: setattr(
        inst, "sense_count", c.integer(0, 1, 300_000)), query=lambda c: str(inst.sense_count))
    tree.add(":SENSe#:AZERo:ONCE", setter=lambda c: None)

    tree.add(":OUTPut#[:STATe]", setter=lambda c: inst.set_output(c.boolean(0)),
             query=lambda c: "1" if inst.output_on else "0")
    for pattern in (":OUTPut#:SMODe", ":OUTPut#:VOLTage:SMODe", ":OUTPut#:CURRent:SMODe"):
        tree.add(pattern, setter=lambda c: _off_mode(inst, c), query=lambda c: inst.off_mode)

    for pattern, function in ((":MEASure", None), (":MEASure:CURRent[:DC]", "CURR"),
                              (":MEASure:VOLTage[:DC]", "VOLT"), (":MEASure:RESistance", "RES"),
                              (":READ", None)):
        tree.add(pattern, query=lambda c, f=function: _spot(inst, c, f))
    tree.add(":FETCh", query=lambda c: _fetch(inst, c))

    tree.add(":INITiate[:IMMediate]", setter=lambda c: inst.initiate())
    tree.add(":ABORt", setter=lambda c: inst.abort())
    tree.add(":TRIGger:STATe", query=lambda c: _trigger_state(inst))
    tree.add(":TRIGger:LOAD", setter=lambda c: _load_template(inst, c))
    _register_blocks(inst, tree)
    _register_timers(inst, tree)
    _register_config_lists(inst, tree)
    _register_trace(inst, tree)
    _register_digital(inst, tree)

    tree.add(":FORMat[:DATA]", setter=lambda c: setattr(inst, "data_format", c.choice(
        0, {"ASCii": "ASC", "REAL": "REAL", "SREal": "SREAL"})), query=lambda c: inst.data_format)
    tree.add(":FORMat:BORDer", setter=lambda c: setattr(inst, "byte_order", c.choice(
        0, {"NORMal": "NORM", "SWAPped": "SWAP"})), query=lambda c: inst.byte_order)
    tree.add(":FORMat:ASCii:PRECision", setter=lambda c: setattr(
        inst, "precision", int(c.number(0, 0, 16, default=0))), query=lambda c: str(inst.precision))
    tree.add(":SYSTem:LFRequency", query=lambda c: f"{inst.line_frequency:g}")


def _custom_list(function: str) -> str:
    return "VoltCustomSweepList" if function == "VOLT" else "CurrCustomSweepList"


def _set_delay(inst: SimKeithley2450, c: Call) -> None:
    c.require(1)
    inst.delay_auto = False
    inst.set_source(delay=c.number(0, 0, 1e4, minimum=0, maximum=1e4))


def _set_nplc(inst: SimKeithley2450, c: Call) -> None:
    c.require(1)
    inst.require_idle("changing NPLC")
    inst.nplc = c.number(0, 0.01, 10, minimum=0.01, maximum=10, default=1)


def _sense_range(inst: SimKeithley2450, c: Call, function: str, ranges: tuple[float, ...],
                 low: float) -> None:
    from .keithley_2450 import range_for

    c.require(1)
    value = c.number(0, 0, ranges[-1] * 1.05, minimum=low, maximum=ranges[-1])
    inst.sense_range[function] = range_for(value, ranges)
    inst.sense_range_auto[function] = False


def _sense_function(inst: SimKeithley2450, c: Call) -> None:
    c.require(1)
    text = c.string(0).upper().replace(":DC", "")
    names = {"CURR": "CURR", "CURRENT": "CURR", "VOLT": "VOLT", "VOLTAGE": "VOLT",
             "RES": "RES", "RESISTANCE": "RES"}
    if text not in names:
        raise ScpiError(-224, f'sense function {c.params[0]} not in "CURR", "VOLT", "RES"')
    inst.sense_function = names[text]


def _off_mode(inst: SimKeithley2450, c: Call) -> None:
    c.require(1)
    inst.require_idle("changing the output-off state")
    inst.off_mode = c.choice(0, {"NORMal": "NORM", "HIMPedance": "HIMP", "ZERO": "ZERO",
                                 "GUARd": "NORM"})
    inst.apply_source()


def _check_buffer_elements(inst: SimKeithley2450, names: list[str]) -> list[str]:
    elements = []
    for raw in names:
        key = raw.strip().upper()
        if key not in ELEMENTS:
            raise ScpiError(-224, f"buffer element {raw!r} not in "
                            "READ, SOUR, REL, SEC, SOURSTAT, STAT, UNIT, SOURUNIT")
        element = ELEMENTS[key]
        if inst.data_format != "ASC" and element not in BINARY_ELEMENTS:
            raise ScpiError(1133, "Parameter 4, Syntax error, expected valid name parameters")
        elements.append(element)
    if len(elements) > 14:
        raise ScpiError(-108, "at most 14 buffer elements")
    return elements or ["READ"]


def _render(inst: SimKeithley2450, readings: list, elements: list[str], t0: float) -> str | bytes:
    values: list = []
    unit = {"CURR": "Amp DC", "VOLT": "Volt DC", "RES": "Ohm"}[inst.sense_function]
    for r in readings:
        for element in elements:
            if element == "READ":
                values.append(r.value)
            elif element == "SOUR":
                values.append(r.source)
            elif element == "REL":
                values.append(r.time - t0)
            elif element == "SEC":
                values.append(r.time)
            elif element in ("SOURSTAT", "STAT"):
                values.append(r.source_status if element == "SOURSTAT" else r.status)
            elif element == "EXTR":
                values.append(0.0)
            else:
                values.append(unit if element == "UNIT" else
                              ("Volt DC" if inst.source.function == "VOLT" else "Amp DC"))
    if inst.data_format != "ASC":
        return inst.format_values([float(v) for v in values])
    return ",".join(v if isinstance(v, str) else str(v) if isinstance(v, int)
                    else (f"{v:.{inst.precision}e}" if inst.precision else f"{v:.6E}")
                    for v in values)


def _spot(inst: SimKeithley2450, c: Call, function: str | None) -> str | bytes:
    buffer = c.string(0) if c.params else None
    inst.buffers.get(buffer)
    elements = _check_buffer_elements(inst, c.params[1:])
    readings = inst.spot_measure(buffer, function)
    return _render(inst, readings[-1:], elements, inst.buffers.get(buffer).first_time())


def _fetch(inst: SimKeithley2450, c: Call) -> str | bytes:
    buffer = inst.buffers.get(c.string(0) if c.params else None)
    if not len(buffer):
        raise ScpiError(-230, "no readings in the buffer")
    elements = _check_buffer_elements(inst, c.params[1:])
    return _render(inst, list(buffer.readings)[-1:], elements, buffer.first_time())


def _trigger_state(inst: SimKeithley2450) -> str:
    if inst.bench is not None:
        inst.bench.sync()
    inst.before_message(inst.now)
    if inst.plan is None:
        state = "IDLE"
    else:
        state = "WAITING" if inst.plan.waits_forever else "RUNNING"
    return f"{state};{state};{max(inst.blocks, default=0)}"


def _load_template(inst: SimKeithley2450, c: Call) -> None:
    inst.require_idle(":TRIG:LOAD")
    if not c.params:
        raise ScpiError(-109, ':TRIG:LOAD needs a template name, e.g. "Empty"')
    name = c.string(0).upper()
    if name == "EMPTY":
        inst.blocks = {}
    elif name == "SIMPLELOOP":
        c.require(2, 4)
        count = c.integer(1, 1, 268_435_455)
        delay = c.number(2, 0, 1e4) if len(c.params) > 2 else 0.0
        buffer = c.string(3) if len(c.params) > 3 else "defbuffer1"
        inst.buffers.get(buffer)
        blocks = [Block("DELAY_CONSTANT", value=delay), Block("MEASURE", buffer=buffer),
                  Block("BRANCH_COUNTER", count=count, target=1)]
        inst.blocks = dict(enumerate(blocks, start=1))
    elif name == "DURATIONLOOP":
        c.require(2, 4)
        duration = c.number(1, 1e-6, 1e5)
        delay = c.number(2, 0, 1e4) if len(c.params) > 2 else 0.0
        buffer = c.string(3) if len(c.params) > 3 else "defbuffer1"
        count = max(1, int(duration / inst.measure_time()))
        blocks = [Block("SOURCE_OUTPUT", on=True), Block("DELAY_CONSTANT", value=delay),
                  Block("MEASURE", buffer=buffer, count=count)]
        inst.blocks = dict(enumerate(blocks, start=1))
    elif name == "CONFIGLIST":
        c.require(3, 5)
        source_list = c.string(2)
        if source_list not in inst.source_lists:
            raise ScpiError(-221, f"configuration list {source_list!r} does not exist")
        delay = c.number(3, 0, 1e4) if len(c.params) > 3 else 0.0
        buffer = c.string(4) if len(c.params) > 4 else "defbuffer1"
        inst.blocks = sweep_blocks(source_list, len(inst.source_lists[source_list]), 1, delay, 1,
                                   False, buffer)
    else:
        raise ScpiError(-224, f"trigger template {c.params[0]} not simulated (Empty, SimpleLoop,"
                        " DurationLoop, ConfigList)")


def _sweep_levels(inst: SimKeithley2450, levels: list[float], function: str,
                  range_type: str) -> list[SourceSettings]:
    from .keithley_2450 import CURRENT_RANGES, VOLTAGE_RANGES, check_coupled_limits, range_for

    ranges = VOLTAGE_RANGES if function == "VOLT" else CURRENT_RANGES
    range_key = "voltage_range" if function == "VOLT" else "current_range"
    base = replace(inst.source, function=function)
    best = range_for(max(abs(v) for v in levels), ranges)
    entries = []
    for level in levels:
        if range_type == "AUTO":
            rng = range_for(level, ranges)
        elif range_type == "BEST":
            rng = best
        else:
            rng = getattr(base, range_key)
            if abs(level) > rng * 1.05 and not (rng == 200.0 and abs(level) <= 210):
                raise ScpiError(-222, f"sweep level {level:g} exceeds the fixed {rng:g} range")
        settings = replace(with_level(base, level), **{range_key: rng})
        check_coupled_limits(settings)
        entries.append(settings)
    return entries


def _sweep_delay(c: Call, index: int) -> float:
    delay = c.number(index, -1, 1e4) if len(c.params) > index else -1.0
    if delay not in (-1.0, 0.0) and not 50e-6 <= delay <= 1e4:
        raise ScpiError(-222, f"sweep delay {delay:g} must be -1 (auto), 0 or 50 µs..10 ks")
    return delay


def _optional(c: Call, index: int, read, default):  # type: ignore[no-untyped-def]
    return read(index) if len(c.params) > index else default


def _sweep_linear(inst: SimKeithley2450, c: Call, function: str, by_step: bool = False) -> None:
    from .keithley_2450 import MAX_CURRENT, MAX_VOLTAGE

    inst.require_idle("a sweep command")
    c.require(3, 9)
    limit = MAX_VOLTAGE if function == "VOLT" else MAX_CURRENT
    start, stop = c.number(0, -limit, limit), c.number(1, -limit, limit)
    if by_step:
        step = c.number(2, 1e-12, 2 * limit)
        points = int(round(abs(stop - start) / step)) + 1
    else:
        points = c.integer(2, 2, SWEEP_MAX_POINTS)
    if not 2 <= points <= SWEEP_MAX_POINTS:
        raise ScpiError(-222, f"sweep has {points} points; allowed 2..{SWEEP_MAX_POINTS}")
    delay = _sweep_delay(c, 3)
    count = _optional(c, 4, lambda i: c.integer(i, 0, 268_435_455), 1)
    fail_abort = _optional(c, 6, c.boolean, True)
    range_type = c.choice(5, {"AUTO": "AUTO", "BEST": "BEST", "FIXed": "FIX"}) if len(
        c.params) > 5 else "BEST"
    dual = c.boolean(7) if len(c.params) > 7 else False
    buffer = c.string(8) if len(c.params) > 8 else "defbuffer1"
    inst.buffers.get(buffer)
    levels = [start + (stop - start) * k / (points - 1) for k in range(points)]
    if dual:
        levels = levels + levels[::-1]
    name = "VoltLinearSweepList" if function == "VOLT" else "CurrLinearSweepList"
    inst.source_lists[name] = _sweep_levels(inst, levels, function, range_type)
    inst.blocks = sweep_blocks(name, len(levels), 1, max(delay, 0.0), count, fail_abort, buffer)


def _sweep_list(inst: SimKeithley2450, c: Call, function: str) -> None:
    inst.require_idle("a sweep command")
    c.require(1, 6)
    name = _custom_list(function)
    entries = inst.source_lists.get(name)
    if not entries:
        raise ScpiError(-221, f"no source list: send :SOUR:LIST:{function} first")
    start = c.integer(0, 1, len(entries))
    delay = _sweep_delay(c, 1)
    count = _optional(c, 2, lambda i: c.integer(i, 0, 268_435_455), 1)
    fail_abort = _optional(c, 3, c.boolean, True)
    buffer = c.string(4) if len(c.params) > 4 else "defbuffer1"
    inst.buffers.get(buffer)
    levels = [s.level for s in entries]
    inst.source_lists[name] = _sweep_levels(inst, levels, function, "BEST")
    inst.blocks = sweep_blocks(name, len(entries) - start + 1, start, max(delay, 0.0), count,
                               fail_abort, buffer)


def _source_list(inst: SimKeithley2450, c: Call, function: str, append: bool) -> None:
    from .keithley_2450 import MAX_CURRENT, MAX_VOLTAGE

    inst.require_idle("changing the source list")
    if not c.params:
        raise ScpiError(-109, "a source list needs at least one value")
    if len(c.params) > LIST_VALUES_PER_COMMAND:
        raise ScpiError(-223, f"{len(c.params)} values sent; at most "
                        f"{LIST_VALUES_PER_COMMAND} per command (use :APPend)")
    limit = MAX_VOLTAGE if function == "VOLT" else MAX_CURRENT
    values = [c.number(i, -limit, limit) for i in range(len(c.params))]
    name = _custom_list(function)
    existing = inst.source_lists.get(name, []) if append else []
    if len(existing) + len(values) > LIST_MAX_POINTS:
        raise ScpiError(-223, f"source list would hold {len(existing) + len(values)} points; "
                        f"at most {LIST_MAX_POINTS}")
    base = replace(inst.source, function=function)
    inst.source_lists[name] = existing + [with_level(base, v) for v in values]


def _register_blocks(inst: SimKeithley2450, tree: CommandTree) -> None:
    def block(kind: str, build):  # type: ignore[no-untyped-def]
        def handler(c: Call) -> None:
            inst.require_idle("editing the trigger model")
            if not c.params:
                raise ScpiError(-109, f"{c.header} needs a block number")
            number = c.integer(0, 1, 63)
            inst.blocks[number] = build(c)
        tree.add(":TRIGger:BLOCk:" + kind, setter=handler)

    def buffer_of(c: Call, index: int) -> str:
        name = c.string(index) if len(c.params) > index else "defbuffer1"
        inst.buffers.get(name)
        return name

    def config_list(c: Call) -> str:
        c.require(2, 3)
        name = c.string(1)
        if name not in inst.source_lists:
            raise ScpiError(-221, f"configuration list {name!r} does not exist")
        return name

    block("BUFFer:CLEar", lambda c: Block("BUFFER_CLEAR", buffer=buffer_of(c, 1)))
    block("CONFig:RECall", lambda c: Block(
        "CONFIG_RECALL", config_list=config_list(c),
        index=c.integer(2, 1, 300_000) if len(c.params) > 2 else 1))
    block("CONFig:NEXT", lambda c: Block("CONFIG_NEXT", config_list=config_list(c)))
    block("CONFig:PREVious", lambda c: Block("CONFIG_PREV", config_list=config_list(c)))
    block("SOURce:STATe", lambda c: (c.require(2), Block("SOURCE_OUTPUT", on=c.boolean(1)))[1])
    block("DELay:CONStant", lambda c: (c.require(2), Block(
        "DELAY_CONSTANT", value=c.number(1, 0, 1e4)))[1])
    block("MEASure", lambda c: Block("MEASURE", buffer=buffer_of(c, 1),
                                      count=c.integer(2, 1, 300_000) if len(c.params) > 2 else 1))
    block("BRANch:COUNter", lambda c: (c.require(3), Block(
        "BRANCH_COUNTER", count=c.integer(1, 1, 268_435_455), target=c.integer(2, 1, 63)))[1])
    block("BRANch:ALWays", lambda c: (c.require(2), Block(
        "BRANCH_ALWAYS", target=c.integer(1, 1, 63)))[1])
    block("WAIT", lambda c: _wait_block(c))
    block("NOTify", lambda c: (c.require(2), Block("NOTIFY", value=c.integer(1, 1, 8)))[1])
    block("NOP", lambda c: Block("NOP"))
    tree.add(":TRIGger:BLOCk:LIST", query=lambda c: ";".join(
        f"{n},{b.kind}" for n, b in sorted(inst.blocks.items())) or "EMPTY")


def _wait_block(c: Call) -> Block:
    c.require(2, 6)
    events = []
    for raw in c.params[1:]:
        word = raw.strip().upper()
        if word in ("ENT", "ENTER", "NEV", "NEVER", "AND", "OR"):
            continue
        if word == "NONE":
            raise ScpiError(-221, "the first WAIT event cannot be NONE")
        events.append(word.replace("TIMER", "TIM").replace("NOTIFY", "NOT"))
    if not events:
        raise ScpiError(-109, "a WAIT block needs an event")
    return Block("WAIT", events=tuple(events))


def _register_timers(inst: SimKeithley2450, tree: CommandTree) -> None:
    def timer(c: Call):  # type: ignore[no-untyped-def]
        number = c.suffixes[0]
        if number not in inst.timers:
            raise ScpiError(-114, f"timer {number} does not exist (1-4)")
        return inst.timers[number]

    tree.add(":TRIGger:TIMer#:DELay", setter=lambda c: setattr(
        timer(c), "delay", c.number(0, 8e-6, 1e5)), query=lambda c: _e(timer(c).delay))
    tree.add(":TRIGger:TIMer#:COUNt", setter=lambda c: setattr(
        timer(c), "count", c.integer(0, 0, 1_048_575)), query=lambda c: str(timer(c).count))
    tree.add(":TRIGger:TIMer#:STARt:STIMulus", setter=lambda c: setattr(
        timer(c), "stimulus", c.params[0].strip().upper().replace("NOTIFY", "NOT")),
        query=lambda c: timer(c).stimulus)
    tree.add(":TRIGger:TIMer#:STARt:GENerate", setter=lambda c: c.boolean(0))
    tree.add(":TRIGger:TIMer#:STATe", setter=lambda c: setattr(
        timer(c), "enabled", c.boolean(0)), query=lambda c: "1" if timer(c).enabled else "0")
    tree.add(":TRIGger:TIMer#:CLEar", setter=lambda c: None)


def _register_config_lists(inst: SimKeithley2450, tree: CommandTree) -> None:
    def named(c: Call) -> str:
        if not c.params:
            raise ScpiError(-109, f"{c.header} needs a list name")
        return c.string(0)

    def create(c: Call) -> None:
        name = named(c)
        if name in inst.source_lists:
            raise ScpiError(-221, f"configuration list {name!r} already exists")
        inst.source_lists[name] = []

    def store(c: Call) -> None:
        entries = _existing(inst, named(c))
        snapshot = replace(inst.source, delay=inst.source.delay)
        if len(c.params) > 1:
            index = c.integer(1, 1, len(entries) + 1)
            entries[index - 1:index] = [snapshot]
        else:
            entries.append(snapshot)

    def recall(c: Call) -> None:
        entries = _existing(inst, named(c))
        index = c.integer(1, 1, max(1, len(entries))) if len(c.params) > 1 else 1
        if not entries:
            raise ScpiError(-221, f"configuration list {c.params[0]} is empty")
        inst.set_source(**{k: getattr(entries[index - 1], k)
                           for k in SourceSettings.__dataclass_fields__})

    tree.add("[:SOURce#]:CONFiguration:LIST:CREate", setter=create)
    tree.add("[:SOURce#]:CONFiguration:LIST:STORe", setter=store)
    tree.add("[:SOURce#]:CONFiguration:LIST:RECall", setter=recall)
    tree.add("[:SOURce#]:CONFiguration:LIST:SIZE",
             query=lambda c: str(len(_existing(inst, named(c)))))
    tree.add("[:SOURce#]:CONFiguration:LIST:DELete",
             setter=lambda c: (_existing(inst, named(c)), inst.source_lists.pop(named(c)))[1]
             and None)
    tree.add(":SENSe#:CONFiguration:LIST:CREate",
             setter=lambda c: inst.sense_lists.setdefault(named(c), []) and None)
    tree.add(":SENSe#:CONFiguration:LIST:STORe",
             setter=lambda c: inst.sense_lists.setdefault(named(c), []).append(inst.nplc))


def _existing(inst: SimKeithley2450, name: str) -> list[SourceSettings]:
    if name not in inst.source_lists:
        raise ScpiError(-221, f"configuration list {name!r} does not exist")
    return inst.source_lists[name]


def _register_trace(inst: SimKeithley2450, tree: CommandTree) -> None:
    def buffer(c: Call, index: int = 0):  # type: ignore[no-untyped-def]
        return inst.buffers.get(c.string(index) if len(c.params) > index else None)

    def data(c: Call) -> str | bytes:
        if inst.bench is not None:
            inst.bench.sync()
        c.require(2, 16)
        start, end = c.integer(0, 1, 10**7), c.integer(1, 1, 10**7)
        buf = buffer(c, 2)
        elements = _check_buffer_elements(inst, c.params[3:])
        return _render(inst, buf.select(start, end), elements, buf.first_time())

    def make(c: Call) -> None:
        c.require(2, 3)
        inst.buffers.make(c.string(0), c.integer(1, 1, 300_000))

    def points(c: Call) -> None:
        c.require(1, 2)
        buffer(c, 1).resize(c.integer(0, 1, 300_000))

    def actual(c: Call) -> str:
        if inst.bench is not None:
            inst.bench.sync()
        return str(len(buffer(c)))

    tree.add(":TRACe:MAKE", setter=make)
    tree.add(":TRACe:CLEar", setter=lambda c: buffer(c).clear())
    tree.add(":TRACe:ACTual", query=actual)
    tree.add(":TRACe:ACTual:STARt", query=lambda c: "1" if len(buffer(c)) else "0")
    tree.add(":TRACe:ACTual:END", query=lambda c: str(len(buffer(c))))
    tree.add(":TRACe:POINts", setter=points, query=lambda c: str(buffer(c).capacity))
    tree.add(":TRACe:DATA", query=data)
    tree.add(":TRACe:DELete", setter=lambda c: inst.buffers.delete(c.string(0)))


def _register_digital(inst: SimKeithley2450, tree: CommandTree) -> None:
    """Digital I/O lines as trigger outputs: ``:DIG:LINE<n>:MODE TRIG, OUT`` and
    ``:TRIG:DIG<n>:OUTP:STIM NOT<k>`` (plus LOGic and PULSewidth, stored only)."""
    from .keithley_2450 import DIGITAL_LINES

    def line(c: Call) -> int:
        number = c.suffixes[0]
        if number not in DIGITAL_LINES:
            raise ScpiError(-114, f"digital line {number} does not exist (1-6)")
        return number

    def set_mode(c: Call) -> None:
        c.require(2, 2)
        kind = c.choice(0, {"DIGital": "DIG", "TRIGger": "TRIG", "SYNChronous": "SYNC"})
        direction = c.choice(1, {"IN": "IN", "OUT": "OUT", "OPENdrain": "OPEN",
                                 "MASTer": "MAST", "ACCeptor": "ACC"})
        inst.digital_mode[line(c)] = (kind, direction)

    def set_stimulus(c: Call) -> None:
        c.require(1, 1)
        word = c.params[0].strip().upper().replace("NOTIFY", "NOT")
        if word != "NONE" and not (word.startswith("NOT") and word[3:].isdigit()
                                   and 1 <= int(word[3:]) <= 8):
            raise ScpiError(-224, f"{c.header}: {c.params[0]!r}; the simulator takes NONE or "
                            "NOT1-NOT8")
        inst.digital_stimulus[line(c)] = word

    tree.add(":DIGital:LINE#:MODE", setter=set_mode,
             query=lambda c: ",".join(inst.digital_mode[line(c)]))
    tree.add(":TRIGger:DIGital#:OUTPut:STIMulus", setter=set_stimulus,
             query=lambda c: inst.digital_stimulus[line(c)])
    tree.add(":TRIGger:DIGital#:OUTPut:LOGic", setter=lambda c: inst.digital_logic.__setitem__(
        line(c), c.choice(0, {"POSitive": "POS", "NEGative": "NEG"})),
        query=lambda c: inst.digital_logic[line(c)])
    tree.add(":TRIGger:DIGital#:OUTPut:PULSewidth", setter=lambda c: inst.digital_pulse_width
             .__setitem__(line(c), c.number(0, 1e-6, 1e5)),
             query=lambda c: _e(inst.digital_pulse_width[line(c)]))
