"""The pyvisa backend over the simulated bench: names, timeouts, clear, STB, trigger, faults."""

from __future__ import annotations

import pytest
import pyvisa
from pyvisa.constants import StatusCode
from pyvisa.errors import VisaIOError

from labsyn.mock_instruments.bench import Bench, single_smu_bench
from labsyn.mock_instruments.keithley_2450 import SimKeithley2450
from labsyn.mock_instruments.resistor import Resistor

IDN = SimKeithley2450.idn
NAMES = ["GPIB0::24::INSTR", "TCPIP0::192.168.1.24::inst0::INSTR",
         "USB0::0x05E6::0x2450::04488850::INSTR"]


@pytest.fixture
def bench() -> Bench:
    return single_smu_bench(NAMES, SimKeithley2450(), Resistor(1e3))


def open_smu(bench: Bench, name: str = NAMES[0]) -> pyvisa.resources.MessageBasedResource:
    rm = pyvisa.ResourceManager(bench.visa_library())
    return rm.open_resource(name, read_termination="\n", write_termination="\n")


@pytest.mark.parametrize("name", NAMES)
def test_standard_resource_names_open_with_pyvisa_classes(bench: Bench, name: str) -> None:
    inst = open_smu(bench, name)
    assert inst.query("*IDN?") == IDN
    expected = {"GPIB": "GPIBInstrument", "TCPIP": "TCPIPInstrument", "USB": "USBInstrument"}
    assert type(inst).__name__ == expected[name.split("0")[0]]


def test_unknown_address_is_not_found(bench: Bench) -> None:
    rm = pyvisa.ResourceManager(bench.visa_library())
    with pytest.raises(VisaIOError) as info:
        rm.open_resource("GPIB0::5::INSTR")
    assert info.value.error_code == StatusCode.error_resource_not_found


def test_read_without_reply_times_out_after_tmo_on_the_bench_clock(bench: Bench) -> None:
    inst = open_smu(bench)
    inst.timeout = 750
    before = bench.clock.now()
    with pytest.raises(VisaIOError) as info:
        inst.read()
    assert info.value.error_code == StatusCode.error_timeout
    assert bench.clock.now() - before == pytest.approx(0.75, abs=0.01)
    assert inst.query(":SYST:ERR?").startswith("-420")


def test_reply_later_than_timeout_times_out_then_arrives(bench: Bench) -> None:
    inst = open_smu(bench)
    inst.write(":SENS:CURR:NPLC 10;:SENS:COUN 10;:OUTP ON")
    inst.timeout = 100
    with pytest.raises(VisaIOError):
        inst.query(":MEAS:CURR?")
    inst.timeout = 10_000
    assert float(inst.read()) == pytest.approx(0.0, abs=1e-6)


def test_clear_drops_a_pending_reply(bench: Bench) -> None:
    inst = open_smu(bench)
    inst.write("*IDN?")
    inst.clear()
    assert inst.query(":SOUR:FUNC?") == "VOLT"


def test_status_byte_shows_error_available(bench: Bench) -> None:
    inst = open_smu(bench)
    assert inst.read_stb() & 0x04 == 0
    inst.write(":NOT:A:COMMAND")
    assert inst.read_stb() & 0x04


def test_assert_trigger_reaches_the_instrument(bench: Bench) -> None:
    inst = open_smu(bench)
    inst.assert_trigger()
    assert inst.query("*OPC?") == "1"


def test_transport_latency_advances_the_clock(bench: Bench) -> None:
    inst = open_smu(bench)
    before = bench.clock.now()
    for _ in range(10):
        inst.query("*IDN?")
    assert bench.clock.now() - before >= 10 * 2 * bench.latency_s


@pytest.mark.parametrize(("kind", "check"), [
    ("garbled", lambda reply: reply != IDN),
    ("truncated", lambda reply: IDN.startswith(reply) and len(reply) < len(IDN)),
])
def test_reply_faults_are_injected_once(bench: Bench, kind: str, check) -> None:  # type: ignore[no-untyped-def]
    inst = open_smu(bench)
    bench.faults.inject(NAMES[0], "*IDN?", kind)  # type: ignore[arg-type]
    assert check(inst.query("*IDN?"))
    assert inst.query("*IDN?") == IDN


def test_timeout_fault_withholds_the_reply(bench: Bench) -> None:
    inst = open_smu(bench)
    inst.timeout = 200
    bench.faults.inject(NAMES[0], ":SOUR:FUNC?", "timeout")
    with pytest.raises(VisaIOError):
        inst.query(":SOUR:FUNC?")
    assert inst.query(":SOUR:FUNC?") == "VOLT"


def test_lost_connection_persists_until_reconnected(bench: Bench) -> None:
    inst = open_smu(bench)
    bench.faults.inject(NAMES[0], "*IDN?", "disconnect")
    for _ in range(2):
        with pytest.raises(VisaIOError) as info:
            inst.query("*IDN?")
        assert info.value.error_code == StatusCode.error_connection_lost
    bench.faults.reconnect(NAMES[0])
    assert inst.query("*IDN?") == IDN


def test_error_fault_lands_in_the_error_queue(bench: Bench) -> None:
    inst = open_smu(bench)
    bench.faults.inject(NAMES[0], ":OUTP ON", "error", error=(-300, "Device-specific error"))
    inst.write(":OUTP ON")
    assert inst.query(":SYST:ERR?") == '-300,"Device-specific error"'


def test_stale_fault_puts_replies_out_of_step(bench: Bench) -> None:
    inst = open_smu(bench)
    assert inst.query(":SOUR:FUNC?") == "VOLT"
    bench.faults.inject(NAMES[0], "*IDN?", "stale")
    assert inst.query("*IDN?") == "VOLT"


def test_benches_do_not_share_state() -> None:
    first, second = Bench(), Bench()
    first.add_instrument(NAMES[0], SimKeithley2450())
    second.add_instrument(NAMES[0], SimKeithley2450())
    a, b = open_smu(first), open_smu(second)
    a.write(":SOUR:VOLT 1.5")
    assert float(b.query(":SOUR:VOLT?")) == 0.0
    assert first.visa_library() is not second.visa_library()


def test_unknown_fault_kind_is_refused(bench: Bench) -> None:
    with pytest.raises(ValueError, match="fault kind 'melt'"):
        bench.faults.inject(NAMES[0], "", "melt")  # type: ignore[arg-type]
