"""The Runner: states, one terminal status, safe state on every exit path, abort latency."""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

import pytest

from labsyn.engine import Runner, RunSink, RunState
from labsyn.errors import InstrumentError, LimitError

from .conftest import SweepProtocol, output_of


class Recorder(RunSink):
    def __init__(self) -> None:
        self.states: list[RunState] = []
        self.rows = 0
        self.finished: list[Any] = []
        self.progress: list[tuple[float, float]] = []

    def on_state(self, state: RunState, message: str) -> None:
        self.states.append(state)

    def on_data(self, block: Any) -> None:
        self.rows += len(block["time"])

    def on_progress(self, done: float, total: float, message: str) -> None:
        self.progress.append((done, total))

    def on_finish(self, result: Any) -> None:
        self.finished.append(result)


def terminal_states(recorder: Recorder) -> list[RunState]:
    return [s for s in recorder.states if s.terminal]


def test_a_completed_run_reports_once_and_leaves_the_output_off(station: Any) -> None:
    recorder = Recorder()
    result = Runner(station, SweepProtocol(), {"blocks": 3, "points": 50},
                    sinks=[recorder]).run()
    assert result.status == RunState.COMPLETED
    assert result.rows == recorder.rows == 150
    assert result.figures["rows"].value == 150
    assert recorder.states[0] == RunState.RUNNING
    assert terminal_states(recorder) == [RunState.COMPLETED]
    assert len(recorder.finished) == 1
    assert recorder.progress[-1] == (3, 3)
    assert output_of(station) == "OFF"


def test_an_exception_in_the_protocol_fails_the_run_with_its_message(station: Any) -> None:
    recorder = Recorder()
    result = Runner(station, SweepProtocol(), {"blocks": 3, "fail_in_block": 2},
                    sinks=[recorder]).run()
    assert result.status == RunState.FAILED
    assert "protocol bug in block 2" in result.message
    assert terminal_states(recorder) == [RunState.FAILED]
    assert result.rows == 200  # the first block's data is kept
    assert output_of(station) == "OFF"


def test_abort_mid_sweep_lands_within_100_ms_of_clock_time(paced_station: Any) -> None:
    recorder = Recorder()
    runner = Runner(paced_station, SweepProtocol(), {"points": 2000, "dwell": 0.01},
                    sinks=[recorder])
    runner.start()
    time.sleep(0.3)  # 3 s of a 20 s staircase at 10x
    assert output_of(paced_station) == "ON"
    t_abort = paced_station.clock.now()
    runner.abort("operator abort")
    result = runner.wait(10)
    assert result is not None and result.status == RunState.ABORTED
    assert result.message == "operator abort"
    data = runner.data()
    assert 0 < len(data) < 2000
    assert data["time"].max() <= t_abort + 0.1
    assert output_of(paced_station) == "OFF"
    assert terminal_states(recorder) == [RunState.ABORTED]


def test_pause_holds_at_a_checkpoint_and_resume_finishes(paced_station: Any) -> None:
    recorder = Recorder()
    runner = Runner(paced_station, SweepProtocol(),
                    {"blocks": 6, "points": 5, "sleep": 0.5}, sinks=[recorder])
    runner.start()
    time.sleep(0.08)
    runner.pause()
    deadline = time.monotonic() + 5
    while runner.state != RunState.PAUSED and time.monotonic() < deadline:
        time.sleep(0.01)
    assert runner.state == RunState.PAUSED
    rows = recorder.rows
    time.sleep(0.3)
    assert recorder.rows == rows  # nothing measured while paused
    runner.resume()
    result = runner.wait(20)
    assert result is not None and result.status == RunState.COMPLETED
    assert result.rows == 30
    assert RunState.PAUSED in recorder.states
    assert terminal_states(recorder) == [RunState.COMPLETED]


def test_abort_while_paused_ends_aborted(paced_station: Any) -> None:
    runner = Runner(paced_station, SweepProtocol(), {"blocks": 6, "points": 5, "sleep": 0.5})
    runner.start()
    runner.pause()
    time.sleep(0.2)
    runner.abort("stop while paused")
    result = runner.wait(10)
    assert result is not None and result.status == RunState.ABORTED
    assert output_of(paced_station) == "OFF"


def test_emergency_stop_turns_the_output_off_and_it_stays_off(paced_station: Any) -> None:
    runner = Runner(paced_station, SweepProtocol(),
                    {"points": 40, "dwell": 0.01, "blocks": 50})  # many pieces to restart
    runner.start()
    time.sleep(0.3)
    runner.emergency_stop()
    seen = [output_of(paced_station)]  # at once, from this thread
    while runner.wait(0.005) is None:
        seen.append(output_of(paced_station))
    assert set(seen) == {"OFF"}  # never on again, although the worker was between pieces
    assert runner.result is not None and runner.result.status == RunState.ABORTED


def test_outputs_stay_off_after_a_safe_state_until_a_run_rearms(station: Any) -> None:
    smu = station.terminal("TE").driver
    station.safe_state()
    with pytest.raises(InstrumentError, match="held off after safe_off"):
        smu.apply_voltage(0.5, 1e-3)
    assert output_of(station) == "OFF"
    result = Runner(station, SweepProtocol(), {"points": 5}).run()  # the engine rearms
    assert result.status == RunState.COMPLETED


class ExitingSink(RunSink):
    def on_finish(self, result: Any) -> None:
        raise SystemExit(3)


def test_a_sink_that_exits_cannot_hang_the_run(station: Any) -> None:
    runner = Runner(station, SweepProtocol(), {"points": 5}, sinks=[ExitingSink()])
    runner.start()
    result = runner.wait(10)
    assert result is not None and result.status == RunState.COMPLETED


def test_sigint_in_the_main_thread_aborts_the_run(paced_station: Any) -> None:
    runner = Runner(paced_station, SweepProtocol(), {"points": 2000, "dwell": 0.01})
    threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
    result = runner.run()
    assert result.status == RunState.ABORTED
    assert result.message == "SIGINT received"
    assert output_of(paced_station) == "OFF"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored


def test_limits_are_refused_before_the_run_exists(station: Any) -> None:
    sent: list[str] = []
    smu = station.terminal("TE").driver
    original = smu.write
    smu.write = lambda command, **kw: (sent.append(command), original(command, **kw))[1]
    with pytest.raises(LimitError, match="TE voltage"):
        Runner(station, SweepProtocol(), {"level": 9.0})
    assert sent == []


def test_a_runner_runs_once(station: Any) -> None:
    runner = Runner(station, SweepProtocol(), {"points": 5})
    runner.run()
    with pytest.raises(RuntimeError, match="runs once"):
        runner.start()
