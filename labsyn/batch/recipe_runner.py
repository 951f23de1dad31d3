"""Run a recipe on one device: each step its own run, figures handed on, a failed step stops
the rest (unless it says `on_fail: continue`). A dry run takes the longest branch: every
condition passes and a reference to a figure it could not measure uses the parameter's default."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from labsyn.engine import Runner, RunResult, RunSink, RunState
from labsyn.errors import ConfigError, LabsynError
from labsyn.protocols import get_protocol
from labsyn.store import DeviceId

from .recipe import Recipe, RecipeStep

SKIPPED = "skipped"


@dataclass
class StepOutcome:
    """What one step did: its run (if one was made), a status and why."""

    step: str
    protocol: str
    status: str  # completed | failed | aborted | interrupted | skipped
    reason: str = ""
    result: RunResult | None = None

    @property
    def passed(self) -> bool:
        return self.status == str(RunState.COMPLETED) and not self.reason


@dataclass
class RecipeResult:
    recipe: str
    outcomes: list[StepOutcome] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(o.passed for o in self.outcomes)

    @property
    def aborted(self) -> bool:
        return any(o.status == str(RunState.ABORTED) for o in self.outcomes)

    def figures(self) -> dict[str, Any]:
        """`step.figure` -> Estimate over every step that ran."""
        return {f"{o.step}.{name}": estimate for o in self.outcomes if o.result
                for name, estimate in o.result.figures.items()}


def check_recipe(recipe: Recipe, station: Any) -> None:
    """Each step whose parameters are all literal, against the station (nothing is sent);
    a `ConfigError`/`LimitError` names the step. Steps with references are checked when they
    run, once their values are known."""
    for step in recipe.steps:
        if step.references:
            continue
        protocol = get_protocol(step.protocol)
        try:
            params = protocol.resolve(protocol.parameters(step.literal_params()), station)
            protocol.check(params, station)
        except LabsynError as exc:
            raise type(exc)(*_named(exc, recipe, step)) from None


def _named(exc: LabsynError, recipe: Recipe, step: RecipeStep) -> tuple[Any, ...]:
    prefix = f"{recipe.source}:{step.line}: step {step.name!r} ({step.protocol}): "
    if hasattr(exc, "quantity"):
        return (prefix + exc.quantity, exc.value, exc.allowed)  # type: ignore[attr-defined]
    return (prefix + str(exc),)


def run_recipe(recipe: Recipe, station: Any, store: Any = None, device: DeviceId | None = None,
               sinks: Sequence[RunSink] = (),
               on_step: Callable[[StepOutcome], None] | None = None,
               runner_hook: Callable[[Runner], None] | None = None) -> RecipeResult:
    """Every step in order; `on_step` sees each outcome, `runner_hook` each Runner before it
    starts (the GUI keeps it to pause or abort)."""
    check_recipe(recipe, station)
    result = RecipeResult(recipe.name)
    stop_reason = ""
    for step in recipe.steps:
        if stop_reason:
            outcome = StepOutcome(step.name, step.protocol, SKIPPED, stop_reason)
        else:
            outcome = _run_step(step, result, station, store, device, sinks, runner_hook)
            if outcome.status == str(RunState.ABORTED):
                stop_reason = f"recipe aborted at step {step.name!r}"
            elif not outcome.passed and step.on_fail == "stop":
                stop_reason = f"step {step.name!r} failed: {outcome.reason or outcome.status}"
        result.outcomes.append(outcome)
        if on_step is not None:
            on_step(outcome)
    return result


def _run_step(step: RecipeStep, so_far: RecipeResult, station: Any, store: Any,
              device: DeviceId | None, sinks: Sequence[RunSink],
              runner_hook: Callable[[Runner], None] | None) -> StepOutcome:
    protocol = get_protocol(step.protocol)
    try:
        params = {**step.literal_params(), **_handed_on(step, so_far, station.dry_run)}
        runner = Runner(station, protocol, params, store=store, device=device or DeviceId(),
                        sinks=list(sinks))
    except LabsynError as exc:
        return StepOutcome(step.name, step.protocol, str(RunState.FAILED),
                           f"refused before it ran: {exc}")
    if runner_hook is not None:
        runner_hook(runner)
    run = runner.run()
    if run.status != RunState.COMPLETED:
        return StepOutcome(step.name, step.protocol, str(run.status), run.message, run)
    failed = [] if station.dry_run else [c for c in step.require
                                         if not c.holds(run.figures.get(c.figure))]
    reason = "; ".join(f"requires {c}: {_shown(run.figures.get(c.figure))}" for c in failed)
    return StepOutcome(step.name, step.protocol, str(run.status), reason, run)


def _handed_on(step: RecipeStep, so_far: RecipeResult, dry_run: bool) -> dict[str, float]:
    values: dict[str, float] = {}
    for key, ref in step.references.items():
        source = next((o for o in so_far.outcomes if o.step == ref.step), None)
        estimate = source.result.figures.get(ref.figure) if source and source.result else None
        if estimate is not None and estimate.ok:
            values[key] = ref.value(float(estimate.value))
        elif not dry_run:  # a dry run measures nothing: the parameter keeps its default
            why = estimate.reason if estimate is not None else "the step did not run"
            raise ConfigError(f"step {step.name!r}: parameter {key} = {ref.text}: "
                              f"{ref.step}.{ref.figure} is missing ({why})")
    return values


def _shown(estimate: Any) -> str:
    if estimate is None:
        return "not reported"
    return str(estimate) if estimate.ok else f"missing ({estimate.reason})"
