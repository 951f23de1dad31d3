"""A pyvisa backend over the simulated bench: ``pyvisa.ResourceManager(bench.visa_library())``.

Resources keep their bench names (``GPIB0::24::INSTR``, ``TCPIP0::…::INSTR``, ``USB0::…::INSTR``),
so pyvisa builds its usual resource classes and a driver cannot tell it is simulated. Reads honour
``VI_ATTR_TMO_VALUE`` on the bench clock and raise `VisaIOError`; ``clear``, ``read_stb`` and
``assert_trigger`` work; faults from the bench's `FaultPlan` are applied per resource and command.
Each bench has its own library object, so no state leaks between benches (tests).
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any, NoReturn

from pyvisa import attributes, constants, highlevel, rname
from pyvisa.constants import ResourceAttribute, StatusCode
from pyvisa.errors import VisaIOError
from pyvisa.util import LibraryPath

from .faults import LinkLost

if TYPE_CHECKING:
    from .bench import Bench, SimInstrument

GARBLED_REPLY = b"7#k@!~%\n"


class SimSession:
    """One open VISA session on a simulated instrument."""

    def __init__(self, rm_session: int, parsed: rname.ResourceName,
                 instrument: SimInstrument) -> None:
        self.parsed = parsed
        self.name = str(parsed)
        self.instrument = instrument
        self.session_type = (parsed.interface_type_const, parsed.resource_class)
        self.attrs: dict[int, Any] = {
            ResourceAttribute.resource_manager_session: rm_session,
            ResourceAttribute.resource_name: self.name,
            ResourceAttribute.resource_class: parsed.resource_class,
            ResourceAttribute.interface_type: parsed.interface_type_const,
            ResourceAttribute.timeout_value: 2000,
        }
        self.unread = b""

    def get_attribute(self, attribute: int) -> tuple[Any, StatusCode]:
        attr = attributes.AttributesByID.get(attribute)
        if attr is None or not attr.in_resource(self.session_type):
            return 0, StatusCode.error_nonsupported_attribute
        return self.attrs.setdefault(attribute, attr.default), StatusCode.success

    def set_attribute(self, attribute: int, value: Any) -> StatusCode:
        attr = attributes.AttributesByID.get(attribute)
        if attr is None or not attr.in_resource(self.session_type):
            return StatusCode.error_nonsupported_attribute
        if not attr.write:
            return StatusCode.error_attribute_read_only
        self.attrs[attribute] = value
        return StatusCode.success

    def timeout_s(self) -> float:
        value = self.get_attribute(ResourceAttribute.timeout_value)[0]
        if value in (None, constants.VI_TMO_INFINITE):
            return float("inf")
        return float(value) / 1000.0


class LabsynVisaLibrary(highlevel.VisaLibraryBase):
    """The simulated bench seen through the VISA API."""

    bench: Bench
    sessions: dict[int, Any]

    @staticmethod
    def get_library_paths() -> tuple[LibraryPath, ...]:
        return (LibraryPath("labsyn-sim"),)

    @staticmethod
    def get_debug_info() -> dict[str, str]:
        from labsyn import __version__

        return {"Version": __version__, "Backend": "labsyn simulated bench"}

    def _init(self) -> None:
        from .bench import bench_for_library

        self.sessions = {}
        self.bench = bench_for_library(str(self.library_path))

    def _register(self, obj: Any) -> int:
        handle = random.randint(1_000_000, 9_999_999)
        while handle in self.sessions:
            handle = random.randint(1_000_000, 9_999_999)
        self.sessions[handle] = obj
        return handle

    def _session(self, session: int) -> SimSession:
        sess = self.sessions.get(session)
        if not isinstance(sess, SimSession):
            raise VisaIOError(StatusCode.error_invalid_object)
        return sess

    # -- resource manager -----------------------------------------------------------------------
    def open_default_resource_manager(self) -> tuple[int, StatusCode]:
        return self._register(self), StatusCode.success

    def list_resources(self, session: int, query: str = "?*::INSTR") -> tuple[str, ...]:
        found = rname.filter(tuple(self.bench.instruments), query)
        if not found:
            raise VisaIOError(StatusCode.error_resource_not_found)
        return tuple(found)

    def open(self, session: int, resource_name: str,
             access_mode: constants.AccessModes = constants.AccessModes.no_lock,
             open_timeout: int = constants.VI_TMO_IMMEDIATE) -> tuple[int, StatusCode]:
        try:
            parsed = rname.parse_resource_name(resource_name)
        except rname.InvalidResourceName:
            return 0, self.handle_return_value(None, StatusCode.error_invalid_resource_name)
        instrument = self.bench.instruments.get(str(parsed))
        if instrument is None:
            return 0, self.handle_return_value(None, StatusCode.error_resource_not_found)
        if str(parsed) in self.bench.faults.lost:
            return 0, self.handle_return_value(None, StatusCode.error_connection_lost)
        return self._register(SimSession(session, parsed, instrument)), StatusCode.success

    def close(self, session: int) -> StatusCode:
        if self.sessions.pop(session, None) is None:
            return StatusCode.error_invalid_object
        return StatusCode.success

    def get_attribute(self, session: int, attribute: int) -> tuple[Any, StatusCode]:
        sess = self.sessions.get(session)
        if not isinstance(sess, SimSession):
            return 0, StatusCode.error_invalid_object
        return sess.get_attribute(attribute)

    def set_attribute(self, session: int, attribute: int, attribute_state: Any) -> StatusCode:
        sess = self.sessions.get(session)
        if not isinstance(sess, SimSession):
            return StatusCode.error_invalid_object
        return sess.set_attribute(attribute, attribute_state)

    # -- message-based I/O ----------------------------------------------------------------------
    def write(self, session: int, data: bytes) -> tuple[int, StatusCode]:
        sess = self._session(session)
        bench = self.bench
        with bench.lock:
            self._check_connection(session, sess)
            if sess.unread:
                sess.unread = b""
                sess.instrument.query_interrupted()
            try:
                bench.deliver(sess.instrument, (sess.name,), data)
            except LinkLost:
                self._raise(session, StatusCode.error_connection_lost)
        return len(data), self.handle_return_value(session, StatusCode.success)

    def read(self, session: int, count: int) -> tuple[bytes, StatusCode]:
        sess = self._session(session)
        bench = self.bench
        with bench.lock:
            self._check_connection(session, sess)
            if not sess.unread:
                sess.unread = self._next_reply(session, sess)
            chunk = sess.unread[:count]
            termchar_on = sess.get_attribute(ResourceAttribute.termchar_enabled)[0]
            if termchar_on:
                termchar = bytes([sess.get_attribute(ResourceAttribute.termchar)[0]])
                cut = chunk.find(termchar)
                if 0 <= cut < len(chunk) - 1:
                    chunk = chunk[: cut + 1]
            sess.unread = sess.unread[len(chunk):]
            bench.transport_delay(len(chunk))
        if sess.unread:
            status = StatusCode.success_max_count_read
            if termchar_on and chunk.endswith(termchar):
                status = StatusCode.success_termination_character_read
        else:
            status = StatusCode.success
        return chunk, self.handle_return_value(session, status)

    def _next_reply(self, session: int, sess: SimSession) -> bytes:
        bench = self.bench
        timeout = sess.timeout_s()
        deadline = bench.clock.now() + timeout
        reply = sess.instrument.next_reply()
        if reply is None:
            sess.instrument.query_unterminated()
            self._wait_out(deadline)
            self._raise(session, StatusCode.error_timeout)
        if reply.ready_at > deadline:
            self._wait_out(deadline)
            self._raise(session, StatusCode.error_timeout)
        bench.clock.sleep_until(reply.ready_at)
        bench.sync()
        return sess.instrument.pop_reply()

    def _wait_out(self, deadline: float) -> None:
        if deadline != float("inf"):
            self.bench.clock.sleep_until(deadline)
            self.bench.sync()

    def _raise(self, session: int, status: StatusCode) -> NoReturn:
        self.handle_return_value(session, status)
        raise VisaIOError(status)

    def _check_connection(self, session: int, sess: SimSession) -> None:
        if sess.name in self.bench.faults.lost:
            self._raise(session, StatusCode.error_connection_lost)

    # -- IEEE 488.2 / device operations ---------------------------------------------------------
    def clear(self, session: int) -> StatusCode:
        sess = self._session(session)
        with self.bench.lock:
            self._check_connection(session, sess)
            sess.unread = b""
            sess.instrument.device_clear()
        return self.handle_return_value(session, StatusCode.success)

    def flush(self, session: int, mask: int) -> StatusCode:
        sess = self._session(session)
        sess.unread = b""
        return self.handle_return_value(session, StatusCode.success)

    def read_stb(self, session: int) -> tuple[int, StatusCode]:
        sess = self._session(session)
        with self.bench.lock:
            self._check_connection(session, sess)
            self.bench.sync()
            stb = sess.instrument.status_byte()
        return stb, self.handle_return_value(session, StatusCode.success)

    def assert_trigger(self, session: int, protocol: constants.TriggerProtocol) -> StatusCode:
        sess = self._session(session)
        with self.bench.lock:
            self._check_connection(session, sess)
            self.bench.sync()
            sess.instrument.trigger(self.bench.clock.now())
        return self.handle_return_value(session, StatusCode.success)

    def disable_event(self, session: int, event_type: Any, mechanism: Any) -> StatusCode:
        return StatusCode.success

    def discard_events(self, session: int, event_type: Any, mechanism: Any) -> StatusCode:
        return StatusCode.success
