"""The ``labsyn`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from labsyn import __version__
from labsyn.errors import LabsynError


def _instruments(args: argparse.Namespace) -> int:
    from labsyn.station import Station

    with Station.open(args.station) as station:
        snapshot = station.snapshot()
        print(f"station {snapshot['station']} ({snapshot['backend']})")
        for name, info in snapshot["instruments"].items():
            badge = " [simulated]" if info["simulated"] else ""
            print(f"  {name:<10} {info['driver']:<16} {info['address']:<28} {info['idn']}{badge}")
        for terminal, wire in snapshot["terminals"].items():
            target = wire if isinstance(wire, str) else f"{wire['instrument']} ch{wire['channel']}"
            print(f"  terminal {terminal:<4} -> {target}")
    return 0


def _sim_serve(args: argparse.Namespace) -> int:
    from labsyn.mock_instruments.server import run_until_interrupted, serve_bench
    from labsyn.station.config import load_station_config
    from labsyn.station.simulated import build_bench

    config = load_station_config(args.station)
    config = config.model_copy(update={"clock": "real"})
    bench = build_bench(config)
    server = serve_bench(bench, host=args.host, port=args.port)
    run_until_interrupted(server)
    return 0


def add_run_commands(commands: Any) -> None:
    """Register run, runs, export, protocols and demo on the `labsyn` parser."""
    run = commands.add_parser("run", help="run a protocol or a recipe on a station")
    run.add_argument("protocol", help="protocol name (labsyn protocols lists them) or a "
                     "recipe file (RECIPE.yaml)")
    run.add_argument("--station", required=True, help="station YAML file")
    run.add_argument("--set", action="append", metavar="KEY=VALUE",
                     help="a protocol parameter (repeatable), e.g. --set v_max=3.5")
    for key in ("wafer", "die", "device"):
        run.add_argument(f"--{key}", default="", help=f"{key} id stored with the run")
    _data_option(run)
    run.set_defaults(handler=_lazy("run_protocol"))
    runs = commands.add_parser("runs", help="list stored runs and their figures of merit")
    runs.add_argument("--protocol", help="only this protocol")
    runs.add_argument("--status", help="only this status (completed, aborted, failed, ...)")
    runs.add_argument("--last", type=int, default=50, help="show the last N runs")
    _data_option(runs)
    runs.set_defaults(handler=_lazy("list_runs"))
    export = commands.add_parser("export", help="export a run's data")
    export.add_argument("run", help="run id (or a unique prefix)")
    export.add_argument("--format", required=True, choices=("csv", "parquet", "qcodes"))
    export.add_argument("--out", help="destination file (default: <data>/exports/)")
    _data_option(export)
    export.set_defaults(handler=_lazy("export_run"))
    protocols = commands.add_parser("protocols", help="list protocols and their parameters")
    protocols.add_argument("name", nargs="?", help="one protocol")
    protocols.set_defaults(handler=_lazy("list_protocols"))
    demo = commands.add_parser("demo", help="characterise a simulated synapse (forming, I-V, "
                               "LTP/LTD, PPF, retention, endurance) and write a report page")
    demo.add_argument("--cycles", type=int, default=5, help="I-V loops after forming")
    demo.add_argument("--device", type=int, default=0, help="simulated device index (seed)")
    _data_option(demo)
    demo.set_defaults(handler=_lazy("_demo"))


def _data_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", help="data directory (default: $LABSYN_DATA or "
                        "~/.local/share/labsyn)")


def _lazy(name: str) -> Any:
    """A handler in labsyn.commands, imported when the command runs (not for --help or sim)."""
    def handler(args: argparse.Namespace) -> int:
        from labsyn import commands

        return int(getattr(commands, name)(args))
    return handler


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="labsyn", description=__doc__)
    parser.add_argument("--version", action="version", version=f"labsyn {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    instruments = commands.add_parser("instruments", help="open a station, list its instruments")
    instruments.add_argument("--station", required=True, help="station YAML file")
    instruments.set_defaults(handler=_instruments)
    sim = commands.add_parser("sim", help="the simulated bench")
    sim_commands = sim.add_subparsers(dest="sim_command", required=True)
    serve = sim_commands.add_parser("serve", help="serve a station's simulated instruments on "
                                    "loopback TCP sockets (raw SCPI), real-time clock")
    serve.add_argument("station", help="station YAML file (its sim: section)")
    serve.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    serve.add_argument("--port", type=int, default=0, help="first port (0 = any free port)")
    serve.set_defaults(handler=_sim_serve)
    add_run_commands(commands)
    add_batch_command(commands)
    add_gui_command(commands)
    add_report_command(commands)
    return parser


def add_batch_command(commands: Any) -> None:
    """`labsyn batch RECIPE --station FILE --map MAP`: a whole wafer, resumable."""
    batch = commands.add_parser("batch", help="run a batch recipe on every device of a wafer "
                                "map (resumable), or dry run it")
    batch.add_argument("recipe", help="batch recipe (RECIPE.yaml: steps and a wafer: section)")
    batch.add_argument("--station", required=True, help="station YAML file")
    batch.add_argument("--map", required=True, help="wafer map (.yaml or .csv)")
    batch.add_argument("--resume", action="store_true", help="continue an interrupted wafer "
                       "from its ledger (safe state and separation first)")
    mode = batch.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="the whole wafer on stock "
                      "pyvisa-sim; prints the estimated wall time of the real run")
    mode.add_argument("--sim", action="store_true", help="the whole wafer on the physics "
                      "simulator with a simulated wafer")
    _data_option(batch)
    batch.set_defaults(handler=_lazy("run_batch"))


def add_gui_command(commands: Any) -> None:
    """`labsyn gui`: its options are declared here so `--help` needs no Qt."""
    gui = commands.add_parser("gui", help="the bench measurement window (PySide6)")
    gui.add_argument("--station", help="station YAML file (default: the last one, else the "
                     "simulated demo bench)")
    _data_option(gui)
    gui.add_argument("--close-after-start", action="store_true",
                     help="testing: start the picked job, close the window once it runs")
    gui.add_argument("--start", action="store_true",
                     help="start the picked job as soon as the window is up")
    gui.set_defaults(handler=_lazy("gui"))


def add_report_command(commands: Any) -> None:
    """`labsyn report WAFER`: the wafer's device table and report page from the store."""
    report = commands.add_parser("report", help="a wafer's device table (Parquet, CSV) and "
                                 "report page (HTML, PNG heat maps) from the stored runs")
    report.add_argument("wafer", help="wafer id, as stored with its runs")
    _data_option(report)
    report.add_argument("--out", help="report folder (default: <data>/reports/<wafer>/)")
    report.set_defaults(handler=_lazy("wafer_report"))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except LabsynError as exc:
        print(f"labsyn: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
