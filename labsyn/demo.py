"""`labsyn demo`: characterise one simulated synapse on the demo bench (a Keithley 2450 on an
HfOx RRAM cell) with the demo recipe, print the figures of merit and write one report page."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from labsyn.batch import load_recipe, run_recipe
from labsyn.batch.recipe_runner import RecipeResult, StepOutcome
from labsyn.engine import ProgressBar
from labsyn.protocols import get_protocol
from labsyn.report import Panel, plot_run, report_page
from labsyn.station import Station
from labsyn.station.config import load_station_config
from labsyn.store import DeviceId, Store

DEMO_PRESET = "hfox_slow"  # the HfOx cell with ms-scale volatile states an SMU can resolve


def demo_recipe_path() -> Path:
    return Path(str(files("labsyn") / "demo_recipe.yaml"))


def run_demo(store: Store, cycles: int = 5, device: int = 0) -> int:
    config = load_station_config(Path(str(files("labsyn.station") / "demo_station.yaml")))
    config = config.model_copy(update={"sim": config.sim.model_copy(
        update={"device_index": device, "preset": DEMO_PRESET})})
    recipe = load_recipe(demo_recipe_path()).with_overrides({"iv-sweep": {"cycles": cycles}})
    ids = DeviceId(wafer=f"sim-{config.sim.wafer_seed}", die=f"{config.sim.die[0]},"
                   f"{config.sim.die[1]}", device=str(device))
    print(f"labsyn demo: a simulated Keithley 2450 on one HfOx RRAM cell (wafer seed "
          f"{config.sim.wafer_seed}, die {ids.die}, device {device}); recipe "
          f"{recipe.name}: {' → '.join(s.name for s in recipe.steps)}\n")
    with Station(config, "labsyn demo bench") as station:
        result = run_recipe(recipe, station, store=store, device=ids,
                            sinks=[ProgressBar(label="demo")], on_step=_print_step)
    if not result.passed:
        failed = next(o for o in result.outcomes if not o.passed)
        print(f"\ndemo stopped at {failed.step}: {failed.status} {failed.reason}")
        return 1
    _report(store, result, device)
    return 0


def _print_step(outcome: StepOutcome) -> None:
    run = outcome.result
    title = get_protocol(outcome.protocol).title
    print(f"\n{title} ({outcome.step}): {outcome.status}"
          + (f" — {outcome.reason}" if outcome.reason else ""))
    for name, estimate in (run.figures.items() if run is not None else ()):
        print(f"  {name:<22} {estimate}")


def _report(store: Store, result: RecipeResult, device: int) -> None:
    dest = store.root / "reports"
    panels, paths = [], []
    for outcome in result.outcomes:
        run = outcome.result
        if run is None:
            continue
        protocol = get_protocol(outcome.protocol)
        loaded = store.load(run.run_id)
        units = {c.name: c.unit for c in loaded.columns}
        paths += plot_run(loaded.data, protocol.plots, units, dest, run.run_id,
                          title=f"device {device}", fits=run.fits)
        for spec in protocol.plots:
            panels.append(Panel(spec.title, loaded.data, spec, units, run.fits.get(spec.name),
                                run.figures))
    png, page = report_page(panels, dest, f"demo-device-{device}",
                            f"labsyn demo — simulated HfOx synapse, device {device}")
    print("\nReport page:")
    print(f"  {png}\n  {page}")
    print("\nFigures:")
    for path in paths:
        print(f"  {path}")
    print(f"\nRun files (HDF5, one per run; catalog: labsyn runs --data {store.root}):")
    for outcome in result.outcomes:
        if outcome.result is not None:
            print(f"  {outcome.result.path}")
    last = result.outcomes[-1].result
    if last is not None:
        print(f"\nLoad one into pandas:\n  python -c \"from labsyn.store import Store; "
              f"print(Store('{store.root}').load('{last.run_id}').data)\"")
