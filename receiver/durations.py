"""Human durations (`30s`, `5m`, `4h`, `1h30m`, `2d`) as seconds."""

from __future__ import annotations

import math
import re
from typing import Annotated

from pydantic import BeforeValidator

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def parse_duration(value: object) -> float:
    """Seconds from `"1h30m"`-style text, or a plain number of seconds."""
    if isinstance(value, bool):
        raise ValueError("a duration like 30s, 5m, 4h or 1h30m")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower()
        if not text or _PART.sub("", text) != "":
            raise ValueError(f"not a duration: {value!r} (use e.g. 30s, 5m, 4h, 1h30m)")
        seconds = sum(float(n) * _UNITS[unit] for n, unit in _PART.findall(text))
    else:
        raise ValueError("a duration like 30s, 5m, 4h or 1h30m")
    if not math.isfinite(seconds) or seconds < 0:  # YAML reads .nan and .inf as floats
        raise ValueError("a duration is a finite number of seconds, not negative")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest exact `1h30m`-style spelling of whole seconds."""
    remaining = round(seconds)
    if remaining == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


Duration = Annotated[float, BeforeValidator(parse_duration)]
