"""The simulated B1500A at the FLEX level, through the VISA seam (no driver): module list,
errors, the module envelope, timing of sweeps and pulses, automatic and manual aborts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import pyvisa

from labsyn.mock_instruments.bench import Bench
from labsyn.mock_instruments.keysight_b1500 import SimKeysightB1500
from labsyn.mock_instruments.resistor import Resistor

ADDRESS = "GPIB0::17::INSTR"


class Flex:
    """Raw FLEX over pyvisa on a bench: a 10 kΩ resistor on slot 1 (MPSMU)."""

    def __init__(self) -> None:
        self.bench = Bench()
        self.sim = self.bench.add_instrument(ADDRESS, SimKeysightB1500())
        dut = self.bench.add_dut("dut", Resistor(10e3))
        self.bench.wire(dut, "TE", self.sim.channels_by_number[1])
        self.bench.wire(dut, "BE", "ground")
        self.manager = pyvisa.ResourceManager(self.bench.visa_library())
        self.io: Any = self.manager.open_resource(ADDRESS, read_termination="\r\n",
                                                  write_termination="\r\n")
        self.io.timeout = 20_000

    def ask(self, message: str) -> str:
        return self.io.query(message)

    def errors(self) -> list[str]:
        found = []
        while (reply := self.ask("ERRX?")) != '+0,"No Error."':
            found.append(reply)
        return found

    def items(self, reply: str) -> list[str]:
        return reply.split(",")

    def now(self) -> float:
        return self.bench.clock.now()


@pytest.fixture
def flex() -> Iterator[Flex]:
    made = Flex()
    yield made
    made.io.close()
    made.manager.close()


def test_identity_modules_and_empty_error_queue(flex: Flex) -> None:
    assert flex.ask("*IDN?") == "Agilent Technologies,B1500A,0,A.06.01.2019.0308"
    assert flex.ask("UNT? 0") == "B1511B,0;B1517A,0;B1520A,0;B1510A,0;" + ";".join(["0,0"] * 6)
    assert flex.ask("ERRX?") == '+0,"No Error."'
    assert sorted(flex.sim.channels_by_number) == [1, 2, 4]


def test_errors_are_queued_with_positive_codes_and_the_message_goes_on(flex: Flex) -> None:
    flex.io.write("FOO 1;CN 1;DV 3,0,1,0.001;DV 1,0,1,0.001")
    assert flex.ask("*LRN? 0") == "CN1"  # what followed the errors still ran
    errors = flex.errors()
    assert errors[0].startswith("+100,") and errors[1].startswith('+150,"Command not available')
    assert len(errors) == 2


@pytest.mark.parametrize(("command", "detail"), [
    ("DV 1,0,30,0.08", "compliance 0.08 A at 30 V"),  # MPSMU: 50 mA above 20 V
    ("DV 1,0,101,0.001", "beyond 100 V"),
    ("DV 4,0,150,0.1", "at most 0.05"),  # HPSMU above 100 V
    ("DV 2,0,1,0", "compliance 0 A"),
    ("PT 0,0.0002,0.01", "pulse width"),
    ("PT 0,0.001,0.0025", "pulse period 0.0025"),
    ("PWV 1,1,0,0,1,-0.1,2,0.001", "same polarity"),
    ("WV 1,1,0,0,1,10002,0.001", "step 10002"),
    ("MM 3,1,2", "MM 3 channels"),
])
def test_settings_beyond_the_instrument_are_errors(flex: Flex, command: str, detail: str) -> None:
    flex.io.write("CN 1,2,4")
    flex.io.write(command)
    (error,) = flex.errors()
    assert detail in error


def test_sourcing_needs_the_output_switch_and_bc_needs_its_own_message(flex: Flex) -> None:
    flex.io.write("DV 1,0,1,0.001")
    flex.io.write("CN 1;BC")
    errors = flex.errors()
    assert errors[0].startswith("+160,") and errors[1].startswith("+170,")


def test_spot_measurement_is_the_reply_of_ti_and_tv(flex: Flex) -> None:
    flex.io.write("CN 1;DV 1,0,0.5,0.001")
    flex.io.write("TI 1,0;TV 1,0")
    current, voltage = flex.io.read(), flex.io.read()
    assert current.startswith("NAI") and float(current[3:]) == pytest.approx(5e-5, rel=1e-3)
    assert voltage.startswith("NAV") and float(voltage[3:]) == pytest.approx(0.5, rel=1e-3)
    flex.io.write("DV 1,0,5,0.0001")
    reply = flex.ask("TI 1,0")
    assert reply.startswith("CAI") and float(reply[3:]) == pytest.approx(1e-4)


def test_staircase_timing_follows_wt_and_the_adc(flex: Flex) -> None:
    flex.io.write("CN 1;FMT 1,0;MM 2,1;AIT 0,2,1;WT 0.1,0.01,0;WM 1,2;WV 1,1,0,0,1,11,0.001")
    start = flex.now()
    items = flex.items(flex.ask("XE"))
    elapsed = flex.now() - start
    assert len(items) == 11 and all(i.startswith("NAI") for i in items)
    assert float(items[-1][3:]) == pytest.approx(1e-4, rel=1e-3)
    assert elapsed == pytest.approx(0.1 + 11 * (0.01 + 0.02 + 200e-6), rel=0.01)  # 1 PLC at 50 Hz
    assert flex.sim.smus[1].channel.state_at(flex.now()).level == 1.0  # WM post 2: stop value


def test_wm2_aborts_at_compliance_and_returns_dummy_data_after_it(flex: Flex) -> None:
    flex.io.write("CN 1;MM 2,1;WT 0,0.001,0;WM 2,2;WV 1,1,0,0,1,11,0.00005")  # trips above 0.5 V
    items = flex.items(flex.ask("XE"))
    assert [i[0] for i in items] == ["N"] * 6 + ["C"] + ["V"] * 4
    assert items[-1] == "VAI+199.999E+99"
    assert flex.sim.smus[1].channel.state_at(flex.now()).level == 0.0  # back to the start value


def test_pulsed_sweep_pulses_at_the_period_and_measures_in_the_pulse(flex: Flex) -> None:
    flex.io.write("CN 1;MM 4,1;PT 0,0.001,0.005;WM 1,1;PWV 1,1,0,0,1,0.1,2,0.001")
    start = flex.now()
    flex.io.write("XE")
    channel = flex.sim.smus[1].channel
    assert channel.state_at(start + 0.0005).level == 1.0  # the first pulse
    assert channel.state_at(start + 0.003).level == 0.0  # back to base between pulses
    assert channel.state_at(start + 0.0055).level == pytest.approx(0.1)  # the second
    write, read = flex.items(flex.io.read())
    assert float(write[3:]) == pytest.approx(1e-4, rel=1e-3)
    assert float(read[3:]) == pytest.approx(1e-5, rel=1e-3)
    assert flex.now() - start == pytest.approx(0.006, abs=5e-4)


def test_pulsed_spot_is_one_pulse_from_base(flex: Flex) -> None:
    flex.io.write("CN 1;MM 3,1;PT 0.01,0.002;PV 1,0,0,2,0.001")
    (item,) = flex.items(flex.ask("XE"))
    assert float(item[3:]) == pytest.approx(2e-4, rel=1e-3)


def test_triggers_queue_one_after_another_and_each_returns_a_block(flex: Flex) -> None:
    flex.io.write("CN 1;MM 4,1;PT 0,0.001,0.005;PWV 1,1,0,0,1,0.1,2,0.001")
    start = flex.now()
    flex.io.write("XE;XE;XE")
    blocks = [flex.items(flex.io.read()) for _ in range(3)]
    assert [len(b) for b in blocks] == [2, 2, 2]
    assert flex.now() - start == pytest.approx(3 * 0.006, abs=1e-3)


def test_ab_stops_the_running_sweep_with_the_data_taken_so_far(flex: Flex) -> None:
    flex.io.write("CN 1;MM 2,1;WT 0,0.1,0;WM 1,2;WV 1,1,0,0,1,11,0.001")
    flex.io.write("XE")
    flex.bench.clock.sleep(0.35)
    flex.io.write("AB")
    items = flex.items(flex.io.read())
    assert len(items) == 3  # no dummy data after a manual abort
    assert flex.sim.smus[1].channel.state_at(flex.now() + 1).level == 0.0


def test_device_clear_drops_queued_triggers_and_their_data(flex: Flex) -> None:
    flex.io.write("CN 1;MM 4,1;PT 0,0.001,0.005;PWV 1,1,0,0,1,0.1,2,0.001")
    flex.io.write("XE;XE;XE;XE")
    flex.bench.clock.sleep(0.008)
    flex.io.clear()
    assert not flex.sim.runs and not flex.sim.output
    assert flex.ask("ERRX?") == '+0,"No Error."'
    assert flex.sim.smus[1].channel.state_at(flex.now() + 1).level == 0.0  # the base


def test_dz_cl_and_learn_switch_state(flex: Flex) -> None:
    flex.io.write("CN 1,2;DV 1,0,1,0.001;DV 2,0,2,0.001")
    assert flex.ask("*LRN? 0") == "CN1,2"
    assert flex.ask("*LRN? 1") == "DV1,0,+1.0000E+00,+1.0000E-03,0,0"
    flex.io.write("DZ")
    assert flex.sim.smus[2].channel.state_at(flex.now()).level == 0.0
    flex.io.write("RZ 2")
    assert flex.sim.smus[2].channel.state_at(flex.now()).level == 2.0
    flex.io.write("CL")
    assert flex.ask("*LRN? 0") == "CL" and flex.ask("*LRN? 2") == "CL2"
    assert flex.sim.smus[1].channel.state_at(flex.now()).floating  # output switch open
