"""E-mail addresses as the settings accept them and the e-mail notifier sends to them."""

from __future__ import annotations

import email.utils
import re

from receiver.text import has_control

_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = rf"(?:{_LABEL}\.)*{_LABEL}"
_ADDR_SPEC = re.compile(rf"(?P<local>{_LOCAL})@(?P<domain>{_DOMAIN})")
_NAME_ADDR = re.compile(r"(?P<name>[^<>]*)<(?P<addr>[^<>]*)>")


def valid_address(value: str) -> str:
    """`alerts@example.com` or `Failwatch <alerts@example.com>`, normalised; raises
    ValueError (naming no more than the problem) for anything else, including a value
    with control characters, several addresses, or a non-ASCII address."""
    if has_control(value):
        raise ValueError("e-mail address contains control characters")
    text = value.strip()
    named = _NAME_ADDR.fullmatch(text)
    name, addr = ("", text)
    if named:
        name, addr = named["name"].strip().strip('"').strip(), named["addr"].strip()
    if not _ADDR_SPEC.fullmatch(addr) or len(addr) > 254:
        raise ValueError(f"not an e-mail address: {value!r}")
    return email.utils.formataddr((name, addr)) if name else addr


def addr_spec(address: str) -> str:
    """The `local@domain` of a validated address."""
    return email.utils.parseaddr(address)[1]
