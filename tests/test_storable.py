"""What every store can hold: NUL and lone surrogates found, named and replaced."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from receiver.storable import (
    may_hold_unstorable,
    storable,
    storable_json,
    unstorable,
)


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


@pytest.mark.parametrize(
    ("document", "may"),
    [
        (b'{"a": "plain"}', False),
        (b'{"a": "\\u0000"}', True),
        (b'{"a": "\\uD83D"}', True),
        (b'{"a": "\\udfff"}', True),
        # A surrogate pair is flagged too (cheap test); the walk then changes nothing.
        (b'{"a": "\\ud83d\\ude80"}', True),
        # Ordinary escapes are not.
        (b'{"a": "\\u00e9\\u0001"}', False),
    ],
)
def test_may_hold_unstorable(document: bytes, may: bool) -> None:
    assert may_hold_unstorable(document) is may
    assert may_hold_unstorable(document.decode()) is may


def test_storable_json_cleans_keys_values_and_nesting() -> None:
    decoded = json.loads('{"k\\u0000": ["\\ud800", {"x": "\\u0000"}], "n": 1, "t": true}')
    assert storable_json(decoded) == {"k\ufffd": ["\ufffd", {"x": "\ufffd"}], "n": 1, "t": True}


json_texts = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(alphabet=st.characters(exclude_categories=[])),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3)
    ),
    max_leaves=8,
)


@given(json_texts)
def test_whatever_json_carries_comes_out_storable(value: object) -> None:
    document = json.dumps(value)
    decoded = json.loads(document)
    cleaned = storable_json(decoded) if may_hold_unstorable(document) else decoded
    text = json.dumps(cleaned, ensure_ascii=False)
    assert "\x00" not in text
    text.encode("utf-8")  # raises on a lone surrogate
