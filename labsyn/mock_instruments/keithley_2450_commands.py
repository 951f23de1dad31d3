"""The SCPI command table of the simulated Keithley 2450 (2450-901-01 §6; 2461RM for blocks)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .keithley_2450_sweep_commands import (
    LIST_MAX_POINTS,
    LIST_VALUES_PER_COMMAND,
    SWEEP_MAX_POINTS,
    _custom_list,
    _register_config_lists,
    _source_list,
    _sweep_linear,
    _sweep_list,
)
from .keithley_2450_trigger_commands import (
    _load_template,
    _register_blocks,
    _register_digital,
    _register_timers,
    _trigger_state,
)
from .scpi import Call, CommandTree, ScpiError

if TYPE_CHECKING:
    from .keithley_2450 import SimKeithley2450

BINARY_ELEMENTS = {"READ", "REL", "SOUR", "EXTR"}
ELEMENTS = {"READING": "READ", "READ": "READ", "SOURCE": "SOUR", "SOUR": "SOUR",
            "RELATIVE": "REL", "REL": "REL", "SECONDS": "SEC", "SEC": "SEC",
            "SOURSTATUS": "SOURSTAT", "SOURSTAT": "SOURSTAT", "STATUS": "STAT", "STAT": "STAT",
            "UNIT": "UNIT", "SOURUNIT": "SOURUNIT", "EXTRA": "EXTR", "EXTR": "EXTR"}
FUNCTIONS = {"VOLTage": "VOLT", "CURRent": "CURR"}
__all__ = ["LIST_MAX_POINTS", "LIST_VALUES_PER_COMMAND", "SWEEP_MAX_POINTS", "register_commands"]


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


