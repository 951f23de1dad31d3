"""The simulated bench: instruments at VISA addresses, DUTs, wiring, one clock, one timeline.

>>> bench = Bench()
>>> smu = bench.add_instrument("GPIB0::24::INSTR", SimKeithley2450())
>>> dut = bench.add_dut("dut", RRAMDevice(), series_resistance=50.0)
>>> bench.wire(dut, "TE", smu.channel)
>>> bench.wire(dut, "BE", "ground")
>>> rm = pyvisa.ResourceManager(bench.visa_library())

`single_smu_bench` builds exactly that two-terminal arrangement in one call.

Trigger links (``bench.link(smu_address, "DIG1", pg_address, "EXT")``) model the BNC/DB-9 cables
between instruments: a simulated instrument calls ``bench.emit_trigger(self, "DIG1", t)`` at the
bench time its line pulses, and every linked target gets ``target.external_trigger(line, t +
delay)``. Causality: a trigger at a time the timeline has not reached yet is delivered when the
timeline integrates through it (a timeline event), so the target acts on it with the state it
has *then*; a trigger at or before the timeline's present time is delivered at once. A target
acts on a trigger only if it was armed (configured to take it) at or before the trigger time and
is not busy with an earlier one; otherwise it ignores it, as real hardware does, and counts it
as missed. `trigger_log` records every delivery: (time, source, line, target, line, taken).

Every command advances the clock by its modelled duration (transport latency plus bytes at the
bus rate, plus what the instrument models); in *instant* mode waits jump, in *paced* and *real*
mode they take (scaled) wall time.
"""

from __future__ import annotations

import itertools
import threading
import weakref
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pyvisa import rname

from labsyn.clock import ClockMode, SimClock

from .faults import FaultPlan, LinkLost
from .scpi import Reply
from .timeline import GROUND, DeviceModel, Dut, SourceChannel, Timeline

_BENCHES: weakref.WeakValueDictionary[str, Bench] = weakref.WeakValueDictionary()
_NUMBERS = itertools.count(1)


class SimInstrument(Protocol):
    """What the VISA backend needs of a simulated instrument."""

    name: str

    def attach(self, bench: Bench) -> None: ...

    def receive(self, data: bytes, now: float) -> None: ...

    def next_reply(self) -> Reply | None: ...

    def pop_reply(self) -> bytes: ...

    def query_unterminated(self) -> None: ...

    def query_interrupted(self) -> None: ...

    def device_clear(self) -> None: ...

    def status_byte(self) -> int: ...

    def trigger(self, now: float) -> None: ...

    def inject(self, kind: str, error: tuple[int, str]) -> None: ...

    def output_state(self) -> dict[str, Any]: ...


class TriggerTarget(Protocol):
    """What a linked instrument needs to take external triggers."""

    name: str

    def external_trigger(self, line: str, t: float) -> bool:
        """A trigger on input `line` at bench time `t`; True if acted on, False if missed."""
        ...


@dataclass(frozen=True)
class TriggerLink:
    """A cable from `source`'s output line to `target`'s input line, `delay` s long."""

    source: Any
    source_line: str
    target: Any
    target_line: str
    delay: float = 0.0


def bench_for_library(path: str) -> Bench:
    """The bench a `LabsynVisaLibrary` path names."""
    try:
        return _BENCHES[path]
    except KeyError:
        raise ValueError(f"no simulated bench is registered as {path!r}; "
                         "create the library with Bench.visa_library()") from None


class Bench:
    """DUTs, simulated instruments and the timeline that couples them."""

    def __init__(self, clock: SimClock | None = None, clock_mode: ClockMode = "instant",
                 speedup: float = 100.0, latency_s: float = 100e-6,
                 bus_bytes_per_s: float = 1e6) -> None:
        if latency_s < 0 or bus_bytes_per_s <= 0:
            raise ValueError(f"latency_s {latency_s!r} must be >= 0 and bus_bytes_per_s "
                             f"{bus_bytes_per_s!r} > 0")
        self.clock = clock or SimClock(clock_mode, speedup)
        self.latency_s = latency_s
        self.bus_bytes_per_s = bus_bytes_per_s
        self.timeline = Timeline()
        self.faults = FaultPlan()
        self.instruments: dict[str, SimInstrument] = {}
        self.lock = threading.RLock()
        self.name = f"labsyn-bench-{next(_NUMBERS)}"
        self._library: Any = None
        self.links: list[TriggerLink] = []
        self.trigger_log: list[tuple[float, str, str, str, str, bool]] = []
        self._trigger_channels: dict[int, SourceChannel] = {}
        _BENCHES[self.name] = self

    # -- building -------------------------------------------------------------------------------
    def add_instrument(self, address: str | list[str], instrument: SimInstrument) -> Any:
        """Put `instrument` at one or more VISA addresses; returns the instrument."""
        for each in [address] if isinstance(address, str) else address:
            canonical = str(rname.parse_resource_name(each))
            if canonical in self.instruments:
                raise ValueError(f"address {canonical} is already taken on this bench")
            self.instruments[canonical] = instrument
        instrument.attach(self)
        return instrument

    def add_channel(self, name: str) -> SourceChannel:
        return self.timeline.add_channel(SourceChannel(name))

    def add_dut(self, name: str, device: DeviceModel, series_resistance: float = 0.0) -> Dut:
        if series_resistance < 0:
            raise ValueError(f"series_resistance {series_resistance!r} must be >= 0 Ω")
        dut = Dut(name, device, series_resistance)
        self.timeline.duts.append(dut)
        return dut

    def wire(self, dut: Dut, terminal: str, channel: SourceChannel | Literal["ground"]) -> None:
        """Connect a DUT terminal to an instrument channel (or to ground)."""
        if terminal not in dut.terminals:
            raise ValueError(f"terminal {terminal!r} is not one of {', '.join(dut.terminals)}")
        target = GROUND if channel == "ground" else channel
        assert isinstance(target, SourceChannel)
        if target is not GROUND and target.wired is not None:
            raise ValueError(f"channel {target.name} is already wired to "
                             f"{target.wired[0].name}.{target.wired[1]}")
        dut.terminals[terminal] = target
        if target is not GROUND:
            target.wired = (dut, terminal)

    def instrument_at(self, address: str) -> Any:
        canonical = str(rname.parse_resource_name(address))
        try:
            return self.instruments[canonical]
        except KeyError:
            raise ValueError(f"no instrument at {canonical} on this bench (instruments at "
                             f"{', '.join(self.instruments) or 'none'})") from None

    def link(self, source_address: str, source_line: str, target_address: str,
             target_line: str, delay_s: float = 0.0) -> TriggerLink:
        """A trigger cable from an output line to an input line (a fixed `delay_s`, ≥ 0)."""
        if delay_s < 0:
            raise ValueError(f"trigger cable delay {delay_s!r} must be >= 0 s")
        source, target = self.instrument_at(source_address), self.instrument_at(target_address)
        if not callable(getattr(target, "external_trigger", None)):
            raise ValueError(f"{target.name} at {target_address} takes no external trigger")
        link = TriggerLink(source, source_line.upper(), target, target_line.upper(), delay_s)
        self.links.append(link)
        return link

    def emit_trigger(self, instrument: Any, line: str, t: float) -> None:
        """`instrument`'s output `line` pulses at bench time `t`: every linked target gets it
        (see the module docstring for the causality rule)."""
        line = line.upper()
        with self.lock:
            for link in self.links:
                if link.source is not instrument or link.source_line != line:
                    continue
                at = t + link.delay
                if at > self.timeline.time:
                    self.timeline.measure_at(at, self._trigger_channel(instrument),
                                             lambda _m, k=link, when=at: self._deliver(k, when))
                else:
                    self._deliver(link, at)

    def cancel_triggers(self, instrument: Any, after: float) -> None:
        """Triggers `instrument` emitted for times after `after` never happen (it aborted)."""
        with self.lock:
            self.timeline.cancel_events(self._trigger_channel(instrument), after)

    def pending_triggers(self, instrument: Any) -> int:
        return self.timeline.pending_events(self._trigger_channel(instrument))

    def _trigger_channel(self, instrument: Any) -> SourceChannel:
        """An unwired channel that keys `instrument`'s pending triggers on the timeline."""
        key = id(instrument)
        if key not in self._trigger_channels:
            self._trigger_channels[key] = SourceChannel(f"{instrument.name} trigger out")
        return self._trigger_channels[key]

    def _deliver(self, link: TriggerLink, t: float) -> None:
        taken = bool(link.target.external_trigger(link.target_line, t))
        self.trigger_log.append((t, link.source.name, link.source_line, link.target.name,
                                 link.target_line, taken))

    def visa_library(self) -> Any:
        """The pyvisa library object: ``pyvisa.ResourceManager(bench.visa_library())``."""
        if self._library is None:
            from .visa_backend import LabsynVisaLibrary

            self._library = LabsynVisaLibrary(self.name)
        return self._library

    # -- running --------------------------------------------------------------------------------
    @property
    def temperature_k(self) -> float:
        return self.timeline.duts[0].device.temperature_k if self.timeline.duts else 300.0

    @temperature_k.setter
    def temperature_k(self, value: float) -> None:
        if not 4.0 <= value <= 800.0:
            raise ValueError(f"temperature {value!r} K is outside 4–800 K")
        for dut in self.timeline.duts:
            dut.device.temperature_k = value

    def sync(self) -> None:
        """Integrate the DUTs up to the present virtual time."""
        with self.lock:
            self.timeline.advance_to(self.clock.now())

    def run_until(self, t: float) -> None:
        """Integrate ahead to `t` (an instrument needs a result that exists at `t`)."""
        with self.lock:
            self.timeline.advance_to(max(t, self.clock.now()))

    def deliver(self, instrument: SimInstrument, addresses: tuple[str, ...] | list[str],
                data: bytes) -> None:
        """A program message reaching `instrument` (known by `addresses`) over its link.

        Applies injected faults, the bus time and the state of the DUTs up to now, then
        executes it. Raises `LinkLost` if the link is down or a disconnect fault fires.
        """
        with self.lock:
            if any(address in self.faults.lost for address in addresses):
                raise LinkLost(addresses[0])
            text = data.decode("ascii", errors="replace")
            fault = next((f for a in addresses if (f := self.faults.take(a, text))), None)
            if fault is not None and fault.kind == "disconnect":
                self.faults.lost.add(addresses[0])
                raise LinkLost(addresses[0])
            self.transport_delay(len(data))
            self.sync()
            instrument.receive(data, self.clock.now())
            if fault is not None:
                instrument.inject(fault.kind, fault.error)

    def transport_delay(self, nbytes: int) -> None:
        self.clock.sleep(self.latency_s + nbytes / self.bus_bytes_per_s)

    def status(self) -> dict[str, dict[str, Any]]:
        """Each instrument's output state, by address."""
        with self.lock:
            self.sync()
            return {address: {"name": inst.name, **inst.output_state()}
                    for address, inst in self.instruments.items()}


def single_smu_bench(address: str | list[str], instrument: Any, device: DeviceModel,
                     series_resistance: float = 0.0, **bench_options: Any) -> Bench:
    """One SMU at `address` on the TE of one DUT, its BE grounded."""
    bench = Bench(**bench_options)
    bench.add_instrument(address, instrument)
    dut = bench.add_dut("dut", device, series_resistance)
    bench.wire(dut, "TE", instrument.channel)
    bench.wire(dut, "BE", "ground")
    return bench
