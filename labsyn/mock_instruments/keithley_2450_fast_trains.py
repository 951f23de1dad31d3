"""The simulated 2450 playing a long alternating (+SET, -RESET) pulse train in closed form.

The driver compiles an endurance train into the usual timer-paced trigger model: either config
list W with one index per pulse, stepped by CONFIG_NEXT, or its run-length layout (W = (+V, -V),
one pulse recalling each, looped by a branch counter); R = (read, base). Planned block by block and
integrated segment by segment that costs milliseconds per cycle; recognised here at ``:INIT``,
the device's `apply_bipolar_cycles` integrates the whole train at once, the readings land in the
buffer at the train's end (times as the trigger model would stamp them) and the device is
prepaid, so the bench timeline passes over the train's span without integrating it again.
Anything else (other block layouts, linked trigger outputs, a second driven terminal,
compliance that engages, a device that is not in the saturating regime) returns None and the
planner runs as before. An abort during such a train stores no reading of it, and the device
has already seen the whole train.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from .keithley_trigger import Block, Plan, SourceSettings
from .reading_buffer import SOURCE_STATUS_OUTPUT_ON, Reading
from .timeline import GROUND, Piece

if TYPE_CHECKING:
    from .keithley_2450 import SimKeithley2450

MIN_FAST_CYCLES = 16
_WITH_READ = ("BUFFER_CLEAR", "CONFIG_RECALL", "CONFIG_RECALL", "SOURCE_OUTPUT", "NOTIFY",
              "WAIT", "CONFIG_NEXT", "DELAY_CONSTANT", "CONFIG_RECALL", "DELAY_CONSTANT",
              "MEASURE", "CONFIG_RECALL", "BRANCH_COUNTER", "SOURCE_OUTPUT")
_NO_READ = _WITH_READ[:8] + _WITH_READ[11:]
_RLE_PULSE_READ = (*_WITH_READ[5:6], "CONFIG_RECALL", *_WITH_READ[7:12])
_RLE_PULSE = _RLE_PULSE_READ[:3] + _RLE_PULSE_READ[-1:]
_RLE_WITH_READ = _WITH_READ[:5] + _RLE_PULSE_READ * 2 + _WITH_READ[12:]
_RLE_NO_READ = _WITH_READ[:5] + _RLE_PULSE * 2 + _WITH_READ[12:]


def fast_alternating_train(inst: SimKeithley2450) -> Plan | None:
    """Run an alternating endurance train in closed form and return its plan, or None."""
    shape = _train_shape(inst)
    if shape is None:
        return None
    write, read_entry, base_entry, width, read_delay, count, period, buffer = shape
    dut = _lone_dut(inst)
    if dut is None:
        return None
    device = dut.device
    with_read = read_entry is not None
    t_read = read_delay + inst.measure_time() if with_read else 0.0
    now = inst.now
    result = device.apply_bipolar_cycles(
        write[0].voltage, write[1].voltage, width, t_read, period, count // 2,
        read_entry.voltage if with_read else None, write[0].ilimit,
        dut.series_resistance, lead=period)
    if result is None:
        return None
    end = now + result.duration
    device.prepay(result.duration)
    inst.buffers.get(buffer).clear()
    drive = base_entry.drive(True, inst.off_mode)
    after = base_entry.drive(False, inst.off_mode)
    inst.channel.schedule([Piece(now, end, drive)], after, now)
    plan = Plan(now, end, pieces=[Piece(now, end, drive)], final_settings=base_entry,
                final_output=False)
    if with_read:
        assert result.read_set is not None and result.read_reset is not None
        currents = np.empty(count)
        currents[0::2], currents[1::2] = result.read_set, result.read_reset
        start = now + period + width + t_read
        times = start + period * np.arange(count)
        values = _instrument_values(inst, currents)
        level = read_entry.voltage
        readings = [Reading(v, level, t, SOURCE_STATUS_OUTPUT_ON)
                    for v, t in zip(values.tolist(), times.tolist(), strict=True)]
        store = inst.buffers.get(buffer)
        inst.bench.timeline.measure_at(end, inst.channel,
                                       lambda m: [store.add(r) for r in readings])
    return plan


def _train_shape(inst: SimKeithley2450) -> tuple | None:  # type: ignore[type-arg]
    """(W entries [+V, -V], read entry or None, base entry, width, read delay, pulses, period,
    buffer) of an alternating train in one of the driver's trigger-model layouts, else None."""
    blocks = [inst.blocks.get(n) for n in range(1, max(inst.blocks, default=0) + 1)]
    kinds = tuple(b.kind if b is not None else "" for b in blocks)
    if inst.delay_auto or not inst.sense_range_auto["CURR"]:
        return None
    b: list[Block] = blocks  # type: ignore[assignment]
    write_name, read_name = (b[1].config_list, b[2].config_list) if len(b) > 2 else ("", "")
    entries = inst.source_lists.get(write_name) or []
    reads = inst.source_lists.get(read_name) or []
    timer = inst.timers.get(1)
    if timer is None:
        return None
    count = timer.count
    if kinds in (_WITH_READ, _NO_READ):
        pulse = b[5:12 if kinds == _WITH_READ else 9]
        branch = b[len(b) - 2]
        if (pulse[1].config_list != write_name or b[1].index != len(entries)
                or branch.count != count or len(entries) != count):
            return None
        pair = entries[:2]
        if not (all(e == pair[0] for e in entries[0::2])
                and all(e == pair[1] for e in entries[1::2])):
            return None
    elif kinds in (_RLE_WITH_READ, _RLE_NO_READ):
        size = len(_RLE_PULSE_READ if kinds == _RLE_WITH_READ else _RLE_PULSE)
        pulse, second, branch = b[5:5 + size], b[5 + size:5 + 2 * size], b[5 + 2 * size]
        recalls = (pulse[1], second[1])
        if (any(r.config_list != write_name or not 1 <= r.index <= len(entries)
                for r in recalls) or pulse[2:] != second[2:] or branch.target != 6
                or 2 * branch.count != count):
            return None
        pair = [entries[r.index - 1] for r in recalls]
    else:
        return None
    with_read = kinds in (_WITH_READ, _RLE_WITH_READ)
    if (count < 2 * MIN_FAST_CYCLES or count % 2 or len(reads) != 2 or not timer.enabled
            or timer.stimulus != "NOT1" or b[4].value != 1 or pulse[0].events != ("TIM1",)
            or pulse[-1].config_list != read_name or pulse[-1].index != 2
            or any(line_stim != "NONE" for line_stim in inst.digital_stimulus.values())):
        return None
    first, second_entry = pair
    if not (_volt(first) and _volt(second_entry) and first.voltage > 0.0 > second_entry.voltage
            and first.ilimit == second_entry.ilimit):
        return None
    read_entry, base_entry = reads
    if not (_volt(read_entry) and _volt(base_entry) and base_entry.voltage == 0.0):
        return None
    width = pulse[2].value
    read_delay = pulse[4].value if with_read else 0.0
    if with_read and (pulse[3].config_list != read_name or pulse[3].index != 1
                      or pulse[5].count != 1 or pulse[5].abort_on_limit):
        return None
    return ((first, second_entry), read_entry if with_read else None, base_entry, width,
            read_delay, count, timer.delay, b[0].buffer)


def _volt(entry: SourceSettings) -> bool:
    return entry.function == "VOLT" and entry.delay == 0.0


def _lone_dut(inst: SimKeithley2450):  # type: ignore[no-untyped-def]
    """The DUT on this output's TE, when nothing else drives it and BE is grounded."""
    wired = inst.channel.wired
    if inst.bench is None or wired is None or wired[1] != "TE":
        return None
    dut = wired[0]
    if dut.terminals.get("BE") is not GROUND or not hasattr(dut.device, "apply_bipolar_cycles"):
        return None
    if inst.channel.busy_until() > inst.now:
        return None
    return dut


def _instrument_values(inst: SimKeithley2450, currents: np.ndarray) -> np.ndarray:
    """What the 2450 stores for these currents on auto range (its own noise, overflow)."""
    from .keithley_2450 import CURRENT_RANGES, OVERFLOW

    ranges = np.asarray(CURRENT_RANGES)
    index = np.minimum(np.searchsorted(ranges * 1.05, np.abs(currents)), len(ranges) - 1)
    rng = ranges[index]
    values = currents + inst.rng.normal(0.0, 2e-5 * rng)
    over = np.abs(currents) > rng * 1.05
    values[over] = np.where(currents[over] > 0, OVERFLOW, -OVERFLOW)
    return values


_STORE_PAIR = re.compile(r':SOUR:VOLT ([-+0-9.eE]+);:SOUR:CONF:LIST:STOR "([^"]+)"')


def bulk_list_store(inst: SimKeithley2450, data: bytes, now: float) -> bool:
    """Execute a program message made only of ``:SOUR:VOLT v;:SOUR:CONF:LIST:STOR "W"`` pairs
    (how the driver loads a pulse train's levels) in one pass, output off: the same checks and
    errors as command by command, the source applied once at the end. False: not such a
    message (or output on, a reply pending), nothing done."""
    from .keithley_2450 import MAX_VOLTAGE, check_coupled_limits
    from .scpi import ScpiError

    try:
        message = data.decode("ascii").strip("\r\n")
    except UnicodeDecodeError:
        return False
    pairs = message.split(";:SOUR:VOLT ")
    if (inst.output_on or inst.output or inst.voltage_range_auto or len(pairs) < 2
            or not message.startswith(":SOUR:VOLT ")):
        return False
    matches = [_STORE_PAIR.fullmatch(pair if i == 0 else ":SOUR:VOLT " + pair)
               for i, pair in enumerate(pairs)]
    if not all(matches):
        return False
    inst._reply_time = now
    inst.before_message(now)
    source = inst.source
    present = source.voltage_range
    checked: dict[float, SourceSettings] = {}  # a train has few distinct levels
    try:
        inst.require_idle("changing the source")
        for match in matches:
            assert match is not None
            value = float(match.group(1))
            if value in checked:
                source = checked[value]
            else:
                if abs(value) > MAX_VOLTAGE:
                    raise ScpiError(-222, f"data out of range: {value:g}")
                if abs(value) > present * 1.05 and not (present == 200.0
                                                        and abs(value) <= 210):
                    raise ScpiError(-222, f"level {value:g} exceeds the {present:g} range")
                source = replace(source, voltage=value)
                check_coupled_limits(source)
                checked[value] = source
            name = match.group(2)
            if name not in inst.source_lists:
                raise ScpiError(-221, f"configuration list {name!r} does not exist")
            inst.source = source
            inst.source_lists[name].append(source)
    except ScpiError as err:
        inst.status.push(err.code, err.message)
    inst.apply_source()
    return True
