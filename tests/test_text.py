"""What every store can hold: NUL and lone surrogates found, named and replaced."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from receiver.text import storable, unstorable


@pytest.mark.parametrize(
    ("text", "reason", "cleaned"),
    [
        # Plain text, any script, emoji (a surrogate *pair* in JSON is one character).
        ("flux-pro 🚀 ошибка", None, "flux-pro 🚀 ошибка"),
        # A NUL: PostgreSQL text refuses it.
        ("a\x00b", "a NUL character", "a\ufffdb"),
        # Lone surrogates, high and low: UTF-8 cannot encode them.
        ("a\ud800", "a lone surrogate (U+D800)", "a\ufffd"),
        ("\udfffz", "a lone surrogate (U+DFFF)", "\ufffdz"),
        # Other control characters are storable (renderings deal with them).
        ("a\x1b[31m\n", None, "a\x1b[31m\n"),
    ],
)
def test_unstorable_and_storable(text: str, reason: str | None, cleaned: str) -> None:
    assert unstorable(text) == reason
    assert storable(text) == cleaned


@given(st.text(alphabet=st.characters(exclude_categories=[])))
def test_storable_text_is_storable(text: str) -> None:
    cleaned = storable(text)
    assert unstorable(cleaned) is None
    assert "\x00" not in cleaned
    cleaned.encode("utf-8")  # raises on a lone surrogate
    assert len(cleaned) == len(text)
