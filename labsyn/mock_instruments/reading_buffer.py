"""Reading buffers of the simulated Keithley SMUs (``defbuffer1``, ``defbuffer2``, user buffers)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from .scpi import ScpiError

SOURCE_STATUS_LIMIT = 32
SOURCE_STATUS_OUTPUT_ON = 128


@dataclass(frozen=True)
class Reading:
    """One stored reading."""

    value: float
    source: float
    time: float
    source_status: int
    status: int = 0


class ReadingBuffer:
    """A reading buffer; continuous fill overwrites the oldest reading once full."""

    def __init__(self, name: str, capacity: int, continuous: bool = True) -> None:
        self.name = name
        self.continuous = continuous
        self.readings: deque[Reading] = deque(maxlen=capacity if continuous else None)
        self.capacity = capacity

    def add(self, reading: Reading) -> None:
        if not self.continuous and len(self.readings) >= self.capacity:
            return
        self.readings.append(reading)

    def clear(self) -> None:
        self.readings.clear()

    def resize(self, capacity: int) -> None:
        self.capacity = capacity
        self.readings = deque(list(self.readings)[-capacity:],
                              maxlen=capacity if self.continuous else None)

    def __len__(self) -> int:
        return len(self.readings)

    def select(self, start: int, end: int) -> list[Reading]:
        """Readings `start`..`end`, 1-based and inclusive, as :TRACe:DATA? counts them."""
        if not 1 <= start <= end <= len(self.readings):
            raise ScpiError(-222, f"buffer {self.name!r} holds {len(self.readings)} readings; "
                            f"indices {start}..{end} requested")
        items = list(self.readings)
        return items[start - 1:end]

    def first_time(self) -> float:
        return self.readings[0].time if self.readings else 0.0


class BufferSet:
    """The instrument's buffers by name."""

    def __init__(self, default_capacity: int = 100_000) -> None:
        self.default_capacity = default_capacity
        self.buffers: dict[str, ReadingBuffer] = {}
        self.reset()

    def reset(self) -> None:
        self.buffers = {name: ReadingBuffer(name, self.default_capacity)
                        for name in ("defbuffer1", "defbuffer2")}

    def get(self, name: str | None) -> ReadingBuffer:
        key = name or "defbuffer1"
        try:
            return self.buffers[key]
        except KeyError:
            raise ScpiError(-224, f"reading buffer {key!r} does not exist") from None

    def make(self, name: str, capacity: int) -> None:
        if name in self.buffers:
            raise ScpiError(-221, f"reading buffer {name!r} already exists")
        if not name or not name[0].isalpha():
            raise ScpiError(-224, f"buffer name {name!r} must start with a letter")
        self.buffers[name] = ReadingBuffer(name, capacity, continuous=False)

    def delete(self, name: str) -> None:
        if name in ("defbuffer1", "defbuffer2"):
            raise ScpiError(-221, "default buffers cannot be deleted")
        self.get(name)
        del self.buffers[name]
