"""PI hexapods (H-811/H-820/H-840) on a C-887 controller, GCS 2.0 over TCP port 50000.

Address e.g. ``TCPIP0::192.168.0.10::50000::SOCKET``. X Y Z in mm, U V W in degrees, rotations
about the pivot point. Commands relied on (instruments.md §4.1): ``MOV``/``MVR``/``POS?``/
``ONT?``/``#5``/``#24``/``HLT``/``SVO``/``FRF``/``FRF?``/``VLS``/``TMN?``/``TMX?``/``VMO?``/
``NLM``/``PLM``/``KSD``/``KEN``/``KEN?``/``ERR?`` ✔; ``SPI`` letters are firmware-dependent
(``R S T`` or ``X Y Z``) ✔, so the driver learns them from ``SPI?``. Unconfirmed (?): the
velocity range accepted by ``VLS`` (1e-4 … 20 mm/s here), and that ``#5`` answers in hex with
bit i for the i-th axis of X Y Z U V W.

`move_to` refuses, before sending anything that moves, a target outside the travel range
(``TMN?``/``TMX?``, read once at connect), outside the station envelope given to the driver,
or that ``VMO?`` reports unreachable; then ``MOV``, a clock-sliced wait on ``#5`` and ``ONT?``,
and on abort ``#24`` (immediate stop; it latches error 10, which is read away).
"""

from __future__ import annotations

from typing import Any, ClassVar

from labsyn.errors import InstrumentError, InstrumentReplyError, LimitError

from .capabilities import AbortCheck, Pose
from .pi_gcs import (
    CONTROLLER_READY,
    MOTION_STATUS,
    READY,
    STOP_ALL,
    GcsInstrument,
    finite,
    gcs_number,
    parse_axis_reply,
)
from .validators import limited, strict_range

AXES = ("X", "Y", "Z", "U", "V", "W")
UNITS = {"X": "mm", "Y": "mm", "Z": "mm", "U": "deg", "V": "deg", "W": "deg"}
VELOCITY_RANGE = (1e-4, 20.0)  # mm/s ?
SLICE_S = 0.05
REFERENCE_TIMEOUT_S = 300.0
MOVE_MARGIN_S = 30.0
PIVOT_SETS = (("R", "S", "T"), ("X", "Y", "Z"))
Envelope = dict[str, tuple[float, float]]


class PIHexapod(GcsInstrument):
    """A C-887 hexapod as a `Positioner6D`."""

    init_exchanges: ClassVar[list[tuple[str, str | None]]] = [
        ("*IDN?", "(c)2015 Physik Instrumente (PI) GmbH & Co. KG, C-887, 115000000, 1.2.3.4"),
        ("TMN?", "X=-17.000000 \nY=-16.000000 \nZ=-6.500000 \nU=-10.000000 \nV=-10.000000 \n"
                 "W=-21.000000"),
        ("TMX?", "X=17.000000 \nY=16.000000 \nZ=6.500000 \nU=10.000000 \nV=10.000000 \n"
                 "W=21.000000"),
        ("VLS?", "5.000000"),
    ]

    def __init__(self, adapter: Any, name: str = "PI C-887 hexapod",
                 envelope: Envelope | None = None, **kwargs: Any) -> None:
        super().__init__(adapter, name, **kwargs)
        idn = self.ask("*IDN?").strip()
        if "C-887" not in idn:
            raise InstrumentError(self.name, "*IDN?", f"{idn!r} is not a PI C-887")
        self.idn = idn
        low = self.query_axes("TMN?")
        high = self.query_axes("TMX?")
        if set(low) != set(AXES) or set(high) != set(AXES):
            raise InstrumentReplyError(self.name, "TMN?/TMX?", f"expected axes {AXES}")
        self.travel: Envelope = {a: (low[a], high[a]) for a in AXES}
        self.envelope: Envelope = {}
        for axis, (lo, hi) in (envelope or {}).items():
            key = axis.upper()
            if key not in AXES or not lo <= hi:
                raise LimitError(f"{self.name} envelope axis", axis,
                                 f"one of {', '.join(AXES)} with low <= high")
            self.envelope[key] = (float(lo), float(hi))
        self._velocity = self.number("VLS?")
        self._pivot_letters: tuple[str, str, str] | None = None
        self.moves = 0  # MOV/MVR commands sent (alignment counts them)

    # -- settings -------------------------------------------------------------------------------
    def _get_velocity(self) -> float:
        return self._velocity

    def _set_velocity(self, mm_per_s: float) -> None:
        value = strict_range("hexapod system velocity", "mm/s")(mm_per_s, VELOCITY_RANGE)
        self.send(f"VLS {gcs_number(value)}")
        self._velocity = value

    velocity = limited(_get_velocity, _set_velocity, *VELOCITY_RANGE,
                       "System velocity (mm/s, ``VLS``); remembered, as read at connect.")

    def servo(self, on: bool = True) -> None:
        """``SVO X 1`` (the C-887 switches all axes together)."""
        self.send(f"SVO X {int(bool(on))}")

    def set_soft_limits(self, axis: str, low: float, high: float) -> None:
        """``NLM``/``PLM`` inside the travel range."""
        key = self._axis(axis)
        t_low, t_high = self.travel[key]
        for quantity, value in (("low", low), ("high", high)):
            number = finite(f"{self.name} soft limit {key} {quantity}", value)
            if not t_low <= number <= t_high:
                raise LimitError(f"{self.name} soft limit {key} {quantity}", value,
                                 f"{t_low:g} … {t_high:g} {UNITS[key]} (TMN?/TMX?)")
        if low > high:
            raise LimitError(f"{self.name} soft limits {key}", (low, high), "low <= high")
        self.send(f"NLM {key} {gcs_number(low)}")
        self.send(f"PLM {key} {gcs_number(high)}")

    # -- coordinate systems ---------------------------------------------------------------------
    def define_coordinate_system(self, name: str, pose: Pose) -> None:
        """``KSD <name> X.. Y.. Z.. U.. V.. W..``."""
        self.send(f"KSD {self._cs_name(name)} {self._axis_values(pose.as_dict())}")

    def enable_coordinate_system(self, name: str) -> None:
        """``KEN <name>`` (``ZERO`` is the default system)."""
        self.send(f"KEN {self._cs_name(name)}")

    def coordinate_system(self) -> str:
        """``KEN?``: the enabled coordinate system(s)."""
        return self.query("KEN?").strip()

    # -- Positioner6D ---------------------------------------------------------------------------
    def position(self) -> Pose:
        values = self.query_axes("POS?")
        missing = [a for a in AXES if a not in values]
        if missing:
            raise InstrumentReplyError(self.name, "POS?", f"no value for {', '.join(missing)}")
        return Pose(**{a.lower(): values[a] for a in AXES})

    def check_target(self, target: Pose) -> None:
        """Travel range and station envelope (no transaction)."""
        for axis, value in target.as_dict().items():
            key = axis.upper()
            number = finite(f"{self.name} target {key}", value)
            limits = [("travel range (TMN?/TMX?)", self.travel[key])]
            if key in self.envelope:
                limits.append(("station envelope", self.envelope[key]))
            for what, (low, high) in limits:
                if not low <= number <= high:
                    raise LimitError(f"{self.name} target {key}", value,
                                     f"{low:g} … {high:g} {UNITS[key]} ({what})")

    def reachable(self, target: Pose) -> bool:
        """``VMO?``: can the controller reach `target` (coupled workspace) ✔."""
        reply = self.ask(f"VMO? {self._axis_values(target.as_dict())}").strip()
        if reply not in ("0", "1"):
            raise InstrumentReplyError(self.name, "VMO?", f"expected 0 or 1, got {reply!r}")
        return reply == "1"

    def move_to(self, target: Pose, should_abort: AbortCheck | None = None) -> Pose:
        """Check, ``VMO?``, ``MOV``, wait on target (abortable); returns the pose reached."""
        self.require_armed("MOV")
        self.check_target(target)
        if not self.reachable(target):
            raise LimitError(f"{self.name} target", target,
                             "a pose the hexapod can reach (VMO? answered 0)")
        start = self.position()
        self.require_armed("MOV")
        self.send(f"MOV {self._axis_values(target.as_dict())}")
        self.moves += 1
        distance = max(abs(a - b) for a, b in zip(start.as_dict().values(),
                                                  target.as_dict().values(), strict=True))
        self.wait_on_target(distance / self._velocity, should_abort)
        return self.position()

    def move_by(self, should_abort: AbortCheck | None = None, **deltas: float) -> Pose:
        """Relative move (checked as the absolute target it leads to, then ``MVR``)."""
        here = self.position().as_dict()
        for axis, delta in deltas.items():
            here[axis.lower()] += finite(f"{self.name} relative move {axis}", delta)
        return self.move_to(Pose(**here), should_abort)

    def wait_on_target(self, expected_s: float, should_abort: AbortCheck | None = None) -> None:
        """Sleep the expected duration, then poll ``#5`` (``ONT?`` in dry runs) in ≤ 50 ms
        slices; ``#24`` on abort or safe_off."""
        deadline = self.clock.now() + expected_s + MOVE_MARGIN_S
        end = self.clock.now() + expected_s
        while True:
            if self.safed.is_set() or (should_abort is not None and should_abort()):
                self.stop_all()
                return
            now = self.clock.now()
            if now < end:
                self.clock.sleep(min(SLICE_S, end - now))
                continue
            if not self.is_moving():
                break
            if now > deadline:
                self.stop_all()
                raise InstrumentError(self.name, "#5", "still moving after the expected "
                                      f"{expected_s:.3g} s + {MOVE_MARGIN_S:g} s; stopped")
            self.clock.sleep(SLICE_S)
        if not all(self.on_target().values()):
            raise InstrumentError(self.name, "ONT?", "motion ended off target")

    def is_moving(self) -> bool:
        """``#5``: any axis moving (``ONT?`` instead in dry runs: pyvisa-sim needs LF)."""
        if self.dry_run:
            return not all(self.on_target().values())
        reply = self.single_query(MOTION_STATUS, "#5").strip()
        try:
            return int(reply, 16) != 0
        except ValueError:
            raise InstrumentReplyError(self.name, "#5", f"reply {reply!r} is not hex") from None

    def controller_ready(self) -> bool:
        """``#7``: chr(0xB1) ready, chr(0xB0) busy ✔."""
        return self.single_query(CONTROLLER_READY, "#7").strip() == READY

    def on_target(self) -> dict[str, bool]:
        return {a: v != "0" for a, v in parse_axis_reply(self.name, "ONT?",
                                                        self.query("ONT?")).items()}

    def referenced(self) -> bool:
        """``FRF?``: every axis referenced."""
        states = parse_axis_reply(self.name, "FRF?", self.query("FRF?"))
        return bool(states) and all(v == "1" for v in states.values())

    def reference(self, should_abort: AbortCheck | None = None,
                  timeout_s: float = REFERENCE_TIMEOUT_S) -> None:
        """``FRF`` (all axes together on the C-887), then poll ``FRF?`` in slices."""
        self.require_armed("FRF")
        self.send("FRF")
        deadline = self.clock.now() + timeout_s
        while not self.referenced():
            if self.safed.is_set() or (should_abort is not None and should_abort()):
                self.stop_all()
                return
            if self.clock.now() > deadline:
                raise InstrumentError(self.name, "FRF?", f"not referenced after {timeout_s} s")
            self.clock.sleep(SLICE_S * 10)  # FRF? is one transaction per 0.5 s

    def pivot(self) -> tuple[float, float, float]:
        """``SPI?`` in whichever letter set the firmware answers (R S T or X Y Z)."""
        values = self.query_axes("SPI?")
        for letters in PIVOT_SETS:
            if all(letter in values for letter in letters):
                self._pivot_letters = letters  # type: ignore[assignment]
                return (values[letters[0]], values[letters[1]], values[letters[2]])
        raise InstrumentReplyError(self.name, "SPI?", f"no R S T or X Y Z in {values}")

    def set_pivot(self, x: float, y: float, z: float) -> None:
        """``SPI`` (refused by the controller, error 9, unless U = V = W = 0)."""
        numbers = [finite(f"{self.name} pivot {c}", v) for c, v in zip("xyz", (x, y, z),
                                                                        strict=True)]
        if self._pivot_letters is None:
            self.pivot()
        assert self._pivot_letters is not None
        self.send("SPI " + " ".join(f"{letter} {gcs_number(v)}"
                                    for letter, v in zip(self._pivot_letters, numbers,
                                                         strict=True)))

    def halt(self) -> None:
        """``HLT`` (smooth stop, error 10 read away)."""
        self.write("HLT")
        self._clear_stop_error("HLT")

    def stop_all(self) -> None:
        """``#24``: immediate stop of every axis; the error 10 it latches is read away."""
        with self.lock:
            self.single(STOP_ALL, "#24")
            self._clear_stop_error("#24")

    def _clear_stop_error(self, command: str) -> None:
        code, message = self.next_error
        if code not in (0, 10):
            raise InstrumentError(self.name, command, f"controller reported {code}, {message}")

    def safe_off(self) -> None:
        """Stop all (``#24``) from any state, and hold motion off until rearm()."""
        self.safed.set()
        problems = self.safe_steps([self.stop_all])
        if problems:
            raise problems[0]

    # -- helpers --------------------------------------------------------------------------------
    def _axis(self, axis: str) -> str:
        key = str(axis).upper()
        if key not in AXES:
            raise LimitError(f"{self.name} axis", axis, ", ".join(AXES))
        return key

    def _axis_values(self, values: dict[str, float]) -> str:
        return " ".join(f"{self._axis(a)} {gcs_number(finite(f'{self.name} {a}', v))}"
                        for a, v in values.items())

    def _cs_name(self, name: str) -> str:
        if not (isinstance(name, str) and name.isidentifier() and len(name) <= 8):
            raise LimitError(f"{self.name} coordinate system name", name,
                             "an identifier of at most 8 characters ?")
        return name
