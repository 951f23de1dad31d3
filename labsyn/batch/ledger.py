"""The per-device ledger of a wafer: `<store root>/batches/<wafer>.jsonl`, append-only, one JSON
object a line, each line flushed and fsynced before the runner goes on. It is the source of
truth for resume and for the results table.

Events (every line has ``event`` and ``time``, ISO 8601 UTC):
- ``wafer``: ``state`` (started | resumed | finished | stopped), ``reason``, ``recipe``,
  ``map`` (source paths), ``fingerprint`` (recipe + map: a resume must match it).
- ``started``: a device is about to be measured: ``wafer, die ("col,row"), column, row,
  subsite, device, attempt, remeasured``.
- ``finished``: the same keys plus ``status`` (passed | failed | dead | skipped), ``reason``,
  ``runs`` (run ids of this attempt, in step order) and ``steps`` (step name -> run id).

A device with a ``started`` but no later ``finished`` was interrupted: it is measured again
and its next records say ``remeasured: true``. The latest ``finished`` of a device is its result.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from labsyn.errors import ConfigError

DeviceKey = tuple[str, str, str]  # (die "col,row", subsite, device)
STATUSES = ("passed", "failed", "dead", "skipped")


def ledger_path(store_root: str | Path, wafer: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in wafer) or "wafer"
    return Path(store_root) / "batches" / f"{safe}.jsonl"


@dataclass
class DeviceRecord:
    """Where a device stands in the ledger."""

    started: int = 0  # attempts begun
    finished: dict[str, Any] | None = None  # the latest `finished` event
    interrupted: bool = False  # the last attempt began and never finished


class Ledger:
    """Append-only JSONL records of one wafer."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @classmethod
    def for_wafer(cls, store_root: str | Path, wafer: str) -> Ledger:
        return cls(ledger_path(store_root, wafer))

    @property
    def exists(self) -> bool:
        return self.path.exists() and self.path.stat().st_size > 0

    def append(self, event: str, **fields: Any) -> dict[str, Any]:
        record = {"event": event, "time": datetime.now(UTC).isoformat(), **fields}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(record, separators=(",", ":")) + "\n"
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        return record

    def events(self) -> Iterator[dict[str, Any]]:
        """Every record in order; a torn last line (a crash mid-write) is ignored."""
        if not self.path.exists():
            return
        with open(self.path, encoding="utf-8") as f:
            lines = f.read().splitlines()
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                if number == len(lines):
                    return
                raise ConfigError(f"{self.path}:{number}: not a ledger record: {line[:80]!r}"
                                  ) from None

    def devices(self) -> dict[DeviceKey, DeviceRecord]:
        """Each device's standing, in the order devices first appear."""
        standing: dict[DeviceKey, DeviceRecord] = {}
        for record in self.events():
            if record.get("event") not in ("started", "finished"):
                continue
            key = (record["die"], record.get("subsite", ""), record["device"])
            entry = standing.setdefault(key, DeviceRecord())
            if record["event"] == "started":
                entry.started += 1
                entry.interrupted = True
            else:
                entry.finished = record
                entry.interrupted = False
        return standing

    def results(self) -> list[dict[str, Any]]:
        """The latest `finished` record of every device that has one (no duplicates)."""
        return [r.finished for r in self.devices().values() if r.finished is not None]

    def wafer_events(self) -> list[dict[str, Any]]:
        return [r for r in self.events() if r.get("event") == "wafer"]

    def fingerprint(self) -> str | None:
        """The fingerprint the first run recorded."""
        return next((r.get("fingerprint") for r in self.wafer_events()
                     if r.get("state") == "started"), None)
