"""The stock pyvisa-sim models of the PI C-887 hexapod and E-712 with their drivers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from labsyn.drivers.capabilities import Pose
from labsyn.drivers.pi_e712 import PIE712
from labsyn.drivers.pi_hexapod import PIHexapod
from labsyn.errors import LimitError
from tests.pyvisa_sim_support import PyvisaSim, record

HEXAPOD = PyvisaSim(PIHexapod, "pi_hexapod.yaml", PIHexapod.init_exchanges[0][1] or "",
                    "TCPIP0::192.168.0.10::50000::SOCKET", dry_run=True, esr=False)
E712 = PyvisaSim(PIE712, "pi_e712.yaml", PIE712.init_exchanges[0][1] or "",
                 "TCPIP0::192.168.0.20::50000::SOCKET", dry_run=True, esr=False)


@pytest.fixture(autouse=True)
def fresh_simulation() -> Iterator[None]:
    HEXAPOD.reset()
    E712.reset()
    yield
    HEXAPOD.reset()
    E712.reset()


def test_hexapod_opens_moves_and_reaches_a_safe_state() -> None:
    with HEXAPOD.opened() as stage:
        assert stage.travel["X"] == (-17.0, 17.0)
        assert stage.referenced()
        sent = record(stage)
        stage.velocity = 2.0
        assert stage.velocity == 2.0
        with pytest.raises(LimitError):
            stage.velocity = 30.0
        assert stage.pivot() == (0.0, 0.0, 0.0)
        assert stage.position() == Pose()
        stage.safe_off()
        assert sent == ["VLS 2", "ERR?", "SPI?", "POS?", "ERR?"]
        HEXAPOD.assert_in_step(stage)


def test_e712_opens_aligns_and_reaches_a_safe_state() -> None:
    with E712.opened() as nano:
        assert nano.travel["3"] == (0.0, 100.0)
        assert nano.position()["1"] == 50.0
        nano.safe_off()
        E712.assert_in_step(nano)
