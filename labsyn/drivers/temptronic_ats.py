"""Temptronic ThermoStream ATS-5xx/6xx (ATS-525, -545, ...) as a `Thermal` capability, in K.

Commands (checked against pymeasure's `temptronic_base.py`, the ATS-515/525/535 interface
manual rev. E, which it follows): ``%RM`` remote / ``%GL`` local, ``SETN n`` (operator screen:
0 hot, 1 ambient, 2 cold), ``SETP nnn.n`` / ``SETP?`` (°C), ``TEMP?`` (°C, 0.1 °C resolution,
above 400 invalid), ``TECR?`` (bit 0 at temperature, bit 1 not at temperature), ``EROR?`` (16-bit
fault register), ``CLER``, ``FLOW 0|1``, ``HEAD?`` / ``HEAD 0|1`` (up / down), ``DUTM 0|1``,
``WNDW`` (0.1–9.9 K), ``SOAK`` (0–9999 s), ``LLIM`` / ``ULIM`` (air limits, °C), ``TTIM``.
Unconfirmed (?): that the head answers ``*IDN?`` with a line naming TEMPTRONIC or ATS
(pymeasure marks the instrument "SCPI unknown").

pymeasure's own ATS classes clamp out-of-range values (`truncated_range`) and sleep on wall
time, so this driver speaks the same commands itself with strict validators and the station
clock. `set_temperature` refuses, before sending anything, a setpoint outside the model's range,
the air limits read at connect (``LLIM?``/``ULIM?``) or the station's `limits.temperature_k`;
it then reads ``SETP?`` back. The safe state follows pymeasure's ``shutdown()``: setpoint to
ambient, air flow off, back to local; the head is not moved (lifting it may hit probes).
"""

from __future__ import annotations

import math
from enum import IntFlag
from typing import Any, ClassVar

from pymeasure.instruments import Instrument

from labsyn.errors import InstrumentError, InstrumentReplyError, LimitError

from .base import LabsynInstrument
from .capabilities import AbortCheck
from .validators import strict_choice, strict_range

ZERO_C = 273.15
SETPOINT_RANGE_C = (-99.9, 225.0)
AMBIENT_C = 25.0
INVALID_ABOVE_C = 400.0
POLL_S = 1.0
SLICE_S = 0.05


class Fault(IntFlag):
    """The ``EROR?`` register (ATS manual; pymeasure `ErrorCode`)."""

    OVERHEAT = 1
    AIR_OPEN_LOOP = 2
    LOW_FLOW = 8
    LOW_INPUT_AIR_PRESSURE = 16
    AIR_SENSOR_OPEN = 32
    INTERNAL_ERROR = 128
    FLOW_SENSOR_HARDWARE_ERROR = 512
    NO_LINE_SENSE = 1024
    NVRAM_FAULT = 2048
    BVRAM_FAULT = 4096
    NO_DUT_SENSOR_SELECTED = 16384


AT_TEMPERATURE, NOT_AT_TEMPERATURE = 1, 2  # ``TECR?`` bits


def kelvin(celsius: float) -> float:
    return celsius + ZERO_C


class TemptronicATS(LabsynInstrument):
    """A ThermoStream head over GPIB/serial, its temperatures in kelvin at the capability."""

    init_exchanges: ClassVar[list[tuple[str, str | None]]] = [
        ("*IDN?", "TEMPTRONIC,ATS-545,0,1.0"), ("LLIM?", "-60.0"), ("ULIM?", "225.0")]

    setpoint_c = Instrument.control(
        "SETP?", "SETP %.1f", "Setpoint of the selected set (°C); use set_temperature().",
        validator=strict_range("ATS setpoint", "°C"), values=SETPOINT_RANGE_C)
    window_k = Instrument.control(
        "WNDW?", "WNDW %.1f", "At-temperature window (K) of the instrument's own status.",
        validator=strict_range("ATS window", "K"), values=(0.1, 9.9))
    soak_s = Instrument.control(
        "SOAK?", "SOAK %d", "Soak time (s) of the instrument's own at-temperature status.",
        validator=strict_range("ATS soak time", "s"), values=(0, 9999))
    max_test_time_s = Instrument.control(
        "TTIM?", "TTIM %d", "Longest time at one setpoint before the ATS stops (s).",
        validator=strict_range("ATS maximum test time", "s"), values=(0, 9999))
    air_low_limit_c = Instrument.control(
        "LLIM?", "LLIM %.1f", "Lowest air temperature the head may blow (°C).",
        validator=strict_range("ATS lower air limit", "°C"), values=(-99.0, 25.0))
    air_high_limit_c = Instrument.control(
        "ULIM?", "ULIM %.1f", "Highest air temperature the head may blow (°C).",
        validator=strict_range("ATS upper air limit", "°C"), values=(25.0, 225.0))
    dut_mode = Instrument.control(
        "DUTM?", "DUTM %d", "Control on the DUT sensor (True) or on the air (False).",
        validator=strict_choice("ATS DUT mode"), values={True: 1, False: 0}, map_values=True,
        get_process=lambda v: int(float(v)))
    head = Instrument.control(
        "HEAD?", "HEAD %d", "Head position, 'up' or 'down' (moves the head: mind the probes).",
        validator=strict_choice("ATS head position"), values={"up": 0, "down": 1},
        map_values=True, get_process=lambda v: int(float(v)))
    air_flow = Instrument.setting(
        "FLOW %d", "Main air flow on (True) or off (False).",
        validator=strict_choice("ATS air flow"), values={True: 1, False: 0}, map_values=True)

    def __init__(self, adapter: Any, name: str = "Temptronic ATS",
                 temperature_limits_k: tuple[float, float] | None = None,
                 poll_s: float = POLL_S, **kwargs: Any) -> None:
        kwargs.setdefault("read_termination", "\n")
        kwargs.setdefault("write_termination", "\n")
        super().__init__(adapter, name, **kwargs)
        idn = self.ask("*IDN?").strip()
        if "TEMPTRONIC" not in idn.upper() and "ATS" not in idn.upper():
            raise InstrumentError(self.name, "*IDN?", f"{idn!r} is not a Temptronic ATS")
        self.idn = idn
        low, high = self.number("LLIM?"), self.number("ULIM?")
        self.air_limits_c = (max(low, SETPOINT_RANGE_C[0]), min(high, SETPOINT_RANGE_C[1]))
        self.station_limits_k = (None if temperature_limits_k is None
                                 else (float(temperature_limits_k[0]),
                                       float(temperature_limits_k[1])))
        self.poll_s = float(poll_s)
        self._forcing = False

    # -- Thermal -----------------------------------------------------------------------------
    def check_temperature(self, kelvin_value: float) -> None:
        """Model range, air limits (``LLIM?``/``ULIM?`` at connect) and station limits."""
        value = strict_range(f"{self.name} setpoint", "K")(
            kelvin_value, (-math.inf, math.inf))
        low_c, high_c = self.air_limits_c
        limits = [("the head's air limits LLIM/ULIM", kelvin(low_c), kelvin(high_c))]
        if self.station_limits_k is not None:
            limits.append(("the station's limits.temperature_k", *self.station_limits_k))
        for what, low, high in limits:
            if not low <= value <= high:
                raise LimitError(f"{self.name} setpoint", f"{value:g} K",
                                 f"{low:g} K … {high:g} K ({what})")

    def start(self) -> None:
        """Remote mode and air flow on (pymeasure's ``start()``)."""
        self.require_armed("start")
        with self.lock:
            self.write("%RM")
            self.air_flow = True
        self._forcing = True

    def set_temperature(self, kelvin_value: float) -> None:
        """Check every limit, then select the operator-screen set (hot/ambient/cold, as
        pymeasure does) and write ``SETP``; the setpoint is read back."""
        self.check_temperature(kelvin_value)
        self.require_armed("set_temperature")
        celsius = round(kelvin_value - ZERO_C, 1)
        with self.lock:
            if not self._forcing:
                self.start()
            self.write(f"SETN {0 if celsius >= 30 else 1 if celsius > 20 else 2}")
            self.setpoint_c = celsius
            if self.dry_run:
                return
            echoed = self.number("SETP?")
        if abs(echoed - celsius) > 0.051:
            raise InstrumentError(self.name, f"SETP {celsius:.1f}",
                                  f"setpoint reads back {echoed:g} °C")

    def temperature(self) -> float:
        """``TEMP?`` in K (DUT sensor or air, per `dut_mode`); an invalid reading raises."""
        celsius = self.number("TEMP?")
        if not math.isfinite(celsius) or celsius > INVALID_ABOVE_C:
            raise InstrumentReplyError(self.name, "TEMP?", f"{celsius:g} °C is not a valid "
                                       "reading (above 400 °C means no sensor)")
        return kelvin(celsius)

    def status(self) -> int:
        """``TECR?``: the temperature condition register (bit 0 at temperature)."""
        return int(self.number("TECR?"))

    def wait_settled(self, kelvin_value: float, tolerance: float, soak: float, timeout: float,
                     should_abort: AbortCheck | None = None) -> float:
        """Poll ``TEMP?`` every `poll_s` until within `tolerance` K of `kelvin_value` for
        `soak` s. A dry run's static reply cannot settle: one reading is returned."""
        strict_range("settling tolerance", "K")(tolerance, (0.01, 50.0))
        strict_range("soak time", "s")(soak, (0.0, 1e5))
        strict_range("settling timeout", "s")(timeout, (0.0, 1e6))
        start = self.clock.now()
        inside_since: float | None = None
        while True:
            measured = self.temperature()
            now = self.clock.now()
            if self.dry_run or (should_abort is not None and should_abort()):
                return measured
            if abs(measured - kelvin_value) <= tolerance:
                inside_since = now if inside_since is None else inside_since
                if now - inside_since >= soak:
                    return measured
            else:
                inside_since = None
            if now - start > timeout:
                raise InstrumentError(self.name, "TEMP?", f"not within ±{tolerance:g} K of "
                                      f"{kelvin_value:g} K for {soak:g} s after {timeout:g} s "
                                      f"(last {measured:.1f} K)")
            self._sleep(self.poll_s, should_abort)

    def _sleep(self, seconds: float, should_abort: AbortCheck | None) -> None:
        end = self.clock.now() + seconds
        while (left := end - self.clock.now()) > 0:
            if should_abort is not None and should_abort():
                return
            self.clock.sleep(min(left, SLICE_S) if should_abort is not None else left)

    def errors(self) -> list[tuple[int, str]]:
        """``EROR?`` decoded into (bit value, fault name) pairs, then ``CLER``."""
        with self.lock:
            reply = self.ask("EROR?").strip()
            try:
                code = int(float(reply))
            except ValueError:
                raise InstrumentReplyError(self.name, "EROR?", f"reply {reply!r} is not a "
                                           "fault register") from None
            if code:
                self.write("CLER")
        return [(int(bit), bit.name or str(int(bit))) for bit in Fault if code & bit] + (
            [(code & ~sum(Fault), "unknown fault bits")] if code & ~sum(Fault) else [])

    def safe_off(self) -> None:
        """Setpoint to ambient, air flow off, local (pymeasure's ``shutdown()``); forcing is
        refused until `rearm()`."""
        self.safed.set()
        self._forcing = False
        problems = self.safe_steps([lambda: self.write("SETN 1"),
                                    lambda: self.write(f"SETP {AMBIENT_C:.1f}"),
                                    lambda: self.write("FLOW 0"),
                                    lambda: self.write("%GL")])
        if problems:
            raise problems[0]
