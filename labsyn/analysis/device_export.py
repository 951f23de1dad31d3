"""Fitted LTP/LTD parameters as device configs for NeuroSim (`Cell.cpp` RealDevice fields) and
IBM aihwkit (`SoftBoundsPmaxDevice`: p_max, alpha, range_min, range_max; the weight range is
normalised to [-1, 1] and the conductance range it stands for is given beside it)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .result import Estimate


def _value(figures: Mapping[str, Estimate], key: str) -> float | None:
    figure = figures.get(key)
    return float(figure.value) if figure is not None and figure.ok else None


def neurosim_config(figures: Mapping[str, Estimate], params: Any) -> dict[str, Any]:
    """maxNumLevelLTP/LTD, NL_LTP/LTD, max/minConductance, sigmaCtoC (fraction of the window:
    Cell.cpp multiplies it by maxConductance - minConductance), read and write pulses.
    A field the run could not measure is None."""
    states = {k: _value(figures, f"states_{k}") for k in ("ltp", "ltd")}
    return {
        "maxNumLevelLTP": None if states["ltp"] is None else round(states["ltp"]),
        "maxNumLevelLTD": None if states["ltd"] is None else round(states["ltd"]),
        "NL_LTP": _value(figures, "nl_ltp"),
        "NL_LTD": _value(figures, "nl_ltd"),
        "maxConductance": _value(figures, "g_max"),
        "minConductance": _value(figures, "g_min"),
        "sigmaCtoC": _value(figures, "c2c"),
        "readVoltage": float(params.read_voltage),
        "writeVoltageLTP": float(params.v_ltp),
        "writeVoltageLTD": abs(float(params.v_ltd)),  # Cell.cpp states magnitudes
        "writePulseWidthLTP": float(params.width),
        "writePulseWidthLTD": float(params.width),
    }


def aihwkit_config(figures: Mapping[str, Estimate]) -> dict[str, Any]:
    """SoftBoundsPmaxDevice fields from the LTP branch: w(p) = B(1 - e^(-alpha·p)) + range_min,
    alpha = 1/A = 1/(A_norm·P_max). aihwkit has one alpha for both directions; the LTD value is
    given under `alpha_ltd` for reference."""
    p_max = _value(figures, "states_ltp")
    a_norm = _value(figures, "a_norm_ltp")
    a_norm_ltd = _value(figures, "a_norm_ltd")
    p_ltd = _value(figures, "states_ltd")
    alpha = 1.0 / (a_norm * p_max) if p_max and a_norm else None
    alpha_ltd = 1.0 / abs(a_norm_ltd * p_ltd) if p_ltd and a_norm_ltd else None
    return {
        "device": "SoftBoundsPmaxDevice",
        "p_max": None if p_max is None else round(p_max),
        "alpha": alpha,
        "range_min": -1.0,
        "range_max": 1.0,
        "alpha_ltd": alpha_ltd,
        "conductance_range": [_value(figures, "g_min"), _value(figures, "g_max")],
    }


def neurosim_cell_text(config: Mapping[str, Any]) -> str:
    """The config as `Cell.cpp` assignment lines (RealDevice constructor)."""
    lines = []
    for key, value in config.items():
        if value is None:
            lines.append(f"// {key}: not measured")
        elif key == "sigmaCtoC":
            lines.append(f"sigmaCtoC = {value:.6g} * (maxConductance - minConductance);")
        else:
            lines.append(f"{key} = {value:.6g};" if isinstance(value, float)
                         else f"{key} = {value};")
    return "\n".join(lines)


def to_json(configs: Mapping[str, Any]) -> str:
    """JSON text of the configs (None -> null)."""
    return json.dumps(configs, indent=2, sort_keys=True)
