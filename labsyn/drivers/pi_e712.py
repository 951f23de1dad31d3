"""PI E-712 NanoCube controller with F-712 fast alignment (GCS 2.0 over TCP port 50000).

A three-axis nano stage (axes ``1 2 3``, µm) is not a `Positioner6D`, so this module declares a
small `FastAligner` capability. Relied on (instruments.md §4.2) ✔: ``FDR <name> <scanAxis>
<scanRange> <stepAxis> <stepRange> [options]``, ``FDG <name> <scanAxis> <stepAxis> [options]``,
``FRS``, ``FRP``/``FRP?`` (0 stopped, 1 paused, 2 running), ``FRR? <name> <id>`` (1 success, 2 max
value, 5 scan time), ``MOV``/``POS?``/``ONT?``, ``#24``; the reply shapes of ``FRP?``
(``name=state``) and ``FRR?`` (the value after the last ``=``) are unconfirmed (?), as is the
travel (read from ``TMN?``/``TMX?``, never assumed).

`align()` sends both definitions in one write and checks ``ERR?`` once, so an area scan plus a
gradient search costs about a dozen GCS transactions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

from labsyn.errors import InstrumentError, InstrumentReplyError, LimitError

from .capabilities import AbortCheck
from .pi_gcs import STOP_ALL, GcsInstrument, finite, gcs_number, parse_axis_reply
from .validators import limited, strict_range

AXES = ("1", "2", "3")
SLICE_S = 0.05
FREQUENCY_RANGE = (0.1, 1000.0)  # Hz, F option ?
ROUTINE_TIMEOUT_S = 600.0
AREA_OPTIONS = ("L", "A", "F", "V", "MP1", "MP2", "TT", "CM", "MIIL", "MAIL", "ST")
GRADIENT_OPTIONS = ("ML", "A", "MIA", "MAA", "F", "SP", "V", "MDC", "SPO")


@dataclass(frozen=True)
class FastAlignResult:
    position: dict[str, float]  # µm by axis
    signal: float  # the routine's maximum value
    success: bool


@runtime_checkable
class FastAligner(Protocol):
    """A controller that runs area scans and gradient searches itself (µm, numeric axes)."""

    name: str

    def position(self) -> dict[str, float]:
        ...

    def move_to(self, target: dict[str, float], should_abort: AbortCheck | None = None
                ) -> dict[str, float]:
        ...

    def align(self, scan_range: float, step_range: float, axes: tuple[str, str] = ("1", "2"),
              should_abort: AbortCheck | None = None, **options: float) -> FastAlignResult:
        """Area scan, then gradient search, on the controller."""
        ...

    def safe_off(self) -> None:
        ...

    def errors(self) -> list[tuple[int, str]]:
        ...


class PIE712(GcsInstrument):
    """An E-712 as a `FastAligner`."""

    init_exchanges: ClassVar[list[tuple[str, str | None]]] = [
        ("*IDN?", "(c)2016 Physik Instrumente (PI) GmbH & Co. KG, E-712, 0116000000, 01.2.3.4"),
        ("TMN?", "1=0.000000 \n2=0.000000 \n3=0.000000"),
        ("TMX?", "1=100.000000 \n2=100.000000 \n3=100.000000"),
    ]

    def __init__(self, adapter: Any, name: str = "PI E-712", poll_s: float = 1.0,
                 **kwargs: Any) -> None:
        super().__init__(adapter, name, **kwargs)
        idn = self.ask("*IDN?").strip()
        if "E-712" not in idn:
            raise InstrumentError(self.name, "*IDN?", f"{idn!r} is not a PI E-712")
        low, high = self.query_axes("TMN?"), self.query_axes("TMX?")
        if set(low) != set(AXES) or set(high) != set(AXES):
            raise InstrumentReplyError(self.name, "TMN?/TMX?", f"expected axes {AXES}")
        self.travel = {a: (low[a], high[a]) for a in AXES}
        self.poll_s = poll_s
        self._frequency = 10.0

    def _get_frequency(self) -> float:
        return self._frequency

    def _set_frequency(self, hz: float) -> None:
        self._frequency = strict_range("fast-alignment frequency F", "Hz")(hz, FREQUENCY_RANGE)

    frequency = limited(_get_frequency, _set_frequency, *FREQUENCY_RANGE,
                        "The F option the routines get unless told otherwise (Hz); sent with "
                        "each definition, nothing is sent when set.")

    # -- motion ---------------------------------------------------------------------------------
    def position(self) -> dict[str, float]:
        return self.query_axes("POS?")

    def move_to(self, target: dict[str, float], should_abort: AbortCheck | None = None
                ) -> dict[str, float]:
        self.require_armed("MOV")
        parts = []
        for axis, value in target.items():
            key = self._axis(axis)
            number = finite(f"{self.name} target {key}", value)
            low, high = self.travel[key]
            if not low <= number <= high:
                raise LimitError(f"{self.name} target {key}", value,
                                 f"{low:g} … {high:g} µm (TMN?/TMX?)")
            parts.append(f"{key} {gcs_number(number)}")
        self.send("MOV " + " ".join(parts))
        while not all(v != "0" for v in parse_axis_reply(self.name, "ONT?",
                                                         self.query("ONT?")).values()):
            if self.safed.is_set() or (should_abort is not None and should_abort()):
                self.stop_all()
                break
            self.clock.sleep(SLICE_S)
        return self.position()

    # -- fast alignment -------------------------------------------------------------------------
    def area_scan_command(self, name: str, scan_axis: str, scan_range: float, step_axis: str,
                          step_range: float, **options: float) -> str:
        """``FDR`` (ranges in µm, within the travel)."""
        self._ranges(scan_axis, scan_range, step_axis, step_range)
        return (f"FDR {self._name(name)} {self._axis(scan_axis)} {gcs_number(scan_range)} "
                f"{self._axis(step_axis)} {gcs_number(step_range)}"
                + self._options(options, AREA_OPTIONS))

    def gradient_command(self, name: str, scan_axis: str, step_axis: str,
                         **options: float) -> str:
        """``FDG``."""
        return (f"FDG {self._name(name)} {self._axis(scan_axis)} {self._axis(step_axis)}"
                + self._options(options, GRADIENT_OPTIONS))

    def run_routine(self, name: str, should_abort: AbortCheck | None = None) -> bool:
        """``FRS``, then ``FRP?`` every `poll_s` (waits sliced); False if stopped early."""
        self.require_armed("FRS")
        self.send(f"FRS {self._name(name)}")
        deadline = self.clock.now() + ROUTINE_TIMEOUT_S
        while True:
            next_poll = self.clock.now() + self.poll_s
            while self.clock.now() < next_poll:
                if self.safed.is_set() or (should_abort is not None and should_abort()):
                    self.stop_all()
                    return False
                self.clock.sleep(min(SLICE_S, next_poll - self.clock.now()))
            state = parse_axis_reply(self.name, "FRP?", self.query(f"FRP? {name}")).get(name)
            if state == "0":
                return True
            if self.clock.now() > deadline:
                self.stop_all()
                raise InstrumentError(self.name, "FRP?", f"{name} still running after "
                                      f"{ROUTINE_TIMEOUT_S:g} s; stopped")

    def result(self, name: str, result_id: int) -> str:
        """``FRR? <name> <id>``: the text after the last ``=``."""
        reply = self.query(f"FRR? {self._name(name)} {int(result_id)}").strip()
        if "=" not in reply:
            raise InstrumentReplyError(self.name, "FRR?", f"reply {reply!r} has no '='")
        return reply.rpartition("=")[2].strip()

    def align(self, scan_range: float, step_range: float, axes: tuple[str, str] = ("1", "2"),
              should_abort: AbortCheck | None = None, **options: float) -> FastAlignResult:
        """Area scan (goes to the maximum) then gradient search, both run on the controller."""
        area = {k: v for k, v in options.items() if k in AREA_OPTIONS}
        gradient = {k[1:]: v for k, v in options.items() if k.startswith("G")}
        unknown = set(options) - set(area) - {k for k in options if k.startswith("G")}
        if unknown:
            raise LimitError(f"{self.name} alignment option", sorted(unknown),
                             f"{', '.join(AREA_OPTIONS)} or G + {', '.join(GRADIENT_OPTIONS)}")
        area.setdefault("F", self._frequency)
        gradient.setdefault("F", self._frequency)
        definitions = [self.area_scan_command("AREA", axes[0], scan_range, axes[1], step_range,
                                              **area),
                       self.gradient_command("GRAD", axes[0], axes[1], **gradient)]
        self.require_armed("FDR")
        with self.lock:
            self.write("\n".join(definitions))
            self.raise_error("FDR/FDG")
        if not self.run_routine("AREA", should_abort) or not self.run_routine("GRAD",
                                                                              should_abort):
            return FastAlignResult(self.position(), float("nan"), False)
        signal = float(self.result("GRAD", 2))
        return FastAlignResult(self.position(), signal, self.result("GRAD", 1) == "1")

    # -- safe state -----------------------------------------------------------------------------
    def stop_all(self) -> None:
        """``#24``: stops motion and any routine; the error 10 it latches is read away."""
        with self.lock:
            self.single(STOP_ALL, "#24")
            code, message = self.next_error
            if code not in (0, 10):
                raise InstrumentError(self.name, "#24", f"controller reported {code}, {message}")

    def safe_off(self) -> None:
        """Stop everything (``#24``) and hold motion off until rearm()."""
        self.safed.set()
        problems = self.safe_steps([self.stop_all])
        if problems:
            raise problems[0]

    # -- helpers --------------------------------------------------------------------------------
    def _axis(self, axis: str | int) -> str:
        key = str(axis)
        if key not in AXES:
            raise LimitError(f"{self.name} axis", axis, ", ".join(AXES))
        return key

    def _ranges(self, scan_axis: str, scan_range: float, step_axis: str,
                step_range: float) -> None:
        for axis, value in ((scan_axis, scan_range), (step_axis, step_range)):
            low, high = self.travel[self._axis(axis)]
            number = finite(f"{self.name} scan range {axis}", value)
            if not 0 < number <= high - low:
                raise LimitError(f"{self.name} scan range {axis}", value,
                                 f"0 < range ≤ {high - low:g} µm")

    def _options(self, options: dict[str, float], allowed: tuple[str, ...]) -> str:
        text = ""
        for key, value in options.items():
            if key not in allowed:
                raise LimitError(f"{self.name} routine option", key, ", ".join(allowed))
            text += f" {key} {gcs_number(finite(f'{self.name} option {key}', value))}"
        return text

    @staticmethod
    def _name(name: str) -> str:
        if not (isinstance(name, str) and name.isalnum() and len(name) <= 8):
            raise LimitError("fast-alignment routine name", name, "1–8 letters or digits ?")
        return name
