"""`labsyn demo`: form a simulated HfOx RRAM cell, run I-V loops, print and plot the figures."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from labsyn.engine import ProgressBar, Runner, RunResult, RunState
from labsyn.protocols import Protocol
from labsyn.protocols.forming import Forming
from labsyn.protocols.iv_sweep import QUANTITIES, IVSweep
from labsyn.report import plot_run
from labsyn.station import Station
from labsyn.station.config import load_station_config
from labsyn.store import DeviceId, Store

LABELS = {"v_set": "V_set (V)", "v_reset": "V_reset (V)", "r_lrs": "R_LRS (Ω)",
          "r_hrs": "R_HRS (Ω)", "on_off": "on/off"}


def run_demo(store: Store, cycles: int = 5, device: int = 0) -> int:
    config = load_station_config(Path(str(files("labsyn.station") / "demo_station.yaml")))
    config = config.model_copy(update={"sim": config.sim.model_copy(
        update={"device_index": device})})
    ids = DeviceId(wafer=f"sim-{config.sim.wafer_seed}", die=f"{config.sim.die[0]},"
                   f"{config.sim.die[1]}", device=str(device))
    print(f"labsyn demo: a simulated Keithley 2450 on one HfOx RRAM cell "
          f"(wafer seed {config.sim.wafer_seed}, die {ids.die}, device {device})\n")
    results: list[tuple[Protocol, RunResult]] = []
    with Station(config, "labsyn demo bench") as station:
        for protocol, params in ((Forming(), {}), (IVSweep(), {"cycles": cycles})):
            runner = Runner(station, protocol, params, store=store, device=ids,
                            sinks=[ProgressBar(label=protocol.name)])
            result = runner.run()
            results.append((protocol, result))
            if result.status != RunState.COMPLETED:
                print(f"{protocol.name} {result.status}: {result.message}")
                return 1
            if protocol.name == "forming" and not result.figures["v_form"].ok:
                print(f"the device did not form: {result.figures['v_form'].reason}")
                return 1
    _print_forming(results[0][1])
    _print_switching(results[1][1])
    print("\nFigures:")
    for protocol, result in results:
        loaded = store.load(result.run_id)
        units = {c.name: c.unit for c in loaded.columns}
        for path in plot_run(loaded.data, protocol.plots, units, store.root / "reports",
                             result.run_id, title=f"device {device}", fits=result.fits):
            print(f"  {path}")
    print("\nRun files (HDF5, one per run; catalog: labsyn runs --data "
          f"{store.root}):")
    for _, result in results:
        print(f"  {result.path}")
    print(f"\nLoad one into pandas:\n  python -c \"from labsyn.store import Store; "
          f"print(Store('{store.root}').load('{results[1][1].run_id}').data)\"")
    return 0


def _print_forming(result: RunResult) -> None:
    f = result.figures
    print("\nElectroforming (DC ramp 0 → 4 V in 20 mV steps, 100 µA compliance)")
    for name, label in (("v_form", "V_form"), ("r_before", "R before"),
                        ("r_after", "R after")):
        print(f"  {label:<10} {f[name]}")


def _print_switching(result: RunResult) -> None:
    details = result.details
    print(f"\nI-V switching ({len(details)} loops, +1.5 V / −1.6 V, SET compliance 500 µA, "
          "R read at 0.2 V)")
    header = "  cycle " + "".join(f"{LABELS[q]:>14}" for q in QUANTITIES)
    print(header)
    for _, row in details.iterrows():
        print(f"  {int(row['cycle']):>5} " + "".join(_cell(row[q]) for q in QUANTITIES))
    print("  mean  " + "".join(_cell(result.figures[q].value) for q in QUANTITIES))
    print()
    for q, label in (("v_set", "V_set"), ("v_reset", "V_reset"), ("on_off", "on/off")):
        print(f"  {label:<8} {result.figures[q]}")


def _cell(value: float | None) -> str:
    if value is None or value != value:
        return f"{'—':>14}"
    return f"{value:>14.4g}"
