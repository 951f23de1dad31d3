"""The 2600B SMU remote trigger model, planned ahead on virtual time at ``initiate()``.

An SMU walks arm layer → (source → measure → end pulse) × ``trigger.count`` → end sweep; each
step waits on its event detector (stimulus 0 passes at once) and emits its own event
(ARMED, SOURCE_COMPLETE, MEASURE_COMPLETE, PULSE_COMPLETE, SWEEP_COMPLETE, IDLE). The eight
trigger timers start on their stimulus, emit immediately in pass-through mode and then
``count`` events, each after the next delay of their delay list (2600B RM §4 "Timers": the
list repeats once used up). A detector latches one event that arrives before the SMU waits on
it. All events due at one instant are delivered before the SMU moves on, so a timer event and
the SMU step it releases can share a time stamp. The result is a `TriggerPlan`: the level
changes, the measurement instants, the end and the SMU's own events, which the instrument
schedules on the bench. The other SMU's events (`external`) are delivered too, so a sweep can
wait on a timer the other SMU starts (two channels stepping together on one timer).
"""

from __future__ import annotations

import heapq
import itertools
import math
from dataclasses import dataclass, field

MAX_ITERATIONS = 2_000_000
DISABLE, ENABLE = 0, 1
SOURCE_IDLE, SOURCE_HOLD = 0, 1
EVENT_NAMES = ("ARMED", "SWEEPING", "SOURCE_COMPLETE", "MEASURE_COMPLETE", "PULSE_COMPLETE",
               "SWEEP_COMPLETE", "IDLE")


@dataclass
class TimerSettings:
    """``trigger.timer[N]``: delays, events per trigger, pass-through and stimulus."""

    delaylist: list[float] = field(default_factory=lambda: [10e-6])
    count: int = 1
    passthrough: bool = False
    stimulus: int = 0


@dataclass
class TriggerSettings:
    """``smuX.trigger.*``: the sweep list and each layer's action and stimulus."""

    values: list[float] = field(default_factory=list)
    source_action: int = DISABLE
    source_stimulus: int = 0
    source_limit: float = 0.0  # 0 = smuX.LIMIT_AUTO: the normal source limit
    measure_action: int = DISABLE
    measure_stimulus: int = 0
    measure_kind: str = ""
    measure_buffers: tuple[object, ...] = ()
    endpulse_action: int = SOURCE_HOLD
    endpulse_stimulus: int = 0
    endsweep_action: int = SOURCE_IDLE
    count: int = 1
    arm_count: int = 1
    arm_stimulus: int = 0
    prelatched: set[str] = field(default_factory=set)  # detectors set() before initiate


@dataclass
class TriggerPlan:
    start: float
    end: float = math.inf
    changes: list[tuple[float, float]] = field(default_factory=list)  # (time, level)
    measures: list[float] = field(default_factory=list)
    final_level: float | None = None  # None: the idle level (SOURCE_IDLE)
    waits_forever: bool = False
    events: list[tuple[float, int]] = field(default_factory=list)  # (time, own event id)


class _Timer:
    def __init__(self, settings: TimerSettings) -> None:
        self.settings = settings
        self.remaining = 0
        self.next_delay = 0

    def delay(self) -> float:
        delays = self.settings.delaylist
        value = delays[self.next_delay % len(delays)]
        self.next_delay += 1
        return value


class TriggerPlanner:
    """Runs one SMU's trigger model with the timers on paper, from `start`."""

    def __init__(self, trigger: TriggerSettings, events: dict[str, int],
                 timers: dict[int, TimerSettings], timer_events: dict[int, int],
                 idle_level: float, measure_time: float, measure_delay: float,
                 source_delay: float, external: tuple[tuple[float, int], ...] = ()) -> None:
        self.trigger = trigger
        self.external = external  # (time, event id) of the other SMU: cross-SMU triggering
        self._record: list[tuple[float, int]] = []
        self.events = events
        self.timers = {n: _Timer(s) for n, s in timers.items()}
        self.timer_events = timer_events
        self.idle_level = idle_level
        self.measure_time = measure_time
        self.measure_delay = max(measure_delay, 0.0)
        self.source_delay = max(source_delay, 0.0)
        self._heap: list[tuple[float, int, int, int, bool]] = []
        self._order = itertools.count()
        self._latched = {d: d in trigger.prelatched for d in ("arm", "source", "measure",
                                                                 "endpulse")}
        trigger.prelatched.clear()

    def plan(self, start: float) -> TriggerPlan:
        plan = TriggerPlan(start, events=self._record)
        trig = self.trigger
        for when, event in self.external:
            if when >= start:
                self._push(event, when)
        t, ready, phase = start, start, "arm"
        iteration = arm_iteration = 0
        last_level: float | None = None
        count = trig.count if trig.count > 0 else MAX_ITERATIONS
        arm_count = trig.arm_count if trig.arm_count > 0 else MAX_ITERATIONS
        self._emit("SWEEPING", t)
        steps = 0
        while True:
            self._deliver_until(t)
            while ready <= t and phase != "done":
                steps += 1
                if steps > 8 * MAX_ITERATIONS:
                    plan.waits_forever = True
                    return plan
                moved, ready, phase, iteration, arm_iteration, last_level = self._step(
                    plan, t, phase, iteration, arm_iteration, count, arm_count, last_level)
                self._deliver_until(t)
                if not moved:
                    break
            if phase == "done":
                break
            upcoming = self._heap[0][0] if self._heap else math.inf
            t = min(upcoming, ready if ready > t else math.inf)
            if math.isinf(t):
                plan.waits_forever = True
                return plan
        plan.final_level = last_level if trig.endsweep_action == SOURCE_HOLD else None
        return plan

    def _step(self, plan: TriggerPlan, t: float, phase: str, iteration: int,
              arm_iteration: int, count: int, arm_count: int, last_level: float | None
              ) -> tuple[bool, float, str, int, int, float | None]:
        trig = self.trigger
        if phase == "arm":
            if not self._passes("arm", trig.arm_stimulus):
                return False, t, phase, iteration, arm_iteration, last_level
            self._emit("ARMED", t)
            return True, t, "source", iteration, arm_iteration, last_level
        if phase == "source":
            if not self._passes("source", trig.source_stimulus):
                return False, t, phase, iteration, arm_iteration, last_level
            if trig.source_action == ENABLE and trig.values:
                last_level = trig.values[iteration % len(trig.values)]
                plan.changes.append((t, last_level))
            done = t + self.source_delay
            self._emit("SOURCE_COMPLETE", done)
            return True, done, "measure", iteration, arm_iteration, last_level
        if phase == "measure":
            if trig.measure_action == DISABLE:
                return True, t, "endpulse", iteration, arm_iteration, last_level
            if not self._passes("measure", trig.measure_stimulus):
                return False, t, phase, iteration, arm_iteration, last_level
            done = t + self.measure_delay + self.measure_time
            plan.measures.append(done)
            self._emit("MEASURE_COMPLETE", done)
            return True, done, "endpulse", iteration, arm_iteration, last_level
        if not self._passes("endpulse", trig.endpulse_stimulus):
            return False, t, phase, iteration, arm_iteration, last_level
        if trig.endpulse_action == SOURCE_IDLE and trig.source_action == ENABLE:
            plan.changes.append((t, self.idle_level))
            last_level = self.idle_level
        self._emit("PULSE_COMPLETE", t)
        iteration += 1
        if iteration < count:
            return True, t, "source", iteration, arm_iteration, last_level
        arm_iteration += 1
        if arm_iteration < arm_count:
            return True, t, "arm", 0, arm_iteration, last_level
        self._emit("SWEEP_COMPLETE", t)
        self._emit("IDLE", t)
        plan.end = t
        return True, t, "done", iteration, arm_iteration, last_level

    def _passes(self, detector: str, stimulus: int) -> bool:
        if stimulus == 0:
            return True
        if self._latched[detector]:
            self._latched[detector] = False
            return True
        return False

    def _emit(self, name: str, t: float) -> None:
        self._record.append((t, self.events[name]))
        self._push(self.events[name], t)

    def _push(self, event: int, t: float, timer: int = 0, counted: bool = False) -> None:
        heapq.heappush(self._heap, (t, next(self._order), event, timer, counted))

    def _deliver_until(self, t: float) -> None:
        trig = self.trigger
        detectors = (("arm", trig.arm_stimulus), ("source", trig.source_stimulus),
                     ("measure", trig.measure_stimulus), ("endpulse", trig.endpulse_stimulus))
        while self._heap and self._heap[0][0] <= t:
            when, _, event, source_timer, counted = heapq.heappop(self._heap)
            for detector, stimulus in detectors:
                if stimulus != 0 and stimulus == event:
                    self._latched[detector] = True
            if source_timer and counted:
                self._continue(source_timer, when)
            for number, timer in self.timers.items():
                if timer.settings.stimulus == event and timer.remaining == 0 and event != 0:
                    self._start(number, when)

    def _start(self, number: int, t: float) -> None:
        """A timer is triggered: pass-through event now, then `count` delayed events."""
        timer = self.timers[number]
        timer.remaining = timer.settings.count if timer.settings.count > 0 else MAX_ITERATIONS
        event = self.timer_events[number]
        if timer.settings.passthrough:
            self._push(event, t, number, counted=False)
        self._push(event, t + timer.delay(), number, counted=True)

    def _continue(self, number: int, t: float) -> None:
        timer = self.timers[number]
        timer.remaining -= 1
        if timer.remaining > 0:
            self._push(self.timer_events[number], t + timer.delay(), number, counted=True)
