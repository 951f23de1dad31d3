"""The SCPI command table of the simulated Keithley 2400 (2400S-900-01 §18, tables 18-1…18-11)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .scpi import Call, CommandTree, ScpiError

if TYPE_CHECKING:
    from .keithley_2400 import SimKeithley2400

LIST_VALUES_PER_COMMAND = 100
FUNCTIONS = {"VOLTage": "VOLT", "CURRent": "CURR"}
SENSE_NAMES = {"VOLT": "VOLT", "VOLTAGE": "VOLT", "CURR": "CURR", "CURRENT": "CURR",
               "RES": "RES", "RESISTANCE": "RES"}
ELEMENTS = {"VOLTage": "VOLT", "CURRent": "CURR", "RESistance": "RES", "TIME": "TIME",
            "STATus": "STAT"}


def _e(value: float) -> str:
    return f"{value:+.6E}"


def _flag(value: bool) -> str:
    return "1" if value else "0"


def register_commands(inst: SimKeithley2400, tree: CommandTree) -> None:
    """Declare every command the simulated 2400 understands."""
    for node, function in (("VOLTage", "VOLT"), ("CURRent", "CURR")):
        _register_source(inst, tree, node, function)
    _register_sweep(inst, tree)
    _register_sense(inst, tree)
    _register_trigger(inst, tree)
    _register_trace(inst, tree)

    tree.add("[:SOURce#]:FUNCtion[:MODE]", setter=lambda c: _set_function(inst, c),
             query=lambda c: inst.function)
    tree.add("[:SOURce#]:DELay", setter=lambda c: _set_delay(inst, c),
             query=lambda c: _e(inst.source_delay))
    tree.add("[:SOURce#]:DELay:AUTO", setter=lambda c: _idle_set(inst, c, "delay_auto",
                                                                 _one(c).boolean(0)),
             query=lambda c: _flag(inst.delay_auto))
    tree.add("[:SOURce#]:CLEar[:IMMediate]", setter=lambda c: inst.set_output(False))
    tree.add("[:SOURce#]:CLEar:AUTO", setter=lambda c: _auto_off(inst, c),
             query=lambda c: _flag(inst.auto_off))
    tree.add(":OUTPut#[:STATe]", setter=lambda c: inst.set_output(_boolean(c)),
             query=lambda c: _flag(inst.output_on))
    tree.add(":OUTPut#:SMODe", setter=lambda c: _off_mode(inst, c),
             query=lambda c: inst.off_mode)

    tree.add(":SYSTem:AZERo[:STATe]", setter=lambda c: _autozero(inst, c),
             query=lambda c: _flag(inst.autozero))
    tree.add(":SYSTem:RSENse", setter=lambda c: setattr(inst, "remote_sense", _boolean(c)),
             query=lambda c: _flag(inst.remote_sense))
    tree.add(":SYSTem:LFRequency", setter=lambda c: setattr(
        inst, "line_frequency", float(_one(c).choice(0, {"50": "50", "60": "60"}))),
        query=lambda c: f"{inst.line_frequency:g}")
    tree.add(":SYSTem:TIME:RESet", setter=lambda c: setattr(inst, "time_zero", inst.now))
    tree.add(":SYSTem:TIME", query=lambda c: _e(inst.now - inst.time_zero))
    tree.add(":SYSTem:PRESet", setter=lambda c: inst.reset())
    tree.add(":ROUTe:TERMinals", setter=lambda c: setattr(inst, "front", _one(c).choice(
        0, {"FRONt": "FRON", "REAR": "REAR"}) == "FRON"),
        query=lambda c: "FRON" if inst.front else "REAR")
    tree.add(":FORMat[:DATA]", setter=lambda c: _data_format(c), query=lambda c: "ASC")
    tree.add(":FORMat:ELEMents[:SENSe#]", setter=lambda c: _elements(inst, c),
             query=lambda c: ",".join(inst.elements))
    tree.add(":STATus:OPERation:CONDition", query=lambda c: str(inst.operation_condition()))
    tree.add(":STATus:OPERation[:EVENt]", query=lambda c: "0")
    tree.add(":STATus:MEASurement:CONDition", query=lambda c: str(
        (16384 if inst.channel_limited() else 0) | (512 if inst.trace.full else 0)))
    tree.add(":STATus:PRESet", setter=lambda c: None)
    tree.add(":INITiate[:IMMediate]", setter=lambda c: _initiate(inst))
    tree.add(":ABORt", setter=lambda c: inst.abort())
    tree.add(":READ", query=lambda c: _read(inst))
    tree.add(":FETCh", query=lambda c: _fetch(inst))


def _one(c: Call) -> Call:
    """The call, once it is known to carry its one parameter (SCPI -109 otherwise)."""
    c.require(1)
    return c


def _boolean(c: Call) -> bool:
    return _one(c).boolean(0)


def _idle_set(inst: SimKeithley2400, c: Call, attribute: str, value: object) -> None:
    inst.require_idle(c.header)
    setattr(inst, attribute, value)


def _auto_off(inst: SimKeithley2400, c: Call) -> None:
    """Output-off after each SDM cycle: the output is then on only while a cycle runs."""
    _idle_set(inst, c, "auto_off", _boolean(c))
    inst.apply_source()


def _initiate(inst: SimKeithley2400) -> None:
    inst.initiate()


def _register_source(inst: SimKeithley2400, tree: CommandTree, node: str, function: str) -> None:
    from .keithley_2400 import CURRENT_RANGES, MAX_CURRENT, MAX_VOLTAGE, VOLTAGE_RANGES, range_for

    limit, ranges = (MAX_VOLTAGE, VOLTAGE_RANGES) if function == "VOLT" else (
        MAX_CURRENT, CURRENT_RANGES)
    prefix = "[:SOURce#]:" + node

    def set_level(c: Call) -> None:
        c.require(1)
        inst.require_idle("changing the source level")
        value = c.number(0, -limit, limit, minimum=-limit, maximum=limit, default=0.0)
        rng = range_for(value, ranges) if inst.source_range_auto[function] else (
            inst.source_range[function])
        if abs(value) > rng * 1.05:
            raise ScpiError(-222, f"level {value:g} exceeds the fixed {rng:g} range")
        if function == inst.function:
            inst.check_envelope(function, value, rng)
        inst.level[function], inst.source_range[function] = value, rng
        inst.apply_source()

    def set_range(c: Call) -> None:
        c.require(1)
        inst.require_idle("changing the source range")
        value = abs(c.number(0, -limit, limit, minimum=ranges[0], maximum=ranges[-1]))
        rng = range_for(value, ranges)
        if abs(inst.level[function]) > rng * 1.05:
            raise ScpiError(-221, f"the level {inst.level[function]:g} does not fit the "
                            f"{rng:g} range")
        if function == inst.function:
            inst.check_envelope(function, inst.level[function], rng)
        inst.source_range[function], inst.source_range_auto[function] = rng, False

    def set_auto(c: Call) -> None:
        inst.source_range_auto[function] = _boolean(c)

    def set_mode(c: Call) -> None:
        c.require(1)
        inst.require_idle("changing the source mode")
        inst.mode[function] = c.choice(0, {"FIXed": "FIX", "SWEep": "SWE", "LIST": "LIST"})

    def set_end(which: str, c: Call) -> None:
        c.require(1)
        inst.require_idle("changing the sweep")
        getattr(inst, which)[function] = c.number(0, -limit, limit, minimum=-limit,
                                                  maximum=limit, default=0.0)

    def set_step(c: Call) -> None:
        c.require(1)
        inst.require_idle("changing the sweep")
        step = abs(c.number(0, -2 * limit, 2 * limit))
        span = abs(inst.stop[function] - inst.start[function])
        points = int(round(span / step)) + 1 if step > 0 else 0
        if not 2 <= points <= 2500:
            raise ScpiError(-222, f"step {step:g} gives {points} sweep points; allowed 2..2500")
        inst.sweep_points = points

    def set_list(c: Call, append: bool) -> None:
        inst.require_idle("changing the source list")
        if not c.params:
            raise ScpiError(-109, "a source list needs at least one value")
        if len(c.params) > LIST_VALUES_PER_COMMAND:
            raise ScpiError(-223, f"{len(c.params)} values sent; at most "
                            f"{LIST_VALUES_PER_COMMAND} per command (use :APPend)")
        values = [c.number(i, -limit, limit) for i in range(len(c.params))]
        existing = inst.lists[function] if append else []
        if len(existing) + len(values) > 2500:
            raise ScpiError(-223, f"the list would hold {len(existing) + len(values)} points; "
                            "at most 2500")
        inst.lists[function] = existing + values

    tree.add(prefix + "[:LEVel][:IMMediate][:AMPLitude]", setter=set_level,
             query=lambda c: _e(inst.level[function]))
    tree.add(prefix + ":RANGe", setter=set_range, query=lambda c: _e(inst.source_range[function]))
    tree.add(prefix + ":RANGe:AUTO", setter=set_auto,
             query=lambda c: _flag(inst.source_range_auto[function]))
    tree.add(prefix + ":MODE", setter=set_mode, query=lambda c: inst.mode[function])
    tree.add(prefix + ":STARt", setter=lambda c: set_end("start", c),
             query=lambda c: _e(inst.start[function]))
    tree.add(prefix + ":STOP", setter=lambda c: set_end("stop", c),
             query=lambda c: _e(inst.stop[function]))
    tree.add(prefix + ":STEP", setter=set_step, query=lambda c: _e(
        (inst.stop[function] - inst.start[function]) / max(inst.sweep_points - 1, 1)))
    tree.add("[:SOURce#]:LIST:" + node, setter=lambda c: set_list(c, False),
             query=lambda c: ",".join(_e(v) for v in inst.lists[function]))
    tree.add("[:SOURce#]:LIST:" + node + ":APPend", setter=lambda c: set_list(c, True))
    tree.add("[:SOURce#]:LIST:" + node + ":POINts",
             query=lambda c: str(len(inst.lists[function])))


def _register_sweep(inst: SimKeithley2400, tree: CommandTree) -> None:
    def setting(attribute: str, options: dict[str, str]):  # type: ignore[no-untyped-def]
        def handler(c: Call) -> None:
            c.require(1)
            inst.require_idle("changing the sweep")
            setattr(inst, attribute, c.choice(0, options))
        return handler

    tree.add("[:SOURce#]:SWEep:POINts", setter=lambda c: _idle_set(
        inst, c, "sweep_points", _one(c).integer(0, 2, 2500)),
        query=lambda c: str(inst.sweep_points))
    tree.add("[:SOURce#]:SWEep:SPACing", setter=setting(
        "spacing", {"LINear": "LIN", "LOGarithmic": "LOG"}), query=lambda c: inst.spacing)
    tree.add("[:SOURce#]:SWEep:RANGing", setter=setting(
        "ranging", {"BEST": "BEST", "AUTO": "AUTO", "FIXed": "FIX"}), query=lambda c: inst.ranging)
    tree.add("[:SOURce#]:SWEep:DIRection", setter=setting(
        "direction", {"UP": "UP", "DOWN": "DOWN"}), query=lambda c: inst.direction)
    tree.add("[:SOURce#]:SWEep:CABort", setter=setting(
        "compliance_abort", {"NEVer": "NEV", "EARLy": "EARL", "LATE": "LATE"}),
        query=lambda c: inst.compliance_abort)


def _register_sense(inst: SimKeithley2400, tree: CommandTree) -> None:
    from .keithley_2400 import CURRENT_RANGES, MAX_CURRENT, MAX_VOLTAGE, VOLTAGE_RANGES, range_for

    for node, function, limit, ranges in (("CURRent", "CURR", MAX_CURRENT, CURRENT_RANGES),
                                          ("VOLTage", "VOLT", MAX_VOLTAGE, VOLTAGE_RANGES)):
        prefix = ":SENSe#:" + node + "[:DC]"

        def protection(c: Call, f: str = function, lim: float = limit) -> None:
            c.require(1)
            inst.require_idle("changing the compliance")
            value = abs(c.number(0, -lim, lim, minimum=0.0, maximum=lim, default=lim / 10))
            previous, inst.protection[f] = inst.protection[f], value
            try:
                active = inst.function
                inst.check_envelope(active, inst.level[active], inst.source_range[active])
            except ScpiError:
                inst.protection[f] = previous
                raise
            inst.apply_source()

        def sense_range(c: Call, f: str = function, lim: float = limit,
                        r: tuple[float, ...] = ranges) -> None:
            c.require(1)
            inst.sense_range[f] = range_for(abs(c.number(0, -lim, lim)), r)
            inst.sense_range_auto[f] = False

        tree.add(prefix + ":PROTection[:LEVel]", setter=protection,
                 query=lambda c, f=function: _e(inst.protection[f]))
        tree.add(prefix + ":RANGe[:UPPer]", setter=sense_range,
                 query=lambda c, f=function: _e(inst.sense_range[f]))
        tree.add(prefix + ":RANGe:AUTO", setter=lambda c, f=function: inst.sense_range_auto.
                 __setitem__(f, _boolean(c)),
                 query=lambda c, f=function: _flag(inst.sense_range_auto[f]))
        tree.add(prefix + ":NPLCycles", setter=lambda c: _set_nplc(inst, c),
                 query=lambda c: _e(inst.nplc))
    tree.add(":SENSe#:RESistance:NPLCycles", setter=lambda c: _set_nplc(inst, c),
             query=lambda c: _e(inst.nplc))
    tree.add(":SENSe#:FUNCtion:CONCurrent", setter=lambda c: _concurrent(inst, c),
             query=lambda c: _flag(inst.concurrent))
    tree.add(":SENSe#:FUNCtion[:ON]", setter=lambda c: _sense_on(inst, c),
             query=lambda c: ",".join(f'"{f}:DC"' if f != "RES" else '"RES"'
                                      for f in inst.sense_functions))
    tree.add(":SENSe#:FUNCtion:OFF", setter=lambda c: _sense_off(inst, c))
    tree.add(":SENSe#:FUNCtion:OFF:ALL", setter=lambda c: _idle_set(inst, c, "sense_functions",
                                                                    []))


def _sense_names(c: Call) -> list[str]:
    names = []
    for index in range(len(c.params)):
        text = c.string(index).upper().replace(":DC", "")
        if text not in SENSE_NAMES:
            raise ScpiError(-224, f"sense function {c.params[index]} not 'VOLT', 'CURR', 'RES'")
        names.append(SENSE_NAMES[text])
    if not names:
        raise ScpiError(-109, f"{c.header} needs a function name")
    return names


def _sense_on(inst: SimKeithley2400, c: Call) -> None:
    inst.require_idle("changing the sense functions")
    names = _sense_names(c)
    if not inst.concurrent:
        inst.sense_functions = names[-1:]
        return
    inst.sense_functions = [f for f in ("VOLT", "CURR", "RES")
                            if f in inst.sense_functions or f in names]


def _sense_off(inst: SimKeithley2400, c: Call) -> None:
    inst.require_idle("changing the sense functions")
    names = _sense_names(c)
    inst.sense_functions = [f for f in inst.sense_functions if f not in names]


def _concurrent(inst: SimKeithley2400, c: Call) -> None:
    inst.require_idle("changing concurrent measurement")
    inst.concurrent = _boolean(c)
    if not inst.concurrent:
        inst.sense_functions = inst.sense_functions[-1:]


def _set_function(inst: SimKeithley2400, c: Call) -> None:
    c.require(1)
    inst.require_idle("changing the source function")
    inst.function = c.choice(0, FUNCTIONS)
    inst.apply_source()


def _set_delay(inst: SimKeithley2400, c: Call) -> None:
    c.require(1)
    inst.require_idle("changing the source delay")
    inst.source_delay = c.number(0, 0.0, 9999.999, minimum=0.0, maximum=9999.999,
                                 default=0.0)
    inst.delay_auto = False


def _set_nplc(inst: SimKeithley2400, c: Call) -> None:
    c.require(1)
    inst.require_idle("changing NPLC")
    inst.nplc = c.number(0, 0.01, 10.0, minimum=0.01, maximum=10.0, default=1.0)


def _autozero(inst: SimKeithley2400, c: Call) -> None:
    c.require(1)
    inst.require_idle("changing autozero")
    if c.params[0].strip().upper() == "ONCE":
        inst.autozero = False  # one zero refresh now, then off (its few conversions not timed)
    else:
        inst.autozero = _one(c).boolean(0)


def _off_mode(inst: SimKeithley2400, c: Call) -> None:
    c.require(1)
    inst.require_idle("changing the output-off state")
    inst.off_mode = c.choice(0, {"HIMPedance": "HIMP", "NORMal": "NORM", "ZERO": "ZERO",
                                 "GUARd": "GUAR"})
    inst.apply_source()


def _data_format(c: Call) -> None:
    c.require(1, 2)
    if c.choice(0, {"ASCii": "ASC", "REAL": "REAL", "SREal": "SRE"}) != "ASC":
        raise ScpiError(-224, "binary :FORM:DATA is not simulated; use ASCii")


def _elements(inst: SimKeithley2400, c: Call) -> None:
    if not c.params:
        raise ScpiError(-109, ":FORM:ELEM needs at least one element")
    inst.elements = [c.choice(i, ELEMENTS) for i in range(len(c.params))]


def _register_trigger(inst: SimKeithley2400, tree: CommandTree) -> None:
    def counts(c: Call, layer: str) -> None:
        c.require(1)
        inst.require_idle("changing a count")
        if c.params[0].strip().upper() in ("INF", "INFINITE"):
            raise ScpiError(-224, "an infinite arm count is not simulated")
        value = _one(c).integer(0, 1, 2500)
        other = inst.trigger_count if layer == "arm" else inst.arm_count
        if value * other > 2500:
            raise ScpiError(-221, f"arm count x trigger count = {value * other}; at most 2500")
        setattr(inst, f"{layer}_count", value)

    arm, trigger = ":ARM[:SEQuence#][:LAYer#]", ":TRIGger[:SEQuence#]"
    tree.add(arm + ":SOURce", setter=lambda c: _idle_set(inst, c, "arm_source", c.choice(
        0, {"IMMediate": "IMM", "TIMer": "TIM", "TLINk": "TLIN", "MANual": "MAN", "BUS": "BUS",
            "NSTest": "NST", "PSTest": "PST", "BSTest": "BST"})), query=lambda c: inst.arm_source)
    tree.add(arm + ":COUNt", setter=lambda c: counts(c, "arm"),
             query=lambda c: str(inst.arm_count))
    tree.add(arm + ":TIMer", setter=lambda c: _idle_set(inst, c, "arm_timer", c.number(
        0, 0.001, 99999.99, minimum=0.001, maximum=99999.99, default=0.1)),
        query=lambda c: _e(inst.arm_timer))
    tree.add(trigger + ":SOURce", setter=lambda c: _idle_set(inst, c, "trigger_source", c.choice(
        0, {"IMMediate": "IMM", "TLINk": "TLIN"})), query=lambda c: inst.trigger_source)
    tree.add(trigger + ":COUNt", setter=lambda c: counts(c, "trigger"),
             query=lambda c: str(inst.trigger_count))
    tree.add(trigger + ":DELay", setter=lambda c: _idle_set(inst, c, "trigger_delay", c.number(
        0, 0.0, 999.9999, minimum=0.0, maximum=999.9999, default=0.0)),
        query=lambda c: _e(inst.trigger_delay))
    tree.add(trigger + ":CLEar", setter=lambda c: None)


def _register_trace(inst: SimKeithley2400, tree: CommandTree) -> None:
    from .keithley_2400 import KeithleyError

    def storage_idle() -> None:
        if inst.running and inst.trace.control == "NEXT":
            raise KeithleyError(800, "Illegal with storage active")

    def points(c: Call) -> None:
        c.require(1)
        storage_idle()
        inst.trace.capacity = c.integer(0, 1, 2500)
        inst.trace.readings = inst.trace.readings[:inst.trace.capacity]

    def clear(c: Call) -> None:
        storage_idle()
        inst.trace.readings = []

    def feed(c: Call) -> None:
        c.require(1)
        storage_idle()
        c.choice(0, {"SENSe": "SENS", "SENSe1": "SENS", "CALCulate": "CALC",
                     "CALCulate1": "CALC", "CALCulate2": "CALC2"})

    def control(c: Call) -> None:
        c.require(1)
        inst.trace.control = c.choice(0, {"NEXT": "NEXT", "NEVer": "NEV"})

    def data(c: Call) -> str:
        if inst.bench is not None:
            inst.bench.sync()
        if not inst.trace.readings:
            raise ScpiError(-230, "the buffer holds no readings")
        return inst.format_readings(inst.trace.readings, inst.buffer_times())

    def actual(c: Call) -> str:
        if inst.bench is not None:
            inst.bench.sync()
        return str(len(inst.trace.readings))

    tree.add(":TRACe:DATA", query=data)
    tree.add(":TRACe:CLEar", setter=clear)
    tree.add(":TRACe:POINts", setter=points, query=lambda c: str(inst.trace.capacity))
    tree.add(":TRACe:POINts:ACTual", query=actual)
    tree.add(":TRACe:FEED", setter=feed, query=lambda c: "SENS")
    tree.add(":TRACe:FEED:CONTrol", setter=control, query=lambda c: inst.trace.control)
    tree.add(":TRACe:TSTamp:FORMat", setter=lambda c: setattr(inst.trace, "timestamps", c.choice(
        0, {"ABSolute": "ABS", "DELTa": "DELT"})), query=lambda c: inst.trace.timestamps)


def _read(inst: SimKeithley2400) -> str:
    readings = inst.read()
    return inst.format_readings(readings, [r.time - inst.time_zero for r in readings])


def _fetch(inst: SimKeithley2400) -> str:
    if inst.bench is not None:
        inst.bench.sync()
    inst.before_message(inst.now)
    if not inst.last_readings:
        raise ScpiError(-230, "no readings to fetch")
    readings = inst.last_readings
    return inst.format_readings(readings, [r.time - inst.time_zero for r in readings])
