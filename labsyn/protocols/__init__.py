"""Protocols by name: parameter models, procedures, data schemas, plot specs and analyses."""

from __future__ import annotations

from importlib import import_module

from labsyn.errors import ConfigError

from .base import Analysis, PlotSpec, Protocol, ProtocolParameters, parse_assignments

# name -> (module, class); imported on first use so `labsyn.protocols.base` stays light.
PROTOCOLS: dict[str, tuple[str, str]] = {
    "forming": ("labsyn.protocols.forming", "Forming"),
    "iv-sweep": ("labsyn.protocols.iv_sweep", "IVSweep"),
    "align": ("labsyn.protocols.align", "Align"),
    "retention": ("labsyn.protocols.retention", "Retention"),
    "ltp-ltd": ("labsyn.protocols.ltp_ltd", "LtpLtd"),
    "switch-seeker": ("labsyn.protocols.switch_seeker", "SwitchSeeker"),
    "ppf": ("labsyn.protocols.ppf", "PPF"),
    "srdp": ("labsyn.protocols.srdp", "SRDP"),
    "sndp": ("labsyn.protocols.sndp", "SNDP"),
    "volatility": ("labsyn.protocols.volatility", "Volatility"),
    "stdp": ("labsyn.protocols.stdp", "STDP"),
    "read-disturb": ("labsyn.protocols.read_disturb", "ReadDisturb"),
    "write-verify": ("labsyn.protocols.write_verify", "WriteVerify"),
    "multistate": ("labsyn.protocols.multistate", "MultiState"),
    "endurance": ("labsyn.protocols.endurance", "Endurance"),
}


def get_protocol(name: str) -> Protocol:
    """A protocol by its name; a `ConfigError` lists the known ones."""
    if name not in PROTOCOLS:
        raise ConfigError(f"unknown protocol {name!r}; protocols: {', '.join(PROTOCOLS)}")
    module, cls = PROTOCOLS[name]
    return getattr(import_module(module), cls)()


__all__ = ["PROTOCOLS", "Analysis", "PlotSpec", "Protocol", "ProtocolParameters",
           "get_protocol", "parse_assignments"]
