"""A whole wafer, unattended: per die separate → step → contact → contact check; per device
route (sources off) and run the recipe; a per-device ledger for resume and results.

    with Station.open("station.yaml") as station:
        result = WaferRun(station, load_wafer_map("W01.yaml"),
                          load_batch_recipe("recipe.yaml"), Store("data")).run()
    result.table()

Between the steps of one device the chuck stays in contact and the route stays closed: each
step's run ends with its sources off (`_SourcesOff` gives the Runner a safe state of the
sources alone, so relays never switch and the probes never lift under voltage). The full
station safe state (sources, relays open, chuck separated) runs after an instrument fault, on
resume before anything else, and in a `finally` when the wafer ends, however it ends.

A device is *dead* when the recipe's first step never saw |I| above `DEAD_CURRENT_A` (an open
circuit: a pristine live cell conducts nA at a few volts), *passed* when every step passed,
*failed* otherwise (also after `retries` instrument faults), *skipped* when its die failed the
contact check or the wafer stopped on its yield.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from labsyn.analysis.result import Estimate
from labsyn.engine import RunSink, RunState
from labsyn.errors import ConfigError, InstrumentError
from labsyn.store import DeviceId, Store

from .batch_recipe import BatchRecipe, load_batch_recipe, tightened_limits
from .ledger import DeviceKey, DeviceRecord, Ledger
from .progress import WaferProgress
from .recipe_runner import RecipeResult, check_recipe, run_recipe
from .wafer_map import (
    DeviceSpec,
    Die,
    WaferMap,
    check_wafer_map,
    connections,
    die_id,
    load_wafer_map,
)
from .wafer_result import DeviceOutcome, WaferResult

DEAD_CURRENT_A = 1e-9
_FAULT = re.compile(r"^(Instrument\w*|VisaIOError|TimeoutError)\b")
SOURCE_KINDS = ("SourceMeter", "PulseGenerator")


class _SourcesOff:
    """The station as a Runner inside a device sees it: `safe_state()` turns the sources off
    and leaves relays and chuck as they are; everything else is the station's."""

    def __init__(self, station: Any) -> None:
        self._station = station

    def __getattr__(self, name: str) -> Any:
        return getattr(self._station, name)

    def safe_state(self) -> None:
        from labsyn.station.registry import DRIVERS

        problems = []
        for name, inst in self._station.config.instruments.items():
            if DRIVERS[inst.driver].kind in SOURCE_KINDS:
                try:
                    self._station.instruments[name].safe_off()
                except Exception as exc:
                    problems.append(exc)
        if problems:
            raise problems[0]


class _PeakCurrent(RunSink):
    """The largest |current| each run saw (for the dead-device rule)."""

    def __init__(self) -> None:
        self.peaks: dict[str, float] = {}
        self._run = ""

    def on_start(self, run_id: str, protocol: str, params: Mapping[str, Any]) -> None:
        self._run = run_id or protocol
        self.peaks[self._run] = 0.0

    def on_data(self, block: Mapping[str, np.ndarray]) -> None:
        current = block.get("current")
        if current is not None and len(current):
            peak = float(np.nanmax(np.abs(current))) if np.isfinite(current).any() else 0.0
            self.peaks[self._run] = max(self.peaks.get(self._run, 0.0), peak)


class WaferRun:
    """Run `batch_recipe` on every device of `wafer_map` with `station`, into `store`."""

    def __init__(self, station: Any, wafer_map: WaferMap, batch_recipe: BatchRecipe,
                 store: Store, sinks: Sequence[RunSink] = (), progress: bool = True) -> None:
        self.station = station
        self.map = wafer_map
        self.batch = batch_recipe
        self.store = store
        self.sinks = list(sinks)
        self.progress = progress
        self.ledger = Ledger.for_wafer(store.root, wafer_map.wafer)
        self._at: tuple[Die, int] | None = None  # where the chuck is in contact

    @property
    def fingerprint(self) -> str:
        return f"{self.batch.fingerprint()}|{self.map.fingerprint()}"

    def validate(self, resume: bool = False) -> None:
        """Map, recipe, limits and ledger against the station; nothing is sent."""
        check_wafer_map(self.map, self.station)
        check_recipe(self.batch.recipe, self.station)
        if self.map.contact_test is not None:
            self.station.check_voltage(self._contact_terminal(), self.map.contact_test
                                       .read_voltage)
        self.station.prober  # noqa: B018 - a ConfigError unless the station has one prober
        if not resume and self.ledger.exists:
            raise ConfigError(f"wafer {self.map.wafer!r} already has a ledger at "
                              f"{self.ledger.path}: resume it (--resume) or use another data "
                              "directory")
        recorded = self.ledger.fingerprint() if resume else None
        if recorded is not None and recorded != self.fingerprint:
            raise ConfigError(f"{self.ledger.path}: it was started with another recipe or "
                              "wafer map; resume with the same files, or use another data "
                              "directory")

    def run(self, resume: bool = False) -> WaferResult:
        """The whole wafer; `resume` continues from the ledger (safe state and separation
        first). Always ends with the station's safe state (chuck separated, outputs off)."""
        if resume:
            self._safe_state()
        own_config = self.station.config
        limits = tightened_limits(self.batch, own_config)
        self.station.config = own_config.model_copy(update={"limits": limits})
        result = WaferResult(self.map.wafer, self.store, wafer_map=self.map,
                             steps=[(s.name, s.protocol) for s in self.batch.recipe.steps])
        bar: WaferProgress | None = None
        try:
            self.validate(resume)
            standing = self.ledger.devices() if resume else {}
            self.ledger.append("wafer", state="resumed" if resume else "started",
                               wafer=self.map.wafer, recipe=self.batch.source,
                               map=self.map.source, fingerprint=self.fingerprint)
            bar = WaferProgress(self.map.device_count, len(self.map.probed_dies),
                                self.map.wafer, self.progress)
            clock, wall = self.station.clock.now(), time.monotonic()
            try:
                for die in self.map.probed_dies:
                    self._die(die, standing, result, bar)
                    if result.stopped.startswith("aborted"):
                        break
            finally:
                result.elapsed_virtual_s = self.station.clock.now() - clock
                result.elapsed_wall_s = time.monotonic() - wall
            self.ledger.append("wafer", state="stopped" if result.stopped else "finished",
                               wafer=self.map.wafer, reason=result.stopped)
        finally:
            if bar is not None:
                bar.close()
            self.station.config = own_config
            self._safe_state()
        return result

    # -- a die ------------------------------------------------------------------------------
    def _die(self, die: Die, standing: Mapping[DeviceKey, DeviceRecord], result: WaferResult,
             bar: WaferProgress) -> None:
        todo: list[tuple[DeviceSpec, DeviceRecord | None]] = []
        for device in self.map.devices:
            record = standing.get((die_id(die), device.subsite, device.name))
            if record is not None and record.finished is not None:
                done = record.finished
                result.outcomes.append(DeviceOutcome(
                    die, device.subsite, device.name, done["status"], done.get("reason", ""),
                    bool(done.get("remeasured")), int(done.get("attempt", 1)),
                    dict(done.get("steps", {})), from_ledger=True))
                bar.device(done["status"], already=True)
            else:
                todo.append((device, record))
        if not todo:
            bar.die()
            return
        reason = result.stopped
        if not reason and self.map.contact_test is not None:
            reason = self._contact_check(die)
        for device, record in todo:
            if reason:
                outcome = self._skip(die, device, record, reason)
            else:
                outcome = self._device(die, device, record)
                if outcome is None:  # aborted: left unfinished for a resume
                    result.stopped = "aborted (a run was aborted: Ctrl-C / SIGTERM / abort)"
                    return
            result.outcomes.append(outcome)
            bar.device(outcome.status)
            if not result.stopped:
                result.stopped = self._yield_stop(bar)
                if result.stopped and not reason:
                    reason = f"not measured: {result.stopped}"
        self._separate()
        bar.die()

    def _yield_stop(self, bar: WaferProgress) -> str:
        conditions = self.batch.wafer
        ratio = bar.running_yield
        if conditions.min_yield <= 0 or ratio is None or bar.measured < conditions.yield_after:
            return ""
        if ratio < conditions.min_yield:
            return (f"wafer stopped: running yield {ratio:.0%} after {bar.measured} devices is "
                    f"below min_yield {conditions.min_yield:.0%}")
        return ""

    def _contact_check(self, die: Die) -> str:
        """Touch down and read the die's test resistor; the reason the die is skipped or ""."""
        test = self.map.contact_test
        assert test is not None
        try:
            self._ensure_contact(die, test.prober_subsite)
            self.station.route(connections(test, self.station, self.map.source))
            binding = self.station.terminal(self._contact_terminal())
            smu = binding.driver
            limit = min(self.station.config.limits.max_current_limit,
                        max(10 * test.read_voltage / test.resistance, 1e-6))
            smu.rearm()
            try:
                smu.apply_voltage(test.read_voltage, limit)
                reading = smu.measure()
            finally:
                smu.safe_off()
        except InstrumentError as exc:
            self._safe_state()
            return f"contact check {test.name}: instrument fault: {exc}"
        if self.station.dry_run:
            return ""
        ohms = (abs(reading.voltage / reading.current) - binding.series_resistance
                if reading.current else float("inf"))
        if test.accepts(ohms):
            return ""
        return (f"contact check {test.name}: read {ohms:.4g} Ω at {test.read_voltage:g} V, "
                f"expected {test.resistance:.4g} Ω ± {test.tolerance:.0%}")

    def _contact_terminal(self) -> str:
        test = self.map.contact_test
        assert test is not None
        for terminal in test.pads:
            if self.station.terminal(terminal).kind == "SourceMeter":
                return terminal
        raise ConfigError(f"{self.map.source}: contact_test {test.name!r}: none of its "
                          f"terminals ({', '.join(test.pads)}) is wired to a source-measure unit")

    # -- a device ---------------------------------------------------------------------------
    def _device(self, die: Die, device: DeviceSpec, record: DeviceRecord | None
                ) -> DeviceOutcome | None:
        remeasured = record is not None and record.started > 0
        attempts = record.started if record is not None else 0
        retries = self.batch.wafer.retries
        for retry in range(retries + 1):
            attempts += 1
            ids = self._ids(die, device, attempts, remeasured)
            self.ledger.append("started", **ids)
            recipe, peaks, fault = None, _PeakCurrent(), ""
            try:
                self._ensure_contact(die, device.prober_subsite)
                self.station.route(connections(device, self.station, self.map.source))
                recipe = run_recipe(self.batch.recipe, _SourcesOff(self.station), self.store,
                                    DeviceId(self.map.wafer, die_id(die), device.name,
                                             device.subsite), sinks=[*self.sinks, peaks])
                fault = _fault(recipe)
            except InstrumentError as exc:
                fault = f"{type(exc).__name__}: {exc}"
            if recipe is not None and recipe.aborted:
                return None
            if fault:
                self._safe_state()
                if retry < retries:
                    remeasured = True
                    continue
            status, reason = self._verdict(recipe, peaks, fault)
            steps = {o.step: o.result.run_id for o in (recipe.outcomes if recipe else [])
                     if o.result is not None and o.result.run_id}
            if status == "dead":
                self._void_figures(recipe, reason)
            self.ledger.append("finished", **ids, status=status, reason=reason,
                               runs=list(steps.values()), steps=steps)
            return DeviceOutcome(die, device.subsite, device.name, status, reason, remeasured,
                                 attempts, steps, recipe)
        raise AssertionError("unreachable")

    def _verdict(self, recipe: RecipeResult | None, peaks: _PeakCurrent, fault: str
                 ) -> tuple[str, str]:
        if fault:
            return "failed", f"instrument fault (after {self.batch.wafer.retries} retries): {fault}"
        assert recipe is not None
        first = recipe.outcomes[0] if recipe.outcomes else None
        run = first.result if first is not None else None
        if run is not None and run.rows and not self.station.dry_run:
            peak = peaks.peaks.get(run.run_id or first.protocol, 0.0)
            if peak < DEAD_CURRENT_A:
                return "dead", (f"open circuit: step {first.step!r} never saw |I| above "
                                f"{DEAD_CURRENT_A:g} A (peak {peak:.3g} A)")
        if recipe.passed:
            return "passed", ""
        failed = next(o for o in recipe.outcomes if not o.passed)
        return "failed", f"step {failed.step!r}: {failed.reason or failed.status}"

    def _void_figures(self, recipe: RecipeResult | None, reason: str) -> None:
        """A dead device's figures are artefacts of an open circuit: each becomes missing, in
        the results and in the catalog, with the reason."""
        for outcome in recipe.outcomes if recipe is not None else []:
            run = outcome.result
            if run is None or not run.figures:
                continue
            run.figures = {name: Estimate.missing(f.unit, f"device dead: {reason}")
                           for name, f in run.figures.items()}
            if run.run_id:
                self.store.set_figures(run.run_id, run.figures)

    def _skip(self, die: Die, device: DeviceSpec, record: DeviceRecord | None, reason: str
              ) -> DeviceOutcome:
        remeasured = record is not None and record.started > 0
        ids = self._ids(die, device, record.started if record else 0, remeasured)
        self.ledger.append("finished", **ids, status="skipped", reason=reason, runs=[],
                           steps={})
        return DeviceOutcome(die, device.subsite, device.name, "skipped", reason, remeasured)

    def _ids(self, die: Die, device: DeviceSpec, attempt: int, remeasured: bool
             ) -> dict[str, Any]:
        return {"wafer": self.map.wafer, "die": die_id(die), "column": die[0], "row": die[1],
                "subsite": device.subsite, "device": device.name, "attempt": attempt,
                "remeasured": remeasured}

    # -- the prober -------------------------------------------------------------------------
    def _ensure_contact(self, die: Die, subsite: int) -> None:
        """Separate (if not already), step, contact — unless already in contact there."""
        prober = self.station.prober
        if self._at == (die, subsite) and prober.contact_state() == "contact":
            return
        self._at = None
        prober.rearm()
        if prober.contact_state() != "separation":
            prober.separate()
        prober.step_die(die, subsite)
        prober.contact()
        self._at = (die, subsite)

    def _separate(self) -> None:
        self._at = None
        prober = self.station.prober
        if prober.contact_state() != "separation":
            prober.separate()

    def _safe_state(self) -> None:
        """Sources off, relays open, chuck separated (the prober's safe_off separates)."""
        self._at = None
        self.station.safe_state()
        self._separate()


def _fault(recipe: RecipeResult) -> str:
    """The first step that failed on an instrument fault (timeout, error reply), or ""."""
    for outcome in recipe.outcomes:
        if outcome.status == str(RunState.FAILED) and _FAULT.match(outcome.reason or ""):
            return f"step {outcome.step!r}: {outcome.reason}"
    return ""


def run_wafer(station_path: str | Path, map_path: str | Path, recipe_path: str | Path,
              data_dir: str | Path | None = None, resume: bool = False,
              backend: str | None = None, sinks: Sequence[RunSink] = (),
              progress: bool = True) -> WaferResult:
    """Open the station (its backend replaced by `backend`, e.g. "pyvisa-sim"), load map and
    recipe, run the wafer into `data_dir` (default: the store's default root)."""
    from labsyn.station import Station
    from labsyn.station.config import load_station_config

    wafer_map = load_wafer_map(map_path)
    batch = load_batch_recipe(recipe_path)
    config = load_station_config(station_path)
    if backend is not None:
        config = config.model_copy(update={"backend": backend})
    store = Store(Path(data_dir) if data_dir else Store.default_root())
    with Station(config, str(station_path)) as station:
        return WaferRun(station, wafer_map, batch, store, sinks, progress).run(resume=resume)


__all__ = ["DEAD_CURRENT_A", "DeviceOutcome", "WaferResult", "WaferRun", "run_wafer"]
