"""The stock pyvisa-sim model of the B2902A (pyvisa_sim/keysight_b2900.yaml) with its driver.

Every message `KeysightB2900` sends is split by pyvisa-sim on ";" and each piece must match a
dialogue or a setter exactly; anything else queues an error (and CME in `*ESR?`), an unanswered
query times out. Each test ends with `assert_in_step`. The cached library is reset with
`visalib._init()` once per module and after each test (pyvisa-sim keeps devices across resource
managers: tests/pyvisa_sim_support.py); channels are looped inside the tests, since each reset
re-reads the YAML.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pyvisa.rname import to_canonical_name

from labsyn.drivers.capabilities import SpotReading
from labsyn.drivers.keysight_b2900 import B2900Channel, KeysightB2900
from labsyn.drivers.keysight_b2900_program import (
    MAX_COUNT,
    MAX_CURRENT,
    MAX_NPLC,
    MAX_PULSE_WIDTH,
    MAX_TIME,
    MAX_VOLTAGE,
    MIN_CURRENT_LIMIT,
    MIN_NPLC,
    MIN_PULSE_WIDTH,
    MIN_TRIGGER_INTERVAL,
)
from labsyn.drivers.sequence import PulseTrain, Sequence, Staircase, bipolar_loop
from labsyn.errors import InstrumentReplyError
from tests.pyvisa_sim_support import (
    PyvisaSim,
    assert_reads_back,
    assert_spec_matches_limits,
    properties,
    record,
)

IDN = "Keysight Technologies,B2902A,MY51141234,3.4.2011.5100"
ADDRESSES = ("GPIB0::23::INSTR", "TCPIP0::192.168.1.23::inst0::INSTR",
             "USB0::0x0957::0x8C18::MY51141234::INSTR")
SOCKET = "TCPIP0::192.168.1.23::5025::SOCKET"
BUFFER_POINTS = 5  # the YAML's static :FETC:ARR? holds 5 readings
SIM_ERROR = (-100, "Command error (pyvisa-sim: no match, or value out of spec)")


SIM = PyvisaSim(KeysightB2900, "keysight_b2900.yaml", IDN, ADDRESSES[0])
assert_in_step = SIM.assert_in_step


@pytest.fixture(autouse=True, scope="module")
def fresh_simulation() -> None:
    SIM.reset()


@pytest.fixture
def smu() -> Iterator[KeysightB2900]:
    with SIM.opened() as instrument:
        yield instrument


# -- the file and its addresses ----------------------------------------------------------------
def test_yaml_lists_the_station_addresses() -> None:
    assert SIM.data()["spec"] == "1.1"
    assert {to_canonical_name(a) for a in (*ADDRESSES, SOCKET)} <= SIM.listed()


def test_driver_opens_at_every_address() -> None:
    for address in (*ADDRESSES, SOCKET):
        with SIM.opened(address) as smu:
            assert smu.model == "B2902A" and list(smu.channels_by_number) == [1, 2]
            assert smu.line_frequency == 50.0
            assert_in_step(smu)


def test_unmatched_command_queues_an_error_and_no_stale_reply(smu: KeysightB2900) -> None:
    smu.write(":BOGUS 1")
    smu.write(":OUTP1:OFF:MODE OFF")
    assert smu.ask("*ESR?").strip() == "32"
    assert smu.errors() == [SIM_ERROR, SIM_ERROR]
    assert_in_step(smu)


# -- channel properties, on both channels ------------------------------------------------------
BOTH = (True, False)
SETTABLE: dict[str, tuple[Any, ...]] = {
    "source_function": ("current", "voltage"),
    "source_shape": ("pulse", "dc"),
    "source_mode": ("list", "sweep", "fixed"),
    "source_voltage_range": (0.2, 20.0, MAX_VOLTAGE),
    "source_voltage_range_auto": BOTH,
    "pulse_width": (MIN_PULSE_WIDTH, 1e-3, MAX_PULSE_WIDTH),
    "pulse_delay": (0.0, 1e-4, MAX_TIME),
    "voltage_limit": (0.0, 2.0, MAX_VOLTAGE),
    "current_nplc": (MIN_NPLC, 0.1, MAX_NPLC),
    "current_aperture": (8e-6, 0.02, 2.0),
    "current_range": (1e-7, 1e-3, MAX_CURRENT),
    "current_range_auto": BOTH,
    "output_enabled": BOTH,
    "output_off_mode": ("high_impedance", "zero", "normal"),
    "output_protection": BOTH,
    "trigger_count": (1, 250, MAX_COUNT),
    "trigger_interval": (MIN_TRIGGER_INTERVAL, 0.01, MAX_TIME),
    "acquire_delay": (0.0, 1e-3, MAX_TIME),
    "transient_delay": (0.0, 1e-3, MAX_TIME),
    "current_limit": (MIN_CURRENT_LIMIT, 1e-3, 0.105),
    "source_voltage": (-MAX_VOLTAGE, -1.5, 0.0, 2.5e-3, MAX_VOLTAGE),
    "triggered_voltage": (-MAX_VOLTAGE, 1.5, MAX_VOLTAGE),
}
READ_ONLY = {"current_limit_tripped": False}


def test_every_channel_property_is_covered() -> None:
    assert properties(B2900Channel) == set(SETTABLE) | set(READ_ONLY)


@pytest.mark.parametrize(("name", "values"), SETTABLE.items(), ids=list(SETTABLE))
def test_property_set_and_get_on_both_channels(smu: KeysightB2900, name: str,
                                               values: tuple[Any, ...]) -> None:
    for target in smu.channels_by_number.values():
        assert_reads_back(target, name, values)
        assert target.current_limit_tripped is False
    assert_in_step(smu)


RANGES = [
    ("pulse_width", ":SOUR{n}:PULS:WIDT {v:.9g}", MIN_PULSE_WIDTH, MAX_PULSE_WIDTH),
    ("current_nplc", ":SENS{n}:CURR:NPLC {v:.9g}", MIN_NPLC, MAX_NPLC),
    ("current_range", ":SENS{n}:CURR:RANG {v:.9g}", 1e-7, MAX_CURRENT),
    ("trigger_interval", ":TRIG{n}:TIM {v:.9g}", MIN_TRIGGER_INTERVAL, MAX_TIME),
    ("trigger_count", ":TRIG{n}:COUN {v:d}", 1, MAX_COUNT),
    ("source_voltage", ":SOUR{n}:VOLT {v:.9g}", -MAX_VOLTAGE, MAX_VOLTAGE),
]


@pytest.mark.parametrize(("name", "command", "low", "high"), RANGES, ids=[r[0] for r in RANGES])
def test_specs_match_driver_limits(smu: KeysightB2900, name: str, command: str, low: float,
                                   high: float) -> None:
    for n in (1, 2):
        assert_spec_matches_limits(SIM, smu, smu.channels_by_number[n], name,
                                   lambda v, n=n: command.format(n=n, v=v), low, high,
                                   SIM_ERROR)


# -- SourceMeter capability --------------------------------------------------------------------
def test_apply_voltage_then_measure(smu: KeysightB2900) -> None:
    for ch in smu.channels_by_number.values():
        ch.apply_voltage(1.5, 1e-3)
        assert ch.source_voltage == 1.5 and ch.current_limit == 1e-3
        assert ch.output_enabled is True and ch.output_protection is False
        assert ch.measure() == SpotReading(voltage=1.0, current=1e-6, limited=False)
    assert_in_step(smu)


def pulse_train(points: int = BUFFER_POINTS, **kwargs: Any) -> Sequence:
    kwargs.setdefault("read_level", 0.1)
    amplitudes = tuple(0.5 + 0.1 * i for i in range(points))
    train = PulseTrain(amplitudes, width=1e-3, period=0.01, current_limit=1e-3,
                       read_delay=1e-4, label="pot", **kwargs)
    return Sequence("TE", (train,), nplc=0.01)


@pytest.mark.parametrize("sequence", [
    bipolar_loop(1.0, 1.0, 0.5, dwell=0.01, set_limit=1e-4, reset_limit=1e-3, nplc=0.1),
    Sequence("TE", (Staircase.ramp(0.0, 1.0, 0.25, 0.01, 1e-3, stop_on_limit=True),)),
    pulse_train(),
    pulse_train(read_level=0.0),
    Sequence("TE", (PulseTrain.identical(1.0, 5, 1e-3, 0.01, 1e-3, read_level=0.2),), 0.01),
], ids=["bipolar", "stop-on-limit", "train", "train-read-at-base", "train-identical"])
def test_sequences_run_clean_on_both_channels(smu: KeysightB2900, sequence: Sequence) -> None:
    sent = record(smu)
    for n, ch in smu.channels_by_number.items():
        data = ch.run(sequence)
        assert len(data) == BUFFER_POINTS * len(sequence.segments) and not data.aborted
        assert list(data.current[:BUFFER_POINTS]) == [1e-12, 5e-7, 1e-6, 5e-7, 1e-12]
        assert sent.count(f":INIT (@{n});*OPC?") == len(sequence.segments)
    assert_in_step(smu)


def test_a_train_without_reads_is_not_fetched(smu: KeysightB2900) -> None:
    sent = record(smu)
    assert len(smu.channels_by_number[1].run(pulse_train(read_level=None))) == 0
    assert not any(m.startswith(":FETC") for m in sent)
    assert_in_step(smu)


@pytest.mark.parametrize("sequence", [
    bipolar_loop(1.5, 1.5, 0.5, 0.01, 1e-4, 1e-3, nplc=0.1),  # 7 points per segment
    Sequence("TE", (Staircase(tuple(0.01 * (i % 7) for i in range(201)), 0.0, 1e-3),)),
    pulse_train(120),
], ids=["bipolar-7", "list-201", "train-120"])
def test_other_counts_fail_but_stay_in_step_unless_dry_run(smu: KeysightB2900,
                                                           sequence: Sequence) -> None:
    ch = smu.channels_by_number[1]
    with pytest.raises(InstrumentReplyError, match="returned 5 readings, expected"):
        ch.run(sequence)
    assert_in_step(smu)
    smu.dry_run = True
    assert len(ch.run(sequence)) == BUFFER_POINTS * len(sequence.segments)
    assert_in_step(smu)


def test_abort_reads_the_pending_reply_where_there_is_no_device_clear(smu: KeysightB2900
                                                                      ) -> None:
    sent = record(smu)
    checks = iter((False, True))
    data = smu.channels_by_number[2].run(pulse_train(), should_abort=lambda: next(checks))
    assert data.aborted and sent[-1] == ":ABOR (@2)"
    assert_in_step(smu)


def test_safe_off_switches_both_channels_off(smu: KeysightB2900) -> None:
    for ch in smu.channels_by_number.values():
        ch.apply_voltage(1.0, 1e-3)
    sent = record(smu)
    smu.safe_off()
    assert sent[0] == ":ABOR (@1,2)" and sent[-2:] == [":OUTP1?", ":OUTP2?"]
    for ch in smu.channels_by_number.values():
        assert ch.output_enabled is False and ch.source_voltage == 0.0
    assert_in_step(smu)
    smu.rearm()
