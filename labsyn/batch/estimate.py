"""Dry runs and the duration estimate of a real run.

A dry run plays the whole recipe (or wafer) against stock pyvisa-sim with the YAML files labsyn
ships: every command must be accepted and every parameter within limits; the recipe runner takes
the longest branch (`station.dry_run`). Its station clock is an instant `SimClock`, so what the
drivers themselves wait for (the expected end of the sequence they programmed, e.g. the 2450's
`_wait_idle`; `ctx.clock.sleep` in protocols) already advances it. `DryRunTiming` adds what
pyvisa-sim's instant, static replies leave out, with the simulator's own models:

- transport: every write and every read costs `latency_s + bytes / bus_bytes_per_s` (the
  labsyn-sim bench's model; calibrate it on a real bench with `calibrate_transport`);
- prober moves: the SENTIO twin's chuck model (Z gap / Z speed + settle; XY distance along
  labsyn's own wafer map / XY speed + settle) — pyvisa-sim's prober replies are static;
- relay settling: the matrix twin's `SETTLE_S` per command that opens or closes relays.

The estimate is the clock after the dry run; its breakdown is per recipe step (summed over
devices) plus what lies between runs (stepping, contact checks, routing). `station_variant`
derives the pyvisa-sim (dry run) or labsyn-sim (physics simulator) form of a station config.
Where it errs: every device takes the longest branch (too long where a dead device's recipe
stops after forming), and pyvisa-sim's short static buffer replies undercount the bytes of
large reads (too short by ~10 ms per 10 kB at 1 MB/s).
"""

from __future__ import annotations

import functools
import inspect
import math
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from labsyn.engine import RunSink
from labsyn.station.config import StationConfig, load_station_config
from labsyn.station.registry import DRIVERS

from .recipe import Recipe, load_recipe
from .recipe_runner import run_recipe

Backend = Literal["pyvisa-sim", "labsyn-sim"]
BETWEEN_RUNS = "between runs (stepping, contact checks, routing)"


@dataclass(frozen=True)
class TransportModel:
    """Cost of one write or one read: a fixed latency plus the bytes at the bus rate."""

    latency_s: float = 100e-6
    bus_bytes_per_s: float = 1e6

    def cost(self, nbytes: int) -> float:
        return self.latency_s + nbytes / self.bus_bytes_per_s


@dataclass
class Estimate:
    """Estimated wall time of the real run (s) and where it goes."""

    seconds: float
    steps: dict[str, float] = field(default_factory=dict)  # recipe step -> s over all devices
    messages: int = 0
    transaction_s: float = 0.0
    prober_s: float = 0.0
    relay_s: float = 0.0
    devices: int = 0
    dies: int = 0
    backend: str = "pyvisa-sim"
    host_s: float = 0.0  # wall time the dry run itself took

    @property
    def between_runs_s(self) -> float:
        return max(0.0, self.seconds - sum(self.steps.values()))

    def summary(self) -> str:
        """The estimate as a few printable lines."""
        where = f"{self.dies} die(s), {self.devices} device(s)" if self.dies else \
            f"{self.devices} device(s)"
        lines = [f"estimated wall time of the real run: {format_duration(self.seconds)} "
                 f"({self.seconds:.1f} s; {where}; from a {self.backend} dry run that took "
                 f"{self.host_s:.1f} s)"]
        for name, seconds in [*self.steps.items(), (BETWEEN_RUNS, self.between_runs_s)]:
            share = 100.0 * seconds / self.seconds if self.seconds else 0.0
            lines.append(f"  {name:<48} {format_duration(seconds):>16}  {share:5.1f} %")
        if self.messages:
            lines.append(f"  of which: {self.messages} messages "
                         f"{format_duration(self.transaction_s)}, prober moves "
                         f"{format_duration(self.prober_s)}, relay settling "
                         f"{format_duration(self.relay_s)}")
        return "\n".join(lines)


def format_duration(seconds: float) -> str:
    """`3725.2` -> `1 h 02 min 05 s`; below a minute, seconds with a decimal."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours} h {minutes:02d} min {secs:02d} s" if hours else f"{minutes} min {secs:02d} s"


# -- station variants ---------------------------------------------------------------------------
def station_variant(config: StationConfig, backend: Backend) -> StationConfig:
    """The same station on another backend (addresses, wiring, limits kept), on an instant
    clock: `pyvisa-sim` for a dry run, `labsyn-sim` for the physics simulator."""
    data = config.model_dump(by_alias=True)
    data.update(backend=backend, clock="instant", visa_library="")
    return StationConfig.model_validate(data)


def as_config(station: StationConfig | str | Path) -> StationConfig:
    return station if isinstance(station, StationConfig) else load_station_config(station)


# -- accounting the time pyvisa-sim leaves out -------------------------------------------------
class DryRunTiming:
    """Advances a dry-run station's clock by transport, prober-move and relay-settle time.

    Installed on the driver instances (instance attributes shadow their methods), so the
    drivers run unchanged; `uninstall()` removes it."""

    def __init__(self, station: Any, transport: TransportModel | None = None) -> None:
        self.station = station
        self.clock = station.clock
        self.transport = transport or TransportModel(station.config.sim.latency_s)
        self.messages = 0
        self.transaction_s = 0.0
        self.prober_s = 0.0
        self.relay_s = 0.0
        self._undo: list[Callable[[], None]] = []
        for name, driver in station.instruments.items():
            entry = DRIVERS[station.config.instruments[name].driver]
            self._wrap_transport(driver)
            if entry.kind == "Prober":
                self._wrap_prober(driver, entry)
            elif entry.kind == "SwitchMatrix":
                self._wrap_matrix(driver, entry)

    def _patch(self, obj: Any, attr: str, make: Callable[[Callable[..., Any]], Any]) -> None:
        original = getattr(obj, attr)
        setattr(obj, attr, functools.wraps(original)(make(original)))
        self._undo.append(lambda: obj.__dict__.pop(attr, None))

    def uninstall(self) -> None:
        while self._undo:
            self._undo.pop()()

    def _spend(self, seconds: float) -> float:
        self.clock.sleep(seconds)
        return seconds

    # -- transport
    def _wrap_transport(self, driver: Any) -> None:
        adapter = driver.adapter
        term = len(getattr(getattr(adapter, "connection", None), "write_termination", "") or "")

        def count(nbytes: int) -> None:
            self.messages += 1
            self.transaction_s += self._spend(self.transport.cost(nbytes))

        def write(original: Callable[..., Any]) -> Callable[..., Any]:
            def timed(command: str, **kwargs: Any) -> Any:
                result = original(command, **kwargs)
                count(len(command) + term)
                return result
            return timed

        def read(original: Callable[..., Any]) -> Callable[..., Any]:
            def timed(*args: Any, **kwargs: Any) -> Any:
                reply = original(*args, **kwargs)
                count(len(reply) + 1)
                return reply
            return timed

        self._patch(adapter, "write", write)
        for name in ("read", "read_bytes"):
            if hasattr(adapter, name):
                self._patch(adapter, name, read)

    # -- prober
    def _wrap_prober(self, driver: Any, entry: Any) -> None:
        twin = getattr(entry.simulator_class()(name="timing model"), "chuck", None)
        if twin is None:
            return
        chuck = ChuckTiming.like(twin)

        def z_move(state: str) -> Callable[[Callable[..., Any]], Any]:
            def make(original: Callable[..., Any]) -> Callable[..., Any]:
                def timed(*args: Any, **kwargs: Any) -> Any:
                    result = original(*args, **kwargs)
                    self.prober_s += self._spend(chuck.move_z(state))
                    return result
                return timed
            return make

        def step(original: Callable[..., Any]) -> Callable[..., Any]:
            def timed(die: Any, subsite: int = 0) -> Any:
                result = original(die, subsite)
                self.prober_s += self._spend(chuck.step_to((int(die[0]), int(die[1]))))
                return result
            return timed

        for name, state in (("separate", "separation"), ("contact", "contact"),
                            ("hover", "hover"), ("safe_off", "separation")):
            if hasattr(driver, name):
                self._patch(driver, name, z_move(state))
        self._patch(driver, "step_die", step)

    # -- matrix
    def _wrap_matrix(self, driver: Any, entry: Any) -> None:
        settle = float(getattr(inspect.getmodule(entry.simulator_class()), "SETTLE_S", 0.0))
        closed: set[Any] = set()

        def route(original: Callable[..., Any]) -> Callable[..., Any]:
            def timed(crosspoints: Any) -> Any:
                result = original(crosspoints)
                wanted = set(crosspoints)
                moves = bool(closed - wanted) + bool(wanted - closed)
                closed.clear()
                closed.update(wanted)
                self.relay_s += self._spend(settle * moves)
                return result
            return timed

        def open_all(original: Callable[..., Any]) -> Callable[..., Any]:
            def timed(*args: Any, **kwargs: Any) -> Any:
                result = original(*args, **kwargs)
                if closed:
                    closed.clear()
                    self.relay_s += self._spend(settle)
                return result
            return timed

        self._patch(driver, "route", route)
        if hasattr(driver, "open_all"):
            self._patch(driver, "open_all", open_all)


@dataclass
class ChuckTiming:
    """The prober twin's move-time model, walked along labsyn's own map: a Z move takes its
    gap / Z speed + settle, a step its XY distance (die pitch) / XY speed + settle."""

    pitch_um: tuple[float, float]
    gaps_um: dict[str, float]
    xy_speed_um_s: float
    z_speed_um_s: float
    settle_s: float
    die: tuple[int, int] = (0, 0)
    state: str = "separation"

    @classmethod
    def like(cls, twin: Any) -> ChuckTiming:
        return cls(tuple(twin.pitch_um), {"contact": 0.0, "hover": twin.hover_gap_um,
                                          "separation": twin.separation_gap_um},
                   twin.xy_speed_um_s, twin.z_speed_um_s, twin.settle_s, tuple(twin.die),
                   twin.state)

    def move_z(self, state: str) -> float:
        distance = abs(self.gaps_um[state] - self.gaps_um[self.state])
        self.state = state
        return distance / self.z_speed_um_s + (self.settle_s if distance else 0.0)

    def step_to(self, die: tuple[int, int]) -> float:
        dx = (die[0] - self.die[0]) * self.pitch_um[0]
        dy = (die[1] - self.die[1]) * self.pitch_um[1]
        self.die = die
        return math.hypot(dx, dy) / self.xy_speed_um_s + self.settle_s


class StepClock(RunSink):
    """Station-clock seconds spent in each run, summed by recipe step (by protocol when a
    protocol appears in more than one step)."""

    def __init__(self, clock: Any, recipe: Recipe) -> None:
        self.clock = clock
        protocols = [s.protocol for s in recipe.steps]
        self.names = {s.protocol: s.name for s in recipe.steps if protocols.count(s.protocol) == 1}
        self.steps: dict[str, float] = {s.name: 0.0 for s in recipe.steps}
        self._current: tuple[str, float] | None = None

    def on_start(self, run_id: str, protocol: str, params: Mapping[str, Any]) -> None:
        self._current = (self.names.get(protocol, protocol), self.clock.now())

    def on_finish(self, result: Any) -> None:
        if self._current is not None:
            name, start = self._current
            self.steps[name] = self.steps.get(name, 0.0) + self.clock.now() - start
            self._current = None


# -- estimates ----------------------------------------------------------------------------------
def estimate_recipe(station_config: StationConfig | str | Path, recipe: Recipe | str | Path,
                    transport: TransportModel | None = None, store: Any = None) -> Estimate:
    """Dry run one recipe on one device of a station (its pyvisa-sim variant)."""
    from labsyn.station import Station

    recipe = recipe if isinstance(recipe, Recipe) else load_recipe(recipe)
    station = Station(station_variant(as_config(station_config), "pyvisa-sim"), "<dry run>")
    try:
        return _timed(station, recipe, transport, lambda sinks: run_recipe(
            recipe, station, store, sinks=sinks), devices=1)
    finally:
        station.close()


def estimate_wafer(station_config: StationConfig | str | Path, wafer_map: Any, batch_recipe: Any,
                   transport: TransportModel | None = None,
                   data_dir: str | Path | None = None) -> Estimate:
    """Dry run a whole wafer (`WaferRun`) on the station's pyvisa-sim variant."""
    return wafer_run(station_config, wafer_map, batch_recipe, "pyvisa-sim", transport,
                     data_dir)[0]


def wafer_run(station_config: StationConfig | str | Path, wafer_map: Any, batch_recipe: Any,
              backend: Backend = "pyvisa-sim", transport: TransportModel | None = None,
              data_dir: str | Path | None = None,
              on_station: Callable[[Any], None] | None = None) -> tuple[Estimate, Any]:
    """Run a wafer on a backend variant of the station; (its timing, the `WaferResult`). On
    labsyn-sim the timing is the simulator's virtual time (no accounting is added).
    `on_station` sees the opened station before the run (e.g. to instrument it)."""
    from labsyn.station import Station
    from labsyn.store import Store

    from .batch_recipe import load_batch_recipe
    from .wafer_map import load_wafer_map
    from .wafer_runner import WaferRun

    wafer_map = load_wafer_map(wafer_map) if isinstance(wafer_map, (str, Path)) else wafer_map
    if isinstance(batch_recipe, (str, Path)):
        batch_recipe = load_batch_recipe(batch_recipe)
    recipe = getattr(batch_recipe, "recipe", batch_recipe)
    station = Station(station_variant(as_config(station_config), backend), f"<{backend}>")
    outcome: list[Any] = []

    def go(sinks: list[RunSink]) -> Any:
        store = Store(Path(data_dir) if data_dir is not None else Path(scratch))
        run = WaferRun(station, wafer_map, batch_recipe, store, sinks=sinks, progress=False)
        outcome.append(run.run())
        return outcome[-1]

    with tempfile.TemporaryDirectory(prefix="labsyn-dry-") as scratch:
        try:
            if on_station is not None:
                on_station(station)
            estimate = _timed(station, recipe, transport, go, account=backend == "pyvisa-sim")
        finally:
            station.close()
    result = outcome[0] if outcome else None
    devices = getattr(result, "outcomes", None)
    estimate.devices = len(devices) if devices is not None else 0
    estimate.dies = len(getattr(wafer_map, "probed_dies", ()) or ())
    return estimate, result


def _timed(station: Any, recipe: Recipe, transport: TransportModel | None,
           body: Callable[[list[RunSink]], Any], devices: int = 0,
           account: bool = True) -> Estimate:
    timing = DryRunTiming(station, transport) if account else None
    steps = StepClock(station.clock, recipe)
    start, host = station.clock.now(), time.perf_counter()
    try:
        body([steps])
    finally:
        if timing is not None:
            timing.uninstall()
    estimate = Estimate(station.clock.now() - start, steps.steps, devices=devices,
                        backend=station.config.backend, host_s=time.perf_counter() - host)
    if timing is not None:
        estimate.messages = timing.messages
        estimate.transaction_s = timing.transaction_s
        estimate.prober_s = timing.prober_s
        estimate.relay_s = timing.relay_s
    return estimate


def calibrate_transport(station: Any, queries: int = 20) -> TransportModel:
    """A transaction cost measured on a bench: the mean time of `queries` identification
    queries per instrument (a write and a read each) on the station clock."""
    start, count = station.clock.now(), 0
    for driver in station.instruments.values():
        for _ in range(queries):
            driver.id  # noqa: B018 — the query is the measurement
            count += 2
    elapsed = station.clock.now() - start
    return TransportModel(latency_s=elapsed / count if count else 0.0)


def dry_run_wafer(station_path: str | Path, map_path: str | Path, recipe_path: str | Path,
                  sim: bool = False, data_dir: str | Path | None = None,
                  echo: Callable[[str], None] = print) -> Estimate:
    """`labsyn batch … --dry-run`: the wafer on stock pyvisa-sim, printing the estimated wall
    time of the real run (into a scratch store: a dry run never writes into `data_dir`, whose
    ledger would then refuse the real run). `--sim`: the wafer on the physics simulator with a
    simulated wafer, into `data_dir` if given; prints its virtual time and device statuses."""
    backend: Backend = "labsyn-sim" if sim else "pyvisa-sim"
    estimate, result = wafer_run(station_path, map_path, recipe_path, backend,
                                 data_dir=data_dir if sim else None)
    if not sim:
        echo("dry run completed: every command accepted, every parameter within limits")
        echo(estimate.summary())
        return estimate
    statuses: dict[str, int] = {}
    for outcome in getattr(result, "outcomes", []) or []:
        statuses[str(outcome.status)] = statuses.get(str(outcome.status), 0) + 1
    echo(f"simulated wafer: {estimate.dies} die(s), {estimate.devices} device(s) ("
         + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())) + f") in "
         f"{format_duration(estimate.seconds)} of virtual (instrument) time; "
         f"{estimate.host_s:.1f} s on this host")
    if getattr(result, "stopped", ""):
        echo(result.stopped)
    echo("data: " + (str(data_dir) if data_dir is not None else
                     "not kept (give --data DIR to keep the runs and the ledger)"))
    return estimate
