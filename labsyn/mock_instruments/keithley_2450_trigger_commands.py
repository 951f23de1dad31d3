"""The trigger model of the simulated Keithley 2450 (2461RM for blocks): templates, blocks,
timers and the digital lines as trigger outputs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .keithley_trigger import Block, sweep_blocks
from .scpi import Call, CommandTree, ScpiError

if TYPE_CHECKING:
    from .keithley_2450 import SimKeithley2450


def _e(value: float) -> str:
    return f"{value:.6E}"


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
