"""The simulated bench served on loopback sockets, driven by pyvisa-py and raw sockets."""

from __future__ import annotations

import io
import json
import signal
import socket
import threading
from collections.abc import Iterator

import pytest
import pyvisa

from labsyn.mock_instruments.bench import Bench, single_smu_bench
from labsyn.mock_instruments.keithley_2450 import SimKeithley2450
from labsyn.mock_instruments.resistor import Resistor
from labsyn.mock_instruments.server import BenchServer, run_until_interrupted, serve_bench

ADDRESS = "GPIB0::24::INSTR"
IDN = SimKeithley2450.idn


def make_bench(addresses: str | list[str] = ADDRESS) -> Bench:
    return single_smu_bench(addresses, SimKeithley2450(), Resistor(10e3), clock_mode="real")


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    assert not leaked, f"threads left running: {leaked}"


@pytest.fixture
def server() -> Iterator[BenchServer]:
    with serve_bench(make_bench()) as served:
        yield served


def port_of(server: BenchServer, address: str = ADDRESS) -> int:
    resource = dict(server.addresses)[address]
    return int(resource.split("::")[2])


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=2.0)


def ask(conn: socket.socket, message: bytes) -> bytes:
    conn.sendall(message)
    reply = b""
    while not reply.endswith(b"\n"):
        chunk = conn.recv(4096)
        assert chunk, "server closed the connection"
        reply += chunk
    return reply


def status(server: BenchServer, command: bytes = b"STATUS?\n") -> dict:
    with connect(server.status_port) as conn:
        return json.loads(ask(conn, command))


def test_pyvisa_py_sources_measures_and_status_follows_output(server: BenchServer) -> None:
    ((address, resource),) = server.addresses
    assert address == ADDRESS
    assert resource == f"TCPIP::127.0.0.1::{port_of(server)}::SOCKET"
    rm = pyvisa.ResourceManager("@py")
    try:
        smu = rm.open_resource(resource, read_termination="\n", write_termination="\n",
                               timeout=2000)
        assert smu.query("*IDN?") == IDN
        smu.write(":SOUR:VOLT 1;:SOUR:VOLT:ILIM 1e-3;:OUTP ON")
        assert float(smu.query(":MEAS:CURR?")) == pytest.approx(1e-4, rel=0.01)
        (entry,) = status(server)["instruments"]
        assert entry["address"] == ADDRESS
        assert entry["port"] == port_of(server)
        assert entry["name"] == "Keithley 2450"
        assert entry["output"] == "ON"
        smu.write(":OUTP OFF")
        assert smu.query("*OPC?") == "1"
        assert status(server)["instruments"][0]["output"] == "OFF"
        smu.close()
    finally:
        rm.close()


def test_two_clients_at_once_each_get_their_own_replies(server: BenchServer) -> None:
    """A slow :MEAS:CURR? (one 20 ms aperture) on one client while *IDN? floods in on another."""
    with connect(port_of(server)) as setup:
        assert ask(setup, b":SOUR:VOLT 1;:SOUR:VOLT:ILIM 1e-3;:OUTP ON;*OPC?\n") == b"1\n"
    jobs = [(b":MEAS:CURR?\n", 4), (b"*IDN?\n", 40)]
    barrier = threading.Barrier(len(jobs))
    replies: dict[bytes, list[str]] = {query: [] for query, _ in jobs}
    failures: list[str] = []

    def client(query: bytes, count: int) -> None:
        try:
            with connect(port_of(server)) as conn:
                barrier.wait()
                for _ in range(count):
                    replies[query].append(ask(conn, query).decode().strip())
        except Exception as err:
            failures.append(f"{query!r}: {err!r}")

    threads = [threading.Thread(target=client, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5.0)
    assert not failures
    assert replies[b"*IDN?\n"] == [IDN] * 40
    assert [float(r) for r in replies[b":MEAS:CURR?\n"]] == pytest.approx([1e-4] * 4, rel=0.01)


def test_cr_lf_chunked_messages_and_reconnecting_clients(server: BenchServer) -> None:
    with connect(port_of(server)) as conn:
        conn.sendall(b"*ID")
        assert ask(conn, b"N?\r\n*IDN?\n") == IDN.encode() + b"\n"
        assert ask(conn, b"") == IDN.encode() + b"\n"
    with connect(port_of(server)) as again:
        assert ask(again, b"*IDN?\n").decode().strip() == IDN


def test_status_socket_rejects_unknown_commands(server: BenchServer) -> None:
    answer = status(server, b"FOO?\n")
    assert set(answer) == {"error"}
    assert "FOO?" in answer["error"]


def test_instrument_at_two_addresses_gets_one_socket() -> None:
    second = "TCPIP0::192.168.0.5::inst0::INSTR"
    with serve_bench(make_bench([ADDRESS, second])) as served:
        assert [address for address, _ in served.addresses] == [ADDRESS, second]
        assert port_of(served, ADDRESS) == port_of(served, second)
        assert served.status_port != port_of(served)
        assert [e["address"] for e in status(served)["instruments"]] == [ADDRESS, second]


def test_ports_are_consecutive_from_the_given_port() -> None:
    bench = make_bench()
    for _ in range(5):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        try:
            served = serve_bench(bench, port=base)
        except OSError:
            continue
        with served:
            assert port_of(served) == base
            assert served.status_port == base + 1
        return
    pytest.skip("no two consecutive free ports found")


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "localhost", "example.org"])
def test_non_loopback_hosts_are_refused(host: str) -> None:
    with pytest.raises(ValueError, match=host.replace(".", r"\.")):
        serve_bench(make_bench(), host=host)


def test_close_frees_the_ports_ends_clients_and_is_idempotent() -> None:
    bench = make_bench()
    served = serve_bench(bench)
    port = port_of(served)
    client = connect(port)
    assert ask(client, b"*IDN?\n").decode().strip() == IDN
    served.close()
    served.close()
    assert client.recv(16) == b""
    client.close()
    with serve_bench(bench, port=port) as again, connect(port) as conn:
        assert port_of(again) == port
        assert ask(conn, b"*IDN?\n").decode().strip() == IDN


def test_disconnect_fault_drops_the_connection(server: BenchServer) -> None:
    server.bench.faults.inject(ADDRESS, "*IDN?", "disconnect")
    with connect(port_of(server)) as conn:
        conn.sendall(b"*IDN?\n")
        assert conn.recv(16) == b""
    server.bench.faults.reconnect(ADDRESS)
    with connect(port_of(server)) as conn:
        assert ask(conn, b"*IDN?\n").decode().strip() == IDN


def test_run_until_interrupted_prints_addresses_and_stops_on_sigterm() -> None:
    class SignalOnStatus(io.StringIO):
        def write(self, text: str) -> int:
            written = super().write(text)
            if "status" in text:
                signal.raise_signal(signal.SIGTERM)
            return written

    served = serve_bench(make_bench())
    out = SignalOnStatus()
    run_until_interrupted(served, out)
    lines = out.getvalue().splitlines()
    assert lines[0] == f"{ADDRESS}  ->  TCPIP::127.0.0.1::{port_of(served)}::SOCKET"
    assert str(served.status_port) in lines[1]
    assert lines[-1] == "stopped"
    assert served.stopping.is_set()
    with pytest.raises(OSError):
        connect(port_of(served)).close()
