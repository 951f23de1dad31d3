"""Errors labsyn raises: each names what is wrong and what would be right."""

from __future__ import annotations


class LabsynError(Exception):
    """Base of every labsyn error."""


class ConfigError(LabsynError, ValueError):
    """A station file, recipe or option is invalid."""


class LimitError(LabsynError, ValueError):
    """A value lies outside an instrument's or the station's limits; nothing was sent."""

    def __init__(self, quantity: str, value: object, allowed: str) -> None:
        if hasattr(value, "item") and not isinstance(value, str):  # numpy scalar -> Python
            value = value.item()
        self.quantity = quantity
        self.value = value
        self.allowed = allowed
        super().__init__(f"{quantity} = {value!r} is outside the limit: allowed {allowed}")


class InstrumentError(LabsynError):
    """An instrument failed, replied nonsense or reported an error."""

    def __init__(self, instrument: str, command: str, detail: str) -> None:
        self.instrument = instrument
        self.command = command
        self.detail = detail
        super().__init__(f"{instrument}: command {command!r}: {detail}")


class InstrumentCommunicationError(InstrumentError):
    """The VISA transport failed (lost connection, I/O error)."""


class InstrumentTimeout(InstrumentCommunicationError):
    """No reply arrived within the VISA timeout."""


class InstrumentReplyError(InstrumentError):
    """A reply could not be parsed or did not have the expected shape."""


class InstrumentReportedError(InstrumentError):
    """The instrument's error queue held entries after a command."""

    def __init__(self, instrument: str, command: str, errors: list[tuple[int, str]]) -> None:
        self.errors = errors
        listed = "; ".join(f"{code}, {message}" for code, message in errors)
        super().__init__(instrument, command, f"instrument reported {listed}")
