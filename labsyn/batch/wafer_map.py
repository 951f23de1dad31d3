"""Wafer maps: the dies to probe (in order), the devices on every die with their pads, the
contact-test structure per die and the dies to skip; read from YAML or CSV, validated on load.

```yaml
wafer: W01                      # wafer id stored with every run
dies:                           # probing order: a list [[col, row], ...] or a grid
  grid: {columns: [-4, 4], rows: [-4, 4]}     # row by row, serpentine
  within_radius: 4.2            # optional: keep dies with sqrt(col² + row²) <= r
skip: [[0, 4]]                  # optional: dies not probed
devices:                        # the same devices on every die: DUT terminal -> matrix pad
  - {name: D1, pads: {TE: D1.TE, BE: D1.BE}}
  - {name: D2, pads: {TE: D2.TE, BE: D2.BE}, subsite: ""}
contact_test: {name: R1, pads: {TE: R1.TE, BE: R1.BE}, resistance: 10000.0, tolerance: 0.3,
               read_voltage: 0.1}
```
The CSV form holds one die per row, ``column,row[,skip]`` (skip: 1/yes/true), in probing
order; everything else (wafer, devices, contact_test) is YAML in the file's leading ``#``
comment lines, e.g. ``# wafer: W01`` and ``# devices: [{name: D1, pads: {TE: D1.TE}}]``.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from labsyn.errors import ConfigError
from labsyn.yaml_source import Lines, line_numbers, line_of, load_yaml

Die = tuple[int, int]
MAP_KEYS = ("wafer", "dies", "skip", "devices", "contact_test")
DEVICE_KEYS = ("name", "pads", "subsite")
CONTACT_KEYS = ("name", "pads", "subsite", "resistance", "tolerance", "read_voltage")
GROUND_INPUTS = ("gnd", "ground", "GND")


@dataclass(frozen=True)
class DeviceSpec:
    """A device on every die: its name, DUT terminal -> pad, and the prober subsite."""

    name: str
    pads: dict[str, str]
    subsite: str = ""

    @property
    def prober_subsite(self) -> int:
        return int(self.subsite) if self.subsite.strip().isdigit() else 0


@dataclass(frozen=True)
class ContactTest(DeviceSpec):
    """A resistor structure on every die: a die whose reading misses R ± tolerance is skipped."""

    resistance: float = 10e3
    tolerance: float = 0.3
    read_voltage: float = 0.1

    def accepts(self, ohms: float) -> bool:
        return abs(ohms - self.resistance) <= self.tolerance * self.resistance


@dataclass(frozen=True)
class WaferMap:
    wafer: str
    dies: tuple[Die, ...]
    devices: tuple[DeviceSpec, ...]
    contact_test: ContactTest | None = None
    skip: frozenset[Die] = field(default_factory=frozenset)
    source: str = "<wafer map>"

    @property
    def probed_dies(self) -> tuple[Die, ...]:
        return tuple(d for d in self.dies if d not in self.skip)

    @property
    def device_count(self) -> int:
        return len(self.probed_dies) * len(self.devices)

    def fingerprint(self) -> str:
        """What a resumed run must match: wafer, dies, skips, devices."""
        return repr((self.wafer, self.dies, sorted(self.skip),
                     [(d.name, sorted(d.pads.items()), d.subsite) for d in self.devices]))


def die_id(die: Die) -> str:
    """The die as the store keeps it: "col,row"."""
    return f"{die[0]},{die[1]}"


def load_wafer_map(path: str | Path) -> WaferMap:
    """Read and validate a wafer map (.yaml/.yml or .csv); `ConfigError` names line and key."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        return _load_csv(path)
    data, lines = load_yaml(path, "wafer map")
    return parse_wafer_map(data, str(path), lines)


def parse_wafer_map(data: Any, source: str = "<wafer map>", lines: Lines | None = None,
                    dies: list[Die] | None = None, skip: list[Die] | None = None) -> WaferMap:
    lines = lines or {}

    def fail(loc: tuple[str, ...], message: str) -> ConfigError:
        return ConfigError(f"{source}:{line_of(lines, loc)}: {'.'.join(loc) or 'map'}: {message}")

    if not isinstance(data, dict):
        raise fail((), f"a wafer map is a mapping with keys {', '.join(MAP_KEYS)}")
    for key in data:
        if key not in MAP_KEYS:
            raise fail((str(key),), f"unknown key; a wafer map has keys {', '.join(MAP_KEYS)}")
    wafer = str(data.get("wafer") or "").strip()
    if not wafer:
        raise fail(("wafer",), "the wafer id is required (stored with every run), e.g. W01")
    if dies is None:
        dies = _dies(data.get("dies"), fail)
    if len(set(dies)) != len(dies):
        twice = next(d for d in dies if dies.count(d) > 1)
        raise fail(("dies",), f"die {list(twice)} is listed twice")
    skipped = set(skip or []) | set(_die_list(data.get("skip") or [], ("skip",), fail))
    unknown = skipped - set(dies)
    if unknown:
        raise fail(("skip",), f"die {list(sorted(unknown)[0])} is not among the dies")
    raw_devices = data.get("devices")
    if not isinstance(raw_devices, list) or not raw_devices:
        raise fail(("devices",), "a non-empty list of {name, pads: {TE: pad, BE: pad}}")
    devices = tuple(_device(raw, ("devices", str(i)), fail) for i, raw in enumerate(raw_devices))
    names = [(d.name, d.subsite) for d in devices]
    if len(set(names)) != len(names):
        raise fail(("devices",), "two devices share a name (and subsite)")
    contact = None
    if data.get("contact_test") is not None:
        contact = _device(data["contact_test"], ("contact_test",), fail, contact=True)
    if not [d for d in dies if d not in skipped]:
        raise fail(("dies",), "no die left to probe")
    return WaferMap(wafer, tuple(dies), devices, contact, frozenset(skipped), source)


def _dies(raw: Any, fail: Callable[..., ConfigError]) -> list[Die]:
    if isinstance(raw, list):
        return _die_list(raw, ("dies",), fail)
    if not isinstance(raw, dict) or "grid" not in raw:
        raise fail(("dies",), "a list [[col, row], ...] or {grid: {columns: [lo, hi], rows: "
                   "[lo, hi]}, within_radius: r}")
    for key in raw:
        if key not in ("grid", "within_radius"):
            raise fail(("dies", str(key)), "unknown key; allowed: grid, within_radius")
    grid = raw["grid"]
    spans = {}
    for axis in ("columns", "rows"):
        span = grid.get(axis) if isinstance(grid, dict) else None
        if not (isinstance(span, list) and len(span) == 2 and all(_is_int(v) for v in span)
                and span[0] <= span[1]):
            raise fail(("dies", "grid", axis), "[low, high], integers with low <= high")
        spans[axis] = range(span[0], span[1] + 1)
    if set(grid) - {"columns", "rows"}:
        raise fail(("dies", "grid", sorted(set(grid) - {"columns", "rows"})[0]),
                   "unknown key; a grid has columns and rows")
    radius = raw.get("within_radius")
    if radius is not None and not (isinstance(radius, int | float) and radius > 0):
        raise fail(("dies", "within_radius"), f"{radius!r}: a positive number (dies)")
    dies: list[Die] = []
    for k, row in enumerate(reversed(spans["rows"])):  # top row first, serpentine
        columns = spans["columns"] if k % 2 == 0 else reversed(spans["columns"])
        dies += [(c, row) for c in columns if radius is None or math.hypot(c, row) <= radius]
    return dies


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _die_list(raw: Any, loc: tuple[str, ...], fail: Callable[..., ConfigError]) -> list[Die]:
    if not isinstance(raw, list):
        raise fail(loc, "a list of [col, row]")
    dies = []
    for i, item in enumerate(raw):
        if not (isinstance(item, list | tuple) and len(item) == 2 and all(map(_is_int, item))):
            raise fail((*loc, str(i)), f"{item!r} is not a die [col, row] (integers)")
        dies.append((int(item[0]), int(item[1])))
    return dies


def _device(raw: Any, loc: tuple[str, ...], fail: Callable[..., ConfigError],
            contact: bool = False) -> Any:
    allowed = CONTACT_KEYS if contact else DEVICE_KEYS
    if not isinstance(raw, dict) or "name" not in raw or "pads" not in raw:
        raise fail(loc, "a mapping with name and pads: {TE: pad, BE: pad}")
    for key in raw:
        if key not in allowed:
            raise fail((*loc, str(key)), f"unknown key; allowed: {', '.join(allowed)}")
    pads = raw["pads"]
    if not isinstance(pads, dict) or not pads or not all(isinstance(v, str) for v in
                                                         pads.values()):
        raise fail((*loc, "pads"), "a mapping DUT terminal -> matrix pad name, e.g. "
                   "{TE: D1.TE, BE: D1.BE}")
    common = {"name": str(raw["name"]), "pads": {str(k): v for k, v in pads.items()},
              "subsite": str(raw.get("subsite") or "")}
    if not contact:
        return DeviceSpec(**common)
    numbers = {}
    for key, low, high in (("resistance", 0.0, 1e12), ("tolerance", 0.0, 10.0),
                           ("read_voltage", 0.0, 10.0)):
        value = raw.get(key, getattr(ContactTest, key))
        if isinstance(value, bool) or not isinstance(value, int | float) or \
                not low < value <= high:
            raise fail((*loc, key), f"{value!r}: a number in ({low:g}, {high:g}]")
        numbers[key] = float(value)
    return ContactTest(**common, **numbers)


def _load_csv(path: Path) -> WaferMap:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read wafer map: {exc.strerror}") from None
    header = [line[1:] for line in text.splitlines() if line.startswith("#")]
    head_text = "\n".join(header)
    try:
        data = yaml.safe_load(head_text) or {}
        lines = line_numbers(yaml.compose(head_text)) if header else {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: the # header is not valid YAML: {exc}") from None
    dies: list[Die] = []
    skip: list[Die] = []
    body = [(n, line) for n, line in enumerate(text.splitlines(), 1)
            if line.strip() and not line.startswith("#")]
    for number, line in body:
        row = next(csv.reader(io.StringIO(line)))
        cells = [c.strip() for c in row]
        if cells[:2] == ["column", "row"]:
            continue
        try:
            die = (int(cells[0]), int(cells[1]))
        except (ValueError, IndexError):
            raise ConfigError(f"{path}:{number}: {line!r} is not column,row[,skip]") from None
        dies.append(die)
        if len(cells) > 2 and cells[2].lower() in ("1", "yes", "true", "skip"):
            skip.append(die)
    if isinstance(data, dict) and "dies" in data:
        raise ConfigError(f"{path}: the dies are the CSV rows; remove `dies` from the header")
    return parse_wafer_map(data, str(path), {k: v for k, v in lines.items()}, dies, skip)


def check_wafer_map(wafer_map: WaferMap, station: Any) -> None:
    """Every pad of every device can be routed on `station` (nothing is sent)."""
    for device in (*wafer_map.devices, *([wafer_map.contact_test]
                                         if wafer_map.contact_test else [])):
        connections(device, station, wafer_map.source)


def connections(device: DeviceSpec, station: Any, source: str = "wafer map") -> dict[str, str]:
    """`station.route` argument for `device`: each pad -> its terminal's instrument channel; a
    grounded terminal's pad -> the matrix's ground input (or nothing, if the pad is not cabled
    to the matrix: then it is hard-wired to ground)."""
    config = station.config
    wiring = config.matrix
    routes: dict[str, str] = {}
    for terminal, pad in device.pads.items():
        where = f"{source}: device {device.name!r} pad {pad!r} ({terminal})"
        wire = config.terminals.get(terminal)
        if wire is None:
            raise ConfigError(f"{where}: terminal {terminal} is not wired on station "
                              f"{config.name!r}; wired: {', '.join(config.terminals)}")
        cabled = wiring is not None and pad in wiring.pads
        if wire == "ground":
            if not cabled:
                continue
            ground = next((g for g in GROUND_INPUTS if g in wiring.inputs), None)
            if ground is None:
                raise ConfigError(f"{where}: {terminal} is grounded but the matrix has no "
                                  f"ground input ({' / '.join(GROUND_INPUTS)}) in matrix.inputs")
            routes[pad] = ground
            continue
        if not cabled:
            pads = ", ".join(wiring.pads) if wiring is not None else "no matrix"
            raise ConfigError(f"{where}: not cabled to the matrix of station {config.name!r} "
                              f"(matrix.pads: {pads})")
        channel = f"{wire.instrument}.{wire.channel}"
        if channel not in wiring.inputs:
            raise ConfigError(f"{where}: {channel} is not cabled to the matrix (matrix.inputs: "
                              f"{', '.join(wiring.inputs)})")
        routes[pad] = channel
    return routes
