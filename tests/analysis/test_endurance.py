"""Endurance figures computed online: failure criteria, streaming invariance, degenerate data."""

from __future__ import annotations

import numpy as np
import pytest

from labsyn.analysis.endurance import EnduranceTracker


def synthetic(n: int = 2000, lrs: float = 3e3, hrs: float = 6e4, seed: int = 0
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    cycle = np.arange(1, n + 1)
    return (cycle, lrs * np.exp(0.03 * rng.standard_normal(n)),
            hrs * np.exp(0.1 * rng.standard_normal(n)))


def track(cycle: np.ndarray, r_lrs: np.ndarray, r_hrs: np.ndarray, block: int | None = None,
          **kwargs: float) -> EnduranceTracker:
    tracker = EnduranceTracker(**kwargs)  # type: ignore[arg-type]
    step = block or len(cycle)
    for start in range(0, len(cycle), step):
        tracker.update(cycle[start:start + step], r_lrs[start:start + step],
                       r_hrs[start:start + step])
    return tracker


def test_window_failure_fires_at_the_first_of_the_confirming_reads() -> None:
    cycle, lrs, hrs = synthetic()
    hrs[700:] = lrs[700:] * 5  # window 5 < 10 from cycle 701
    hrs[400:405] = lrs[400:405] * 5  # a few low reads are not a failure
    figures = track(cycle, lrs, hrs).figures()
    failure = figures["cycles_to_failure"]
    assert (failure.value, failure.uncertainty) == (701, 1)
    assert failure.reason.startswith("window")
    assert figures["window_start"].value == pytest.approx(20, rel=0.1)
    assert figures["window_end"].value == pytest.approx(5, rel=0.1)
    assert figures["window_min"].value == pytest.approx(5, rel=0.2)


@pytest.mark.parametrize("mode", ["LRS", "HRS"])
def test_stuck_failure_needs_stuck_cycles_and_is_dated_at_its_start(mode: str) -> None:
    cycle, lrs, hrs = synthetic()
    if mode == "LRS":
        hrs[1200:] = lrs[1200:] * 1.01
    else:
        lrs[1200:] = hrs[1200:] / 1.01
    failure = track(cycle, lrs, hrs, stuck_cycles=50).figures()["cycles_to_failure"]
    assert failure.value == 1201 and failure.reason.startswith(f"stuck at {mode}")
    short = track(cycle[:1230], lrs[:1230], hrs[:1230], stuck_cycles=50)
    assert short.failure is None  # stuck for 30 cycles only


@pytest.mark.parametrize("block", [1, 7, 64, 1000])
def test_blocks_give_the_same_figures_as_one_pass(block: int) -> None:
    cycle, lrs, hrs = synthetic()
    hrs[900:905] = lrs[900:905] * 1.01  # a short stuck episode crossing block edges
    hrs[1500:] = lrs[1500:] * 1.01
    whole = track(cycle, lrs, hrs, stuck_cycles=20).figures()
    streamed = track(cycle, lrs, hrs, block=block, stuck_cycles=20).figures()
    assert streamed == whole
    assert whole["cycles_to_failure"].value == 1501


def test_log_spaced_reads_date_failure_within_the_read_interval() -> None:
    cycle = np.unique(np.floor(10 ** (np.arange(0, 61) / 10)).astype(int))
    lrs = np.full(cycle.size, 3e3)
    hrs = np.where(cycle >= 5000, 3.1e3, 6e4)
    failure = track(cycle, lrs, hrs, stuck_cycles=10_000).figures()["cycles_to_failure"]
    first = int(cycle[cycle >= 5000][0])
    previous = int(cycle[cycle < 5000][-1])
    assert failure.value == first and failure.uncertainty == first - previous


@pytest.mark.parametrize(("lrs", "hrs", "reason"), [
    (1e12, 1.2e12, "no current"),  # a dead device reading ~0 A
    (5e3, 5e3, "no switching"),  # constant replies
    (np.nan, np.nan, "only 0 valid reads"),  # NaN reads
])
def test_degenerate_data_gives_missing_figures_with_reasons(lrs: float, hrs: float,
                                                            reason: str) -> None:
    cycle = np.arange(1, 301)
    figures = track(cycle, np.full(300, lrs), np.full(300, hrs), stuck_cycles=10).figures()
    failure = figures["cycles_to_failure"]
    assert not failure.ok and reason in failure.reason
    assert figures["cycles_run"].value == 300


def test_too_few_reads_say_how_many() -> None:
    cycle, lrs, hrs = synthetic(3)
    figures = track(cycle, lrs, hrs).figures()
    assert not figures["window_start"].ok
    assert "only 3 valid reads of 3" in figures["window_start"].reason
