"""The run-related ``labsyn`` commands: run, runs, export, protocols, demo."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from labsyn.engine import LogSink, ProgressBar, Runner, RunResult, RunState
from labsyn.protocols import get_protocol, parse_assignments
from labsyn.protocols.base import describe_parameters
from labsyn.store import DeviceId, Store
from labsyn.store.catalog import RUN_FIELDS

EXIT_FAILED, EXIT_ABORTED = 1, 3


def open_store(args: argparse.Namespace) -> Store:
    return Store(Path(args.data) if args.data else Store.default_root())


def run_protocol(args: argparse.Namespace) -> int:
    from labsyn.batch.recipe import is_recipe_file
    from labsyn.station import Station

    if is_recipe_file(args.protocol):
        return run_recipe_file(args)
    protocol = get_protocol(args.protocol)
    params = protocol.parameters(parse_assignments(args.set or []))
    store = open_store(args)
    with Station.open(args.station) as station:
        runner = Runner(station, protocol, params, store=store,
                        device=DeviceId(args.wafer, args.die, args.device),
                        sinks=[LogSink(), ProgressBar(label=protocol.name)])
        result = runner.run()
    print_figures(result)
    if result.details is not None and len(result.details):
        print(result.details.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"run {result.run_id}: {result.status}{': ' + result.message if result.message else ''}")
    print(f"run file: {result.path}")
    return exit_code(result, getattr(runner, "signals_received", []))


def run_recipe_file(args: argparse.Namespace) -> int:
    """`labsyn run RECIPE.yaml`: every step on one device, a summary line per step."""
    from labsyn.batch import load_recipe, run_recipe
    from labsyn.errors import ConfigError
    from labsyn.station import Station

    if args.set:
        raise ConfigError("--set applies to one protocol; a recipe's parameters are in its "
                          "steps' params")
    recipe = load_recipe(args.protocol)
    store = open_store(args)
    with Station.open(args.station) as station:
        result = run_recipe(recipe, station, store=store,
                            device=DeviceId(args.wafer, args.die, args.device),
                            sinks=[LogSink(), ProgressBar(label=recipe.name)],
                            on_step=_print_outcome)
    verdict = "passed" if result.passed else "aborted" if result.aborted else "did not pass"
    print(f"recipe {recipe.name}: {verdict}")
    return 0 if result.passed else EXIT_ABORTED if result.aborted else EXIT_FAILED


def run_batch(args: argparse.Namespace) -> int:
    """`labsyn batch RECIPE --station FILE --map MAP [--resume] [--dry-run | --sim]`: 0 when
    the wafer ran to its end, 1 when it stopped (yield), 3 when it was aborted."""
    from labsyn.batch.wafer_runner import run_wafer
    from labsyn.errors import ConfigError
    from labsyn.report.wafer_table import write_table

    if args.dry_run or args.sim:
        from labsyn.batch.estimate import dry_run_wafer

        if args.resume:
            raise ConfigError("--resume continues a wafer; a dry run starts from scratch")
        dry_run_wafer(args.station, args.map, args.recipe, sim=args.sim, data_dir=args.data)
        return 0
    store = open_store(args)
    result = run_wafer(args.station, args.map, args.recipe, data_dir=store.root,
                       resume=args.resume)
    counts = ", ".join(f"{s} {result.count(s)}" for s in ("passed", "failed", "dead", "skipped"))
    shown = "–" if result.running_yield is None else f"{result.running_yield:.0%}"
    print(f"wafer {result.wafer}: {len(result.outcomes)} devices ({counts}); yield {shown}")
    if result.stopped:
        print(result.stopped)
    parquet, csv = write_table(result.table(), store.root / "batches" / f"{result.wafer}_devices")
    print(f"device table: {parquet} and {csv}")
    if result.stopped.startswith("aborted"):
        return EXIT_ABORTED
    return EXIT_FAILED if result.stopped else 0


def _print_outcome(outcome: Any) -> None:
    run = outcome.result
    print(f"step {outcome.step} ({outcome.protocol}): {outcome.status}"
          + (f" — {outcome.reason}" if outcome.reason else "")
          + (f" [run {run.run_id}]" if run is not None and run.run_id else ""))
    if run is not None:
        print_figures(run)


def exit_code(result: RunResult, signals: list[int]) -> int:
    """0 completed, 1 failed, 3 aborted, 128 + N when signal N stopped the run."""
    if result.status == RunState.COMPLETED:
        return 0
    if signals:
        return 128 + signals[0]
    return EXIT_ABORTED if result.status == RunState.ABORTED else EXIT_FAILED


def print_figures(result: RunResult) -> None:
    for name, estimate in result.figures.items():
        print(f"  {name:<16} {estimate}")


def list_runs(args: argparse.Namespace) -> int:
    runs = open_store(args).runs(protocol=args.protocol, status=args.status)
    if runs.empty:
        print("no runs")
        return 0
    columns = [c for c in ("run_id", "protocol", "status", "started", "wafer", "die", "device",
                           "rows") if c in runs.columns]
    figures = [c for c in runs.columns if c not in RUN_FIELDS]
    print(runs[columns + figures].tail(args.last).to_string(
        index=False, float_format=lambda v: f"{v:.4g}"))
    return 0


def export_run(args: argparse.Namespace) -> int:
    path = open_store(args).export(args.run, args.format, args.out)
    print(path)
    return 0


def list_protocols(args: argparse.Namespace) -> int:
    from labsyn.protocols import PROTOCOLS

    names = [args.name] if args.name else list(PROTOCOLS)
    for name in names:
        protocol = get_protocol(name)
        print(f"{protocol.name}: {protocol.title}")
        for row in describe_parameters(protocol.Parameters):
            print(f"  {row['name']:<18} {_default(row):>12} {row['unit']:<4} {_bounds(row):<18}"
                  f" {row['help']}")
    return 0


def _default(row: Mapping[str, Any]) -> str:
    value = row["default"]
    return f"{value:g}" if isinstance(value, float) else str(value)


def _bounds(row: Mapping[str, Any]) -> str:
    symbols = {"gt": ">", "ge": "≥", "lt": "<", "le": "≤"}
    return " ".join(f"{symbols[k]}{row[k]:g}" for k in symbols if k in row)


def _demo(args: argparse.Namespace) -> int:
    from labsyn.demo import run_demo

    return run_demo(open_store(args), cycles=args.cycles, device=args.device)


def gui(args: argparse.Namespace) -> int:
    """`labsyn gui`: Qt is imported only here."""
    import logging

    from labsyn.gui.app import run

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return run(args)


def wafer_report(args: argparse.Namespace) -> int:
    """`labsyn report WAFER`: refuse a wafer the store knows nothing of, else write the page."""
    from labsyn.batch.results import ledger_records, report_wafer
    from labsyn.errors import ConfigError

    store = open_store(args)
    if store.runs(wafer=args.wafer).empty and ledger_records(store, args.wafer) is None:
        known = sorted({w for w in store.runs()["wafer"] if w})
        raise ConfigError(f"wafer {args.wafer!r} has no runs in the store at {store.root}; "
                          f"wafers: {', '.join(known) or 'none'}")
    report = report_wafer(store, args.wafer, args.out)
    info = report.summary
    print(f"wafer {args.wafer}: {info['devices']} devices on {info['dies']} dies — "
          f"{info['passed']} passed, {info['failed']} failed, {info['dead']} dead, "
          f"{info['skipped']} skipped; yield {100 * info['yield']:.1f} %")
    for note in report.missing:
        print(f"  map not drawn: {note}")
    print(f"report: {report.page}")
    print(f"table: {report.table_files[0]}\n       {report.table_files[1]}")
    return 0
