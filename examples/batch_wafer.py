"""A whole wafer from Python: open a station, load a wafer map and a batch recipe, run, get the
per-device table. On the simulated wafer station this takes about a minute; rerun it with
`resume=True` after an interruption.

    python examples/batch_wafer.py [DATA_DIR]
"""

import sys
from pathlib import Path

from labsyn.batch import WaferRun, load_batch_recipe, load_wafer_map
from labsyn.station import Station
from labsyn.store import Store

HERE = Path(__file__).parent
store = Store(sys.argv[1] if len(sys.argv) > 1 else "wafer-data")
with Station.open(HERE / "stations" / "wafer_probe_sim.yaml") as station:
    run = WaferRun(station, load_wafer_map(HERE / "wafer_maps" / "demo_wafer.yaml"),
                   load_batch_recipe(HERE / "recipes" / "wafer_recipe.yaml"), store)
    result = run.run(resume=run.ledger.exists)
table = result.table()
print(table[["column", "row", "device", "status", "forming.v_form"]].to_string(index=False))
print(f"yield {result.running_yield:.0%}, {result.elapsed_virtual_s / 3600:.2f} h instrument time")
