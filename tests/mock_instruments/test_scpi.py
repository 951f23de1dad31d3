"""The shared SCPI engine: mnemonics, chaining, relative paths, error queue, status byte."""

from __future__ import annotations

import pytest

from labsyn.mock_instruments.scpi import (
    STB_EAV,
    STB_MAV,
    Call,
    CommandTree,
    ScpiEngine,
    compile_pattern,
    split_params,
    split_units,
)


class Echo(ScpiEngine):
    def __init__(self) -> None:
        tree = CommandTree()
        self.level = 0.0
        tree.add("[:SOURce#]:VOLTage[:LEVel]", setter=self._set, query=lambda c: f"{self.level:g}")
        tree.add("[:SOURce#]:VOLTage:ILIMit", setter=self._set_limit, query=lambda c: "1e-3")
        tree.add(":TRIGger:TIMer#:DELay", query=lambda c: str(c.suffixes[0]))
        super().__init__(tree)
        self.limit = 0.0

    def _set(self, call: Call) -> None:
        call.require(1)
        self.level = call.number(0, -10, 10)

    def _set_limit(self, call: Call) -> None:
        self.limit = call.number(0, 0, 1)

    def ask(self, message: str) -> str:
        self.receive(message.encode(), 0.0)
        return self.output.popleft().data.decode().strip()


@pytest.mark.parametrize("header", [":SOUR:VOLT", ":SOURCE:VOLTAGE", ":source:volt:level",
                                    "VOLT", ":SOUR1:VOLT:LEV", "sour:voltage"])
def test_short_long_optional_and_case_forms_match(header: str) -> None:
    engine = Echo()
    engine.receive(f"{header} 2.5".encode(), 0.0)
    assert engine.level == 2.5
    assert engine.status.pop() == (0, "No error")


def test_partial_mnemonic_is_not_a_match() -> None:
    assert compile_pattern("[:SOURce]:VOLTage").match(":SOURC:VOLT") is None


def test_chained_units_share_the_header_path_and_answer_in_one_reply() -> None:
    engine = Echo()
    assert engine.ask(":SOUR:VOLT:ILIM 0.5;LEV 1;:SOUR:VOLT:LEV?;ILIM?") == "1;1e-3"
    assert engine.limit == 0.5
    engine.receive(b":SOUR:VOLT 1;ILIM 0.5", 0.0)
    assert engine.status.pop()[0] == -113


def test_numeric_suffix_is_passed_to_the_handler() -> None:
    assert Echo().ask(":TRIG:TIM3:DEL?") == "3"
    assert Echo().ask(":TRIG:TIM:DEL?") == "1"


@pytest.mark.parametrize(("message", "code"), [(":FOO 1", -113), (":SOUR:VOLT 11", -222),
                                                (":SOUR:VOLT", -109), (":SOUR:VOLT abc", -104)])
def test_errors_carry_the_scpi_code(message: str, code: int) -> None:
    engine = Echo()
    engine.receive(message.encode(), 0.0)
    assert engine.status.pop()[0] == code
    assert engine.status_byte() & STB_EAV == 0


def test_an_error_stops_the_rest_of_the_message() -> None:
    engine = Echo()
    engine.receive(b":FOO;:SOUR:VOLT 3", 0.0)
    assert engine.level == 0.0


def test_unread_reply_is_interrupted_by_the_next_message() -> None:
    engine = Echo()
    engine.receive(b":SOUR:VOLT?", 0.0)
    assert engine.status_byte() & STB_MAV
    engine.receive(b":SOUR:VOLT 1", 0.0)
    assert engine.status.pop()[0] == -410
    assert not engine.output


def test_common_commands_and_event_status_register() -> None:
    engine = Echo()
    engine.receive(b":FOO", 0.0)
    assert engine.ask("*ESR?") == "32"
    assert engine.ask("*ESR?") == "0"
    engine.receive(b"*CLS", 0.0)
    assert not engine.status.errors


def test_error_queue_overflow_reports_minus_350() -> None:
    engine = Echo()
    for _ in range(40):
        engine.receive(b":FOO", 0.0)
    entries = list(engine.status.errors)
    assert len(entries) == engine.status.capacity
    assert entries[-1][0] == -350


def test_splitting_respects_quotes_and_parentheses() -> None:
    assert split_units(':TRAC:DATA? 1,2,"a;b";*OPC?') == [':TRAC:DATA? 1,2,"a;b"', "*OPC?"]
    assert split_params('1, "x,y", (@1,2)') == ["1", '"x,y"', "(@1,2)"]
