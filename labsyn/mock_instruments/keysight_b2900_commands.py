"""The SCPI command table of the simulated Keysight B2901A/B2902A (B2900 SCPI Reference Ed 2).

Channel suffixes select the channel (``:SOUR2:VOLT``, ``:SENS2:CURR:PROT``, ``:TRIG2:COUN``;
absent = 1) and channel lists select channels for ``:INIT``, ``:ABOR``, ``:MEAS?``, ``:FETC?``
(``(@1)``, ``(@1,2)``, ``(@1:2)``; absent = channel 1).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .scpi import Call, CommandTree, ScpiError

if TYPE_CHECKING:
    from .keysight_b2900 import SimChannel, SimKeysightB2900

FUNCTIONS = {"VOLTage": "VOLT", "CURRent": "CURR"}
TRIGGER_SOURCES = {"AINT": "AINT", "BUS": "BUS", "TIMer": "TIM", "INT1": "INT1",
                   "INT2": "INT2", "LAN": "LAN", **{f"EXT{n}": f"EXT{n}" for n in range(1, 15)}}
SENSE_ELEMENTS = {"VOLTage": "VOLT", "CURRent": "CURR", "RESistance": "RES", "TIME": "TIME",
                  "STATus": "STAT", "SOURce": "SOUR"}


def _e(value: float) -> str:
    return f"{value:+.6E}"


def _bool(value: bool) -> str:
    return "1" if value else "0"


def channel_list(inst: SimKeysightB2900, c: Call, index: int = 0) -> list[SimChannel]:
    """``(@1)``, ``(@1,2)`` or ``(@1:2)``; no list means channel 1."""
    if len(c.params) <= index or not c.params[index].strip():
        return [inst.sim_channel(1)]
    text = c.params[index].strip().replace(" ", "")
    if not (text.startswith("(@") and text.endswith(")")):
        raise ScpiError(-104, f"{c.header}: {c.params[index]!r} is not a channel list (@n)")
    numbers: list[int] = []
    for part in text[2:-1].split(","):
        low, _, high = part.partition(":")
        try:
            numbers += list(range(int(low), int(high or low) + 1))
        except ValueError:
            raise ScpiError(-104, f"{c.header}: bad channel list {c.params[index]!r}") from None
    return [inst.sim_channel(n) for n in numbers]


def register_commands(inst: SimKeysightB2900, tree: CommandTree) -> None:
    """Declare every command the simulated B2900 understands."""
    _register_source(inst, tree)
    _register_sense(inst, tree)
    _register_output(inst, tree)
    _register_trigger(inst, tree)
    _register_data(inst, tree)


def _register_source(inst: SimKeysightB2900, tree: CommandTree) -> None:
    from .keysight_b2900 import CURRENT_RANGES, MAX_CURRENT, MAX_VOLTAGE, VOLTAGE_RANGES, range_for

    def ch(c: Call) -> SimChannel:
        return inst.sim_channel(c.suffixes[0])

    def function_mode(c: Call) -> None:
        c.require(1)
        inst.change(ch(c), ":SOUR:FUNC:MODE", function=c.choice(0, FUNCTIONS))

    def shape(c: Call) -> None:
        c.require(1)
        inst.change(ch(c), ":SOUR:FUNC:SHAP", shape=c.choice(0, {"PULSe": "PULS", "DC": "DC"}))

    tree.add("[:SOURce#]:FUNCtion:MODE", setter=function_mode, query=lambda c: ch(c).function)
    tree.add("[:SOURce#]:FUNCtion:SHAPe", setter=shape, query=lambda c: ch(c).shape)
    for node, f in FUNCTIONS.items():
        limit = MAX_VOLTAGE if f == "VOLT" else MAX_CURRENT
        ranges = VOLTAGE_RANGES if f == "VOLT" else CURRENT_RANGES
        prefix = f"[:SOURce#]:{node}"

        def set_level(c: Call, f: str = f, limit: float = limit,
                      ranges: tuple[float, ...] = ranges) -> None:
            c.require(1)
            channel = ch(c)
            value = c.number(0, -limit, limit, minimum=-limit, maximum=limit, default=0.0)
            if not channel.range_auto[f] and abs(value) > channel.range[f] * 1.05 + 1e-12:
                raise ScpiError(-222, f"level {value:g} exceeds the {channel.range[f]:g} range")
            new_range = range_for(value, ranges) if channel.range_auto[f] else channel.range[f]
            inst.change(channel, ":SOUR level", level={**channel.level, f: value},
                        range={**channel.range, f: new_range})

        def set_triggered(c: Call, f: str = f, limit: float = limit) -> None:
            c.require(1)
            channel = ch(c)
            inst.require_idle(channel, ":SOUR:TRIG level")
            channel.triggered[f] = c.number(0, -limit, limit, minimum=-limit, maximum=limit)

        def set_range(c: Call, f: str = f, limit: float = limit,
                      ranges: tuple[float, ...] = ranges) -> None:
            c.require(1)
            channel = ch(c)
            value = c.number(0, 0.0, limit, minimum=ranges[0], maximum=ranges[-1])
            rng = range_for(value, ranges)
            if abs(channel.level[f]) > rng * 1.05 + 1e-12:
                raise ScpiError(-221, f"the present level {channel.level[f]:g} exceeds the "
                                f"{rng:g} range")
            inst.change(channel, ":SOUR:RANG", range={**channel.range, f: rng},
                        range_auto={**channel.range_auto, f: False})

        def set_auto(c: Call, f: str = f) -> None:
            c.require(1)
            channel = ch(c)
            channel.range_auto[f] = c.boolean(0)

        def set_mode(c: Call, f: str = f) -> None:
            c.require(1)
            inst.require_idle(ch(c), ":SOUR:MODE")
            ch(c).mode[f] = c.choice(0, {"FIXed": "FIX", "SWEep": "SWE", "LIST": "LIST"})

        def set_list(c: Call, f: str = f, limit: float = limit, append: bool = False) -> None:
            channel = ch(c)
            inst.require_idle(channel, ":SOUR:LIST")
            if not c.params:
                raise ScpiError(-109, "a list needs at least one value")
            values = [c.number(i, -limit, limit) for i in range(len(c.params))]
            existing = channel.lists[f] if append else []
            if len(existing) + len(values) > 2500:
                raise ScpiError(-223, f"list would hold {len(existing) + len(values)} points; "
                                "at most 2500")
            channel.lists[f] = existing + values

        def sweep_end(c: Call, key: str, f: str = f, limit: float = limit) -> None:
            c.require(1)
            inst.require_idle(ch(c), ":SOUR:STAR/STOP")
            getattr(ch(c), key)[f] = c.number(0, -limit, limit)

        tree.add(prefix + "[:LEVel][:IMMediate][:AMPLitude]", setter=set_level,
                 query=lambda c, f=f: _e(ch(c).level[f]))
        tree.add(prefix + "[:LEVel]:TRIGgered[:AMPLitude]", setter=set_triggered,
                 query=lambda c, f=f: _e(ch(c).triggered[f]))
        tree.add(prefix + ":RANGe", setter=set_range, query=lambda c, f=f: _e(ch(c).range[f]))
        tree.add(prefix + ":RANGe:AUTO", setter=set_auto,
                 query=lambda c, f=f: _bool(ch(c).range_auto[f]))
        tree.add(prefix + ":MODE", setter=set_mode, query=lambda c, f=f: ch(c).mode[f])
        tree.add(prefix + ":STARt", setter=lambda c, s=sweep_end: s(c, "start"),
                 query=lambda c, f=f: _e(ch(c).start[f]))
        tree.add(prefix + ":STOP", setter=lambda c, s=sweep_end: s(c, "stop"),
                 query=lambda c, f=f: _e(ch(c).stop[f]))
        tree.add(f"[:SOURce#]:LIST:{node}", setter=set_list,
                 query=lambda c, f=f: ",".join(_e(v) for v in ch(c).lists[f]))
        tree.add(f"[:SOURce#]:LIST:{node}:APPend",
                 setter=lambda c, s=set_list: s(c, append=True))
        tree.add(f"[:SOURce#]:LIST:{node}:POINts",
                 query=lambda c, f=f: str(len(ch(c).lists[f])))

    def points(c: Call) -> None:
        c.require(1)
        inst.require_idle(ch(c), ":SOUR:POIN")
        ch(c).points = c.integer(0, 1, 2500)

    for pattern in ("[:SOURce#]:VOLTage:POINts", "[:SOURce#]:CURRent:POINts",
                    "[:SOURce#]:SWEep:POINts"):
        tree.add(pattern, setter=points, query=lambda c: str(ch(c).points))
    tree.add("[:SOURce#]:SWEep:SPACing", query=lambda c: ch(c).spacing, setter=lambda c: setattr(
        ch(c), "spacing", c.choice(0, {"LINear": "LIN", "LOGarithmic": "LOG"})))
    tree.add("[:SOURce#]:SWEep:DIRection", query=lambda c: ch(c).direction,
             setter=lambda c: setattr(ch(c), "direction", c.choice(0, {"UP": "UP",
                                                                        "DOWN": "DOWN"})))

    def pulse(c: Call, key: str, low: float) -> None:
        c.require(1)
        inst.require_idle(ch(c), ":SOUR:PULS")
        setattr(ch(c), key, c.number(0, low, 1e5, minimum=low, maximum=1e5))

    tree.add("[:SOURce#]:PULSe:WIDTh", setter=lambda c: pulse(c, "pulse_width", 50e-6),
             query=lambda c: _e(ch(c).pulse_width))
    tree.add("[:SOURce#]:PULSe:DELay", setter=lambda c: pulse(c, "pulse_delay", 0.0),
             query=lambda c: _e(ch(c).pulse_delay))
    tree.add("[:SOURce#]:WAIT[:STATe]", query=lambda c: _bool(ch(c).waits["SOUR"]),
             setter=lambda c: ch(c).waits.__setitem__("SOUR", c.boolean(0)))


def _register_sense(inst: SimKeysightB2900, tree: CommandTree) -> None:
    from .keysight_b2900 import CURRENT_RANGES, MAX_CURRENT, MAX_VOLTAGE, VOLTAGE_RANGES, range_for

    def ch(c: Call) -> SimChannel:
        return inst.sim_channel(c.suffixes[0])

    for node, f in FUNCTIONS.items():
        prefix = f":SENSe#:{node}[:DC]"
        low, high = (1e-9, MAX_CURRENT) if f == "CURR" else (0.0, MAX_VOLTAGE)
        ranges = CURRENT_RANGES if f == "CURR" else VOLTAGE_RANGES

        def protection(c: Call, f: str = f, low: float = low, high: float = high) -> None:
            c.require(1)
            channel = ch(c)
            value = c.number(0, low, high, minimum=low, maximum=high)
            inst.change(channel, ":SENS:PROT", protection={**channel.protection, f: value})

        def sense_range(c: Call, f: str = f, ranges: tuple[float, ...] = ranges) -> None:
            c.require(1)
            value = c.number(0, ranges[0], ranges[-1] * 1.01, minimum=ranges[0],
                             maximum=ranges[-1])
            ch(c).sense_range[f], ch(c).sense_auto[f] = range_for(value, ranges), False

        def nplc(c: Call) -> None:
            c.require(1)
            value = c.number(0, 0, 120, minimum=4.8e-4, maximum=100)
            if not 8e-6 <= value / inst.line_frequency <= 2.0:
                raise ScpiError(-222, f"NPLC {value:g} gives an aperture outside 8 us..2 s")
            ch(c).nplc = value

        def aperture(c: Call) -> None:
            c.require(1)
            ch(c).nplc = c.number(0, 8e-6, 2.0, minimum=8e-6, maximum=2.0) * inst.line_frequency

        tree.add(prefix + ":PROTection[:LEVel]", setter=protection,
                 query=lambda c, f=f: _e(ch(c).protection[f]))
        tree.add(prefix + ":PROTection:TRIPped",
                 query=lambda c: _bool(inst.in_compliance(ch(c))))
        tree.add(prefix + ":RANGe[:UPPer]", setter=sense_range,
                 query=lambda c, f=f: _e(ch(c).sense_range[f]))
        tree.add(prefix + ":RANGe:AUTO", query=lambda c, f=f: _bool(ch(c).sense_auto[f]),
                 setter=lambda c, f=f: ch(c).sense_auto.__setitem__(f, c.boolean(0)))
        tree.add(prefix + ":NPLCycles", setter=nplc, query=lambda c: _e(ch(c).nplc))
        tree.add(prefix + ":APERture", setter=aperture,
                 query=lambda c: _e(ch(c).nplc / inst.line_frequency))

    def functions(c: Call, on: bool) -> None:
        names = {c.string(i).upper().split(":")[0] for i in range(len(c.params))}
        if not names or not names <= {"VOLT", "CURR", "RES"}:
            raise ScpiError(-224, f"{c.header}: functions are \"VOLT\", \"CURR\", \"RES\"")
        chosen = ch(c).functions
        ch(c).functions = chosen | names if on else chosen - names

    tree.add(":SENSe#:FUNCtion[:ON]", setter=lambda c: functions(c, True),
             query=lambda c: ",".join(f'"{f}"' for f in sorted(ch(c).functions)))
    tree.add(":SENSe#:FUNCtion:OFF", setter=lambda c: functions(c, False))
    tree.add(":SENSe#:FUNCtion:OFF:ALL", setter=lambda c: setattr(ch(c), "functions", set()))
    tree.add(":SENSe#:WAIT[:STATe]", query=lambda c: _bool(ch(c).waits["SENS"]),
             setter=lambda c: ch(c).waits.__setitem__("SENS", c.boolean(0)))
    tree.add(":SYSTem:LFRequency", query=lambda c: f"{inst.line_frequency:g}",
             setter=lambda c: setattr(inst, "line_frequency",
                                      c.choice(0, {"50": 50.0, "60": 60.0})))  # type: ignore[arg-type]


def _register_output(inst: SimKeysightB2900, tree: CommandTree) -> None:
    def ch(c: Call) -> SimChannel:
        return inst.sim_channel(c.suffixes[0])

    def off_mode(c: Call) -> None:
        c.require(1)
        inst.change(ch(c), ":OUTP:OFF:MODE", off_mode=c.choice(
            0, {"NORMal": "NORM", "HIZ": "HIZ", "ZERO": "ZERO"}))

    tree.add(":OUTPut#[:STATe]", query=lambda c: _bool(ch(c).output.state_at(inst.now).on),
             setter=lambda c: (c.require(1), inst.set_output(ch(c), c.boolean(0)))[1])
    tree.add(":OUTPut#:OFF:MODE", setter=off_mode, query=lambda c: ch(c).off_mode)
    tree.add(":OUTPut#:PROTection[:STATe]", query=lambda c: _bool(ch(c).protect),
             setter=lambda c: setattr(ch(c), "protect", c.boolean(0)))
    tree.add(":OUTPut#:ON:AUTO", query=lambda c: _bool(ch(c).auto_on),
             setter=lambda c: setattr(ch(c), "auto_on", c.boolean(0)))
    tree.add(":STATus:QUEStionable:CONDition", query=lambda c: str(sum(
        4 << (n - 1) for n, x in inst.sim_channels.items() if x.protection_tripped)))


def _register_trigger(inst: SimKeysightB2900, tree: CommandTree) -> None:
    def layers(c: Call, layer: str, action: str):  # type: ignore[no-untyped-def]
        channel = inst.sim_channel(c.suffixes[0])
        models = {"ACQ": [channel.acquire], "TRAN": [channel.transient],
                  "ALL": [channel.acquire, channel.transient]}[action]
        return channel, [getattr(m, layer) for m in models]

    specs = {"SOURce": ("source", lambda c: c.choice(0, TRIGGER_SOURCES), str),
             "TIMer": ("timer", lambda c: c.number(0, 20e-6, 1e5, minimum=20e-6, maximum=1e5),
                       _e),
             "COUNt": ("count", lambda c: c.integer(0, 1, 100_000), str),
             "DELay": ("delay", lambda c: c.number(0, 0.0, 1e5, minimum=0.0, maximum=1e5), _e)}
    for layer, root in (("trig", ":TRIGger#"), ("arm", ":ARM#")):
        for action, node in (("ALL", "[:ALL]"), ("ACQ", ":ACQuire"), ("TRAN", ":TRANsient")):
            for name, (attr, parse, show) in specs.items():
                def setter(c: Call, layer: str = layer, action: str = action, attr: str = attr,
                           parse=parse) -> None:  # type: ignore[no-untyped-def]
                    c.require(1)
                    channel, targets = layers(c, layer, action)
                    inst.require_idle(channel, c.header)
                    value = parse(c)
                    for target in targets:
                        setattr(target, attr, value)

                def query(c: Call, layer: str = layer, action: str = action, attr: str = attr,
                          show=show) -> str:  # type: ignore[no-untyped-def]
                    return show(getattr(layers(c, layer, action)[1][0], attr))

                tree.add(f"{root}{node}:{name}", setter=setter, query=query)

    tree.add(":INITiate[:IMMediate][:ALL]",
             setter=lambda c: [inst.initiate(x) for x in channel_list(inst, c)] and None)
    tree.add(":ABORt[:ALL]", setter=lambda c: [inst.abort(x) for x in channel_list(inst, c)]
             and None)


def _register_data(inst: SimKeysightB2900, tree: CommandTree) -> None:
    def elements(c: Call) -> None:
        if not c.params:
            raise ScpiError(-109, ":FORM:ELEM:SENS needs at least one element")
        inst.elements = [c.choice(i, SENSE_ELEMENTS) for i in range(len(c.params))]

    def data_format(c: Call) -> None:
        c.require(1, 2)
        if c.choice(0, {"ASCii": "ASC", "REAL": "REAL"}) != "ASC":
            raise ScpiError(-221, "only ASCII data transfer is simulated")

    def fetch(c: Call, only: str | None = None) -> str:
        if inst.bench is not None:
            inst.bench.sync()
        replies = []
        for channel in channel_list(inst, c):
            if not channel.readings:
                raise ScpiError(-230, f"channel {channel.number} holds no readings")
            replies.append(inst.format_readings(channel.readings, [only] if only else None))
        return ",".join(replies)

    def measure(c: Call, only: str | None = None) -> str:
        readings = [inst.spot(channel) for channel in channel_list(inst, c)]
        return inst.format_readings(readings, [only] if only else None)

    tree.add(":FORMat:ELEMents:SENSe", setter=elements, query=lambda c: ",".join(inst.elements))
    tree.add(":FORMat[:DATA]", setter=data_format, query=lambda c: "ASC")
    tree.add(":FETCh:ARRay", query=fetch)
    tree.add(":MEASure", query=measure)
    for node, element in FUNCTIONS.items():
        tree.add(f":FETCh:ARRay:{node}", query=lambda c, e=element: fetch(c, e))
        tree.add(f":MEASure:{node}[:DC]", query=lambda c, e=element: measure(c, e))
    tree.add(":SYSTem:ERRor:ALL", query=lambda c: ",".join(
        f'{code},"{message}"' for code, message in _drain(inst)))


def _drain(inst: SimKeysightB2900) -> list[tuple[int, str]]:
    found = [inst.status.pop() for _ in range(len(inst.status.errors))]
    return found or [(0, "No error")]
