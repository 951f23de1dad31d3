"""Serve a simulated bench on loopback TCP sockets, one raw-SCPI socket per instrument.

>>> with serve_bench(bench) as server:
...     rm = pyvisa.ResourceManager("@py")
...     smu = rm.open_resource(server.addresses[0][1], read_termination="\\n")

Each LF-terminated message (a trailing CR is dropped) is executed as the VISA backend executes a
write, and its reply is sent once it is ready on the bench clock. A status socket answers
``STATUS?`` with one line of JSON describing every instrument's output.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import signal
import socket
import socketserver
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any, TextIO

from .faults import LinkLost

if TYPE_CHECKING:
    from .bench import Bench, SimInstrument

MAX_MESSAGE_BYTES = 1 << 20


class _Endpoint:
    """One simulated instrument behind one port; exchanges on it run one at a time."""

    def __init__(self, bench: Bench, instrument: SimInstrument, addresses: list[str],
                 stop: threading.Event) -> None:
        self.bench = bench
        self.instrument = instrument
        self.addresses = addresses
        self.stop = stop
        self.exchange = threading.Lock()

    def execute(self, message: bytes) -> bytes | None:
        """Run one program message; its reply once ready, b"" if none, None if the link is lost."""
        bench, instrument = self.bench, self.instrument
        with self.exchange:
            with bench.lock:
                try:
                    bench.deliver(instrument, self.addresses, message + b"\n")
                except LinkLost:
                    return None
                reply = instrument.next_reply()
            if reply is None:
                return b""
            self._wait_until(reply.ready_at)
            with bench.lock:
                bench.sync()
                if instrument.next_reply() is None:
                    return b""
                out = instrument.pop_reply()
                bench.transport_delay(len(out))
            return out

    def _wait_until(self, t: float) -> None:
        clock = self.bench.clock
        if clock.mode == "instant":
            with self.bench.lock:
                clock.sleep_until(t)
            return
        while not self.stop.is_set() and (remaining := t - clock.now()) > 0:
            self.stop.wait(min(remaining / clock.speedup, 0.1))


class _Server(socketserver.ThreadingTCPServer):
    """A listening socket; `respond` turns each message into a reply (None: hang up)."""

    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, host: str, port: int, respond: Callable[[bytes], bytes | None]) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.respond = respond
        self.connections: set[socket.socket] = set()
        self.guard = threading.Lock()
        super().__init__((host, port), _Handler)
        self.port = int(self.server_address[1])

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.guard:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.guard:
            self.connections.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        with self.guard:
            for conn in self.connections:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        for message in _messages(self.request):
            reply = self.server.respond(message)
            if reply is None:
                return
            try:
                self.request.sendall(reply)
            except OSError:
                return


def _messages(conn: socket.socket) -> Iterator[bytes]:
    """LF-terminated messages from `conn`, without LF or a trailing CR, until the peer closes."""
    buffer = b""
    while len(buffer) <= MAX_MESSAGE_BYTES:
        try:
            chunk = conn.recv(65536)
        except OSError:
            return
        if not chunk:
            return
        *lines, buffer = (buffer + chunk).split(b"\n")
        yield from (line.removesuffix(b"\r") for line in lines if line.strip())


class BenchServer:
    """The sockets serving one bench; close it (or use it as a context manager) to stop."""

    def __init__(self, bench: Bench, host: str) -> None:
        self.bench = bench
        self.host = host
        self.stopping = threading.Event()
        self._closing = threading.Lock()
        self._servers: list[_Server] = []
        self._threads: list[threading.Thread] = []
        self._ports: dict[str, int] = {}
        self.status_port = 0

    def _start(self, port: int) -> None:
        groups: dict[int, tuple[SimInstrument, list[str]]] = {}
        for address, instrument in self.bench.instruments.items():
            groups.setdefault(id(instrument), (instrument, []))[1].append(address)
        for index, (instrument, addresses) in enumerate(groups.values()):
            endpoint = _Endpoint(self.bench, instrument, addresses, self.stopping)
            served = self._listen(port + index if port else 0, endpoint.execute)
            self._ports.update(dict.fromkeys(addresses, served))
        self.status_port = self._listen(port + len(groups) if port else 0, self._status_reply)

    def _listen(self, port: int, respond: Callable[[bytes], bytes | None]) -> int:
        server = _Server(self.host, port, respond)
        self._servers.append(server)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                  name=f"labsyn-sim-serve-{server.port}", daemon=True)
        thread.start()
        self._threads.append(thread)
        return server.port

    @property
    def addresses(self) -> list[tuple[str, str]]:
        """(bench VISA address, ``TCPIP::host::port::SOCKET``) for every instrument address."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return [(address, f"TCPIP::{host}::{port}::SOCKET")
                for address, port in self._ports.items()]

    def status(self) -> list[dict[str, Any]]:
        """What the status socket reports: bench status per address, with its port."""
        state = self.bench.status()
        return [{"address": address, "port": port, **state.get(address, {})}
                for address, port in self._ports.items()]

    def _status_reply(self, message: bytes) -> bytes:
        command = message.decode("ascii", errors="replace").strip()
        answer: dict[str, Any]
        if command.upper() == "STATUS?":
            answer = {"instruments": self.status()}
        elif command.upper().startswith("FAULT "):
            answer = self._inject(command)
        else:
            answer = {"error": f"unknown command {command!r}; send STATUS? or "
                      "FAULT <address> <kind> <times> <command>"}
        return json.dumps(answer, default=str).encode() + b"\n"

    def _inject(self, command: str) -> dict[str, Any]:
        """``FAULT <address> <kind> <times> <command text>``: a fault for the next matches."""
        parts = command.split(maxsplit=4)
        if len(parts) != 5 or not parts[3].isdigit():
            return {"error": f"{command!r}: expected FAULT <address> <kind> <times> <command>"}
        _, address, kind, times, text = parts
        try:
            with self.bench.lock:
                self.bench.faults.inject(address, text, kind, int(times))  # type: ignore[arg-type]
        except ValueError as exc:
            return {"error": str(exc)}
        return {"injected": {"address": address, "kind": kind, "times": int(times),
                             "command": text}}

    def close(self) -> None:
        """Stop every thread and close every socket; safe to call again."""
        with self._closing:
            if self.stopping.is_set():
                return
            self.stopping.set()
            for server in self._servers:
                server.shutdown()
            for thread in self._threads:
                thread.join()
            for server in self._servers:
                server.drop_connections()
                server.server_close()

    def __enter__(self) -> BenchServer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def serve_bench(bench: Bench, host: str = "127.0.0.1", port: int = 0) -> BenchServer:
    """Serve every instrument of `bench` on `host` (loopback only), ports consecutive from `port`.

    With ``port == 0`` the OS picks each port. The status socket comes after the instruments.
    """
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"host {host!r} is not a loopback address (127.0.0.0/8 or ::1); "
                         "the simulator is served on this machine only")
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port!r} is not in 0–65535")
    server = BenchServer(bench, host)
    try:
        server._start(port)
    except BaseException:
        server.close()
        raise
    return server


def run_until_interrupted(server: BenchServer, out: TextIO = sys.stdout) -> None:
    """Print where each instrument is served, block until SIGINT/SIGTERM, then close."""
    previous: Any = None
    in_main = threading.current_thread() is threading.main_thread()

    def terminate(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    if in_main:
        previous = signal.signal(signal.SIGTERM, terminate)
    try:
        lines = [f"{address}  ->  {resource}" for address, resource in server.addresses]
        lines.append(f"status  ->  {server.host}:{server.status_port} (send STATUS?)")
        out.write("".join(f"{line}\n" for line in lines))
        out.flush()
        while not server.stopping.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
        server.close()
        out.write("stopped\n")
        out.flush()
