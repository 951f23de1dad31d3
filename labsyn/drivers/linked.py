"""Capabilities that need two instruments joined by a trigger cable.

`write_with_pulser_read_with_smu`: a pulse generator writes, an SMU reads, the SMU is the trigger
master. Topology (the station declares it; `check_voltage` is the station's):

- the pulser on TE, through its declared series resistor, idling at 0 V (its base level) and
  armed for one pulse of `amplitude` (programmed into its load setting) per external trigger;
- the SMU on BE, holding 0 V while the pulse plays (it is the return path, so its current limit
  also bounds the write current) and sourcing −V_read for each read, so the device sees
  V_TE − V_BE = +V_read;
- a trigger cable from the SMU's digital output (DIG1) to the pulser's Ext Trig input. Each
  period the SMU's timer fires, its trigger model NOTIFYs DIG1 (the pulser plays its pulse at
  once), holds 0 V for `read_delay`, then reads.

Everything is checked before anything is sent. If anything fails or the run is aborted, both
instruments are put in their safe state (`safe_off()`); on success the pulser's output is
switched off and the SMU's trigger model has already switched its output off.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from labsyn.errors import LimitError

from .capabilities import AbortCheck
from .sequence import PulseTrain, SequenceData

VoltageCheck = Callable[[str, float], None]


def pulse_burst(amplitude: float, width: float) -> PulseTrain:
    """The pulser's burst per trigger: one pulse of `width` in a period of 2·width."""
    return PulseTrain.identical(amplitude, 1, width, 2.0 * width, 1.0, label="linked write")


def check_write_read(pulser: Any, smu: Any, amplitude: float, width: float, count: int,
                     period: float, read_level: float, read_delay: float, current_limit: float,
                     nplc: float, check_voltage: VoltageCheck | None = None,
                     pulser_terminal: str = "TE", smu_terminal: str = "BE") -> PulseTrain:
    """Every limit of the linked train (both drivers', the station's, their timing)."""
    burst = pulse_burst(amplitude, width)
    pulser.check_external(burst, count)
    smu.check_triggered_reads(-read_level, count, period, read_delay, current_limit, nplc)
    if read_delay < burst.period:
        raise LimitError("read delay after trigger", f"{read_delay:g} s",
                         f"≥ {burst.period:g} s: the pulser's burst (pulse + equal gap) ends "
                         "before the read starts")
    if check_voltage is not None:
        check_voltage(pulser_terminal, amplitude)
        check_voltage(smu_terminal, -read_level)
    return burst


def write_with_pulser_read_with_smu(pulser: Any, smu: Any, amplitude: float, width: float,
                                    count: int, period: float, read_level: float,
                                    read_delay: float, current_limit: float, nplc: float = 0.01,
                                    should_abort: AbortCheck | None = None, *,
                                    check_voltage: VoltageCheck | None = None,
                                    pulser_terminal: str = "TE", smu_terminal: str = "BE"
                                    ) -> SequenceData:
    """`count` pulser writes, each followed `read_delay` later by one SMU read at `read_level`,
    one every `period`, run instrument-side (≤ 10 transactions for both instruments).

    `amplitude` is the pulser's programmed level (into its load setting), `read_level` the
    voltage the device sees during reads. The result is in the device's frame: `source` is
    V_TE − V_BE during each read (+read_level) and `current` the current from TE to BE.
    """
    burst = check_write_read(pulser, smu, amplitude, width, count, period, read_level,
                             read_delay, current_limit, nplc, check_voltage, pulser_terminal,
                             smu_terminal)
    try:
        pulser.arm_external(burst, count)
        data = smu.run_triggered_reads(-read_level, count, period, read_delay, current_limit,
                                       nplc, should_abort)
        if not data.aborted:
            pulser.disarm_external()
    except BaseException:
        _safe_off_both(pulser, smu, raise_first=False)  # the original error propagates
        raise
    if data.aborted:
        _safe_off_both(pulser, smu)
    return _device_frame(data)


def _device_frame(data: SequenceData) -> SequenceData:
    """The SMU on BE sees −V and −I of the device's V_TE − V_BE and TE→BE current."""
    return SequenceData(data.segment, data.time, -data.source, -data.current, data.limited,
                        aborted=data.aborted, labels=data.labels)


def _safe_off_both(pulser: Any, smu: Any, raise_first: bool = True) -> None:
    """Both safe; each is tried, then the first failure is raised (if `raise_first`)."""
    problems: list[Exception] = []
    for driver in (pulser, smu):
        try:
            driver.safe_off()
        except Exception as exc:
            problems.append(exc)
    if problems and raise_first:
        raise problems[0]
