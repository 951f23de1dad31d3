"""Endurance: SET pulse, read, RESET pulse, read, for up to 1e8 cycles, streamed in blocks.

One instrument-side train per block of `block_cycles` cycles (amplitudes alternating +v_set,
−v_reset, a read after each pulse: `reads: every`), or log-spaced read cycles with read-less
trains in between (`reads: log`; the `log_spaced` column says the rows are samples). A RESET
pulse first, so cycling starts from HRS. Failure (window below `min_window`, stuck at LRS/HRS
for `stuck_cycles` cycles) is tracked online (`EnduranceTracker`); with `stop_at_failure` the run
ends at the block where it fired. The analysis reads the run file block by block
(`analyse_blocks`), so memory stays flat however long the run.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd

from labsyn.analysis.endurance import FIGURES, EnduranceTracker
from labsyn.drivers.sequence import PulseTrain, Sequence
from labsyn.errors import ConfigError
from labsyn.store import Column

from .base import Analysis, PlotSpec, Protocol, param
from .common import ReadingParameters, check_sequence, with_station_series_resistance
from .pulsing import PulsePath, PulseReads, WriteRead

CHECKED = ("v_set, v_reset, width, period, read_level, read_delay, compliance, nplc, "
           "block_cycles")


class EnduranceParameters(ReadingParameters):
    cycles: int = param(1000, "", "SET/RESET cycles", ge=1, le=100_000_000)
    block_cycles: int = param(2000, "", "cycles per instrument-side train (one data block)",
                              ge=1, le=50_000)
    v_set: float = param(1.3, "V", "SET pulse amplitude at the device", gt=0.0, le=20.0)
    v_reset: float = param(1.5, "V", "RESET pulse magnitude at the device (applied negative)",
                           gt=0.0, le=20.0)
    width: float = param(1e-3, "s", "pulse width", gt=0.0, le=1.0)
    period: float = param(8e-3, "s", "one pulse every period", gt=0.0, le=10.0)
    read_level: float = param(0.1, "V", "read voltage after each pulse", gt=0.0, le=1.0)
    read_delay: float = param(5e-3, "s", "pulse end to read (the volatile part decays)",
                              ge=0.0, le=1.0)
    compliance: float = param(1e-3, "A", "current limit of pulses and reads", gt=0.0, le=1.0)
    nplc: float = param(0.01, "PLC", "integration time per read", ge=0.01, le=10.0)
    reads: Literal["every", "log"] = param("every", "", "read every cycle, or log-spaced "
                                           "cycles only (cycling without reads in between)")
    reads_per_decade: int = param(10, "", "read cycles per decade with reads: log", ge=1,
                                  le=1000)
    min_window: float = param(10.0, "", "fail when R_HRS/R_LRS falls below this", gt=1.0,
                              le=1e6)
    stuck_cycles: int = param(100, "cycles", "fail when stuck at LRS or HRS this long", ge=1,
                              le=100_000_000)
    window_reads: int = param(10, "", "consecutive reads below min_window that confirm a "
                              "window failure (single HRS reads are noisy)", ge=1, le=10_000)
    stop_at_failure: bool = param(True, "", "end the run at the block where failure fired")


class Endurance(Protocol):
    name: ClassVar[str] = "endurance"
    title: ClassVar[str] = "Endurance (SET/RESET cycling)"
    Parameters = EnduranceParameters
    columns: ClassVar[tuple[Column, ...]] = (
        Column("cycle", "", "i8", "cycle number, from 1"),
        Column("time", "s", "f8", "instrument time of the read after SET"),
        Column("r_lrs", "Ω", "f8", "read after SET, series resistance subtracted"),
        Column("r_hrs", "Ω", "f8", "read after RESET, series resistance subtracted"),
        Column("i_lrs", "A", "f8", "read current after SET"),
        Column("i_hrs", "A", "f8", "read current after RESET"),
        Column("limited", "", "bool", "a read of this cycle was in compliance"),
        Column("log_spaced", "", "bool", "a log-spaced sample: the cycles before it were "
               "not read"),
    )
    plots: ClassVar[tuple[PlotSpec, ...]] = (
        PlotSpec("r_lrs", "R_LRS vs cycle", "cycle", "r_lrs", x_log=True, y_log=True),
        PlotSpec("r_hrs", "R_HRS vs cycle", "cycle", "r_hrs", x_log=True, y_log=True),
    )
    figures: ClassVar[dict[str, str]] = dict(FIGURES)
    streams_analysis: ClassVar[bool] = True

    def resolve(self, params: Any, station: Any) -> Any:
        return with_station_series_resistance(params, station, self.terminal)

    def check(self, params: EnduranceParameters, station: Any) -> None:
        path = PulsePath(station, self.name)
        path.check(self._train(params, min(params.block_cycles, params.cycles)), CHECKED)
        if params.reads == "log":
            if path.kind != "smu":
                raise ConfigError(f"{self.name}: reads = log cycles without reads, which needs "
                                  f"an SMU writing on {self.terminal}; this station writes with "
                                  "a pulse generator (use reads = every)")
            check_sequence(station, self._silent(params, min(params.block_cycles,
                                                             params.cycles)), self.name, CHECKED)

    @staticmethod
    def _train(p: EnduranceParameters, cycles: int) -> WriteRead:
        return WriteRead((p.v_set, -p.v_reset) * cycles, p.width, p.period, p.read_level,
                         p.read_delay, p.compliance, p.nplc, "endurance")

    def _silent(self, p: EnduranceParameters, cycles: int) -> Sequence:
        """A read-less train of `cycles` cycles (reads: log)."""
        train = PulseTrain((p.v_set, -p.v_reset) * cycles, p.width, p.period, p.compliance,
                           label="endurance cycling")
        return Sequence(self.terminal, (train,), p.nplc)

    def run(self, ctx: Any) -> None:
        p: EnduranceParameters = ctx.params
        path = PulsePath(ctx.station, self.name)
        tracker = _tracker(p)
        condition = WriteRead((-p.v_reset,), p.width, p.period, p.read_level, p.read_delay,
                              p.compliance, p.nplc, "endurance condition")
        path.run(condition, ctx.should_abort)
        plan = read_cycles(p.cycles, p.reads_per_decade) if p.reads == "log" else None
        done = 0
        while done < p.cycles:
            ctx.checkpoint()
            if plan is None:
                n = min(p.block_cycles, p.cycles - done)
                reads = path.run(self._train(p, n), ctx.should_abort)
                rows = self._rows(reads, done + 1, p, log_spaced=False)
                done += n
            else:
                target = int(plan[np.searchsorted(plan, done + 1)])
                while done < target - 1:
                    ctx.checkpoint()
                    n = min(p.block_cycles, target - 1 - done)
                    ctx.station.terminal(self.terminal).driver.run(self._silent(p, n),
                                                                   ctx.should_abort)
                    done += n
                reads = path.run(self._train(p, 1), ctx.should_abort)
                rows = self._rows(reads, target, p, log_spaced=True)
                done = target
            if len(rows["cycle"]):
                ctx.emit(rows)
                tracker.update(rows["cycle"], rows["r_lrs"], rows["r_hrs"])
            ctx.progress(done, p.cycles, f"{done} of {p.cycles} cycles")
            if reads.aborted:
                ctx.checkpoint()
            if p.stop_at_failure and tracker.failure is not None and not ctx.dry_run:
                ctx.log(f"failure at cycle {tracker.failure.cycle}: {tracker.failure.detail}")
                break

    def _rows(self, reads: PulseReads, first: int, p: EnduranceParameters,
              log_spaced: bool) -> dict[str, np.ndarray]:
        """One row per complete cycle read (an odd trailing read is dropped)."""
        n = len(reads) // 2
        i_lrs, i_hrs = reads.current[0:2 * n:2], reads.current[1:2 * n:2]
        v_lrs, v_hrs = reads.voltage[0:2 * n:2], reads.voltage[1:2 * n:2]
        r_s = p.series_resistance or 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            r_lrs = np.where(i_lrs > 0, v_lrs / i_lrs - r_s, np.nan)
            r_hrs = np.where(i_hrs > 0, v_hrs / i_hrs - r_s, np.nan)
        if p.reads == "log":
            cycles = np.full(n, first, dtype=np.int64)
        else:
            cycles = first + np.arange(n, dtype=np.int64)
        return {"cycle": cycles, "time": reads.time[0:2 * n:2], "r_lrs": r_lrs, "r_hrs": r_hrs,
                "i_lrs": i_lrs, "i_hrs": i_hrs,
                "limited": reads.limited[0:2 * n:2] | reads.limited[1:2 * n:2],
                "log_spaced": np.full(n, log_spaced)}

    def analyse(self, data: pd.DataFrame, params: EnduranceParameters) -> Analysis:
        return self.analyse_blocks([data], params)

    def analyse_blocks(self, blocks: Iterable[pd.DataFrame],
                       params: EnduranceParameters) -> Analysis:
        """The figures from the data read block by block (flat memory)."""
        tracker = _tracker(params)
        for block in blocks:
            tracker.update(block["cycle"].to_numpy(), block["r_lrs"].to_numpy(),
                           block["r_hrs"].to_numpy())
        figures = tracker.figures()
        fits: dict[str, pd.DataFrame] = {}
        failure = tracker.failure
        start = (figures["r_lrs_start"], figures["r_hrs_start"])
        if failure is not None and all(e.ok for e in start):
            low, high = start[0].value / 3, start[1].value * 3  # type: ignore[operator]
            label = f"failure at cycle {failure.cycle} ({failure.criterion})"
            for name in ("r_lrs", "r_hrs"):
                fits[name] = pd.DataFrame({"cycle": [failure.cycle, failure.cycle],
                                           name: [low, high], "label": [label, label]})
        return Analysis(figures, fits=fits)


def _tracker(p: EnduranceParameters) -> EnduranceTracker:
    return EnduranceTracker(min_window=p.min_window, stuck_cycles=p.stuck_cycles,
                            confirm=p.window_reads)


def read_cycles(cycles: int, per_decade: int) -> np.ndarray:
    """Log-spaced cycle numbers from 1 to `cycles` (both included), `per_decade` a decade."""
    steps = int(np.floor(np.log10(cycles) * per_decade)) + 1
    spaced = np.floor(10 ** (np.arange(steps) / per_decade) + 1e-9).astype(np.int64)
    return np.unique(np.concatenate((spaced, [cycles])))
