"""What every stock pyvisa-sim test does: open a driver on a packaged YAML with ``@sim``, record
what it sends, check that the simulated instrument is still in step, and close it again.

pyvisa-sim answers a piece of a message only if it matches a dialogue or a setter exactly; a piece
that matches nothing, or a setter value outside its spec, gets no reply and queues an error (and
CME in ``*ESR?``), and an unanswered query times out. So a test ends with
`PyvisaSim.assert_in_step`: the error queue is empty, ``*ESR?`` is 0 (where the model has it) and
``*IDN?`` still gets its own reply.

pyvisa caches the pyvisa-sim library object per YAML path for the whole process, and with it every
device's settings and pending replies: closing the resource manager does not reset them (pyvisa
1.16, pyvisa-sim 0.7.1, pyvisa-sim#82). `PyvisaSim.close` therefore closes the resource manager
too (pymeasure leaves a custom-YAML one open: pymeasure#962) and re-reads the YAML with
``visalib._init()`` (what QCoDeS does); `reset_library` does the same with no driver open, for a
test's start.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any, Generic, TypeVar

import pytest
import pyvisa
import yaml
from pyvisa.rname import to_canonical_name

from labsyn.clock import SimClock
from labsyn.drivers.base import LabsynInstrument
from labsyn.errors import LimitError

PYVISA_SIM = files("labsyn.mock_instruments.pyvisa_sim")

D = TypeVar("D", bound=LabsynInstrument)


def reset_library(yaml_path: Traversable | str) -> None:
    """Back to the YAML's defaults, whatever ran before in this process."""
    manager = pyvisa.ResourceManager(f"{yaml_path}@sim")
    manager.close()
    manager.visalib._init()


@dataclass(frozen=True)
class PyvisaSim(Generic[D]):
    """One packaged pyvisa-sim model and the driver the tests open on it."""

    driver: type[D]
    yaml_name: str  # in labsyn/mock_instruments/pyvisa_sim
    idn: str  # the model's *IDN? reply
    address: str  # where the driver opens by default
    dry_run: bool = False  # what a pyvisa-sim station sets: accept the static buffer counts
    esr: bool = True  # the model answers *ESR?

    @property
    def yaml(self) -> Traversable:
        return PYVISA_SIM / self.yaml_name

    def data(self) -> dict[str, Any]:
        """The YAML file as data."""
        return yaml.safe_load(self.yaml.read_text(encoding="utf-8"))

    def listed(self) -> set[str]:
        """The canonical names of the resources the YAML lists."""
        return {to_canonical_name(name) for name in self.data()["resources"]}

    def reset(self) -> None:
        reset_library(self.yaml)

    def open(self, address: str | None = None) -> D:
        """The driver as a pyvisa-sim station opens it."""
        instrument = self.driver(address or self.address, visa_library=f"{self.yaml}@sim",
                                 clock=SimClock("instant"))
        if self.dry_run:
            instrument.dry_run = True
        return instrument

    def close(self, instrument: D) -> None:
        """Close the driver and its resource manager, and reset the cached library's devices."""
        manager = instrument.adapter.manager
        instrument.adapter.close()
        manager.close()
        manager.visalib._init()

    @contextmanager
    def opened(self, address: str | None = None) -> Iterator[D]:
        instrument = self.open(address)
        try:
            yield instrument
        finally:
            self.close(instrument)

    def assert_in_step(self, instrument: D) -> None:
        """Nothing queued, nothing pending: the next query gets its own reply."""
        assert instrument.errors() == []
        if self.esr:
            assert instrument.ask("*ESR?").strip() == "0"
        assert instrument.id == self.idn


def record(instrument: LabsynInstrument) -> list[str]:
    """Every message written from now on, as the driver sent it."""
    sent: list[str] = []
    write = instrument.adapter.write

    def recording_write(command: str, **kwargs: Any) -> None:
        sent.append(command)
        write(command, **kwargs)

    instrument.adapter.write = recording_write
    return sent


def pieces(sent: list[str]) -> list[str]:
    """The messages as pyvisa-sim matches them: split on ";"."""
    return [piece for message in sent for piece in message.split(";")]


def properties(cls: type) -> set[str]:
    """The public properties of a driver class, inherited ones included."""
    return {name for name, _ in inspect.getmembers(cls)
            if not name.startswith("_")
            and isinstance(inspect.getattr_static(cls, name), property)}


def read_back_as(value: Any, rel: float = 1e-6) -> Any:
    """What a setting reads back as: a float to within `rel`, anything else exactly."""
    return pytest.approx(value, rel=rel) if isinstance(value, float) else value


def assert_reads_back(target: Any, name: str, values: tuple[Any, ...],
                      rel: float = 1e-6) -> None:
    """Set each value in turn and read it back from the instrument."""
    for value in values:
        setattr(target, name, value)
        got = getattr(target, name)
        assert got == read_back_as(value, rel), f"{name} = {value!r} read back as {got!r}"


def just_outside(low: float, high: float, rel: float = 1e-3) -> tuple[float, float]:
    """One step below `low` and one above `high`: 1 for integers, `rel` of the value else."""
    def step(value: float) -> float:
        return 1 if isinstance(value, int) else max(abs(value) * rel, 1e-12)

    return low - step(low), high + step(high)


def assert_spec_matches_limits(sim: PyvisaSim[Any], instrument: LabsynInstrument, target: Any,
                               name: str, command: str | Callable[[Any], str], low: float,
                               high: float, error: tuple[int, str], rel: float = 1e-3) -> None:
    """The YAML's spec holds the driver's limit: inside [low, high] both accept; outside, the
    driver refuses (nothing sent) and, sent raw, the model queues one `error` each."""
    message = command.format if isinstance(command, str) else command
    outside = just_outside(low, high, rel)
    for value in outside:
        with pytest.raises(LimitError):
            setattr(target, name, value)
    sim.assert_in_step(instrument)
    for value in (low, high):
        instrument.write(message(value))
    assert instrument.errors() == []
    for value in outside:
        instrument.write(message(value))
    assert instrument.errors() == [error, error]
    assert instrument.ask("*ESR?").strip() == "32"
    sim.assert_in_step(instrument)
