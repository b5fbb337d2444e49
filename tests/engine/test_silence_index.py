"""The silence index answers exactly what trying every silence in order answers."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from receiver.engine.matchers import Matcher
from receiver.engine.silence_index import SilenceIndex


@dataclass(frozen=True)
class Silence:
    id: str
    matchers: tuple[Matcher, ...]


def silence(id: str, *matchers: str) -> Silence:
    return Silence(id, tuple(Matcher.parse(m) for m in matchers))


SILENCES = [
    silence("flux", "model_id=flux-pro"),
    silence("flux-rate", "model_id=flux-pro", "category=rate_limit"),
    silence("rate", "category=rate_limit"),
    silence("any-sd", "model_id=~sd-.*"),
    silence("not-flux-timeout", "category=timeout", "model_id!=flux-pro"),
    silence("no-team", 'team=""'),
]


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        # Filed under model_id=flux-pro, and first in order.
        ({"model_id": "flux-pro", "category": "rate_limit", "team": "x"}, "flux"),
        # Filed under category=rate_limit; flux-rate needs model_id=flux-pro too.
        ({"model_id": "sd-xl", "category": "rate_limit", "team": "x"}, "rate"),
        # No equality matcher: tried for every failure.
        ({"model_id": "sd-xl", "category": "timeout", "team": "x"}, "any-sd"),
        # Filed under category=timeout, with a != matcher checked in full.
        ({"model_id": "dall-e", "category": "timeout", "team": "x"}, "not-flux-timeout"),
        ({"model_id": "flux-pro", "category": "timeout", "team": "x"}, "flux"),
        # An absent label is the empty string: team="" files under ("team", "").
        ({"model_id": "dall-e", "category": "quota"}, "no-team"),
        # Nothing matches.
        ({"model_id": "dall-e", "category": "quota", "team": "x"}, None),
    ],
)
def test_first_match(labels: dict[str, str], expected: str | None) -> None:
    found = SilenceIndex(SILENCES).first_match(labels)
    assert (found.id if found else None) == expected


def test_an_empty_index_matches_nothing() -> None:
    assert SilenceIndex([]).first_match({"model_id": "flux-pro"}) is None
    assert len(SilenceIndex(SILENCES)) == len(SILENCES)


names = st.sampled_from(["model_id", "category", "team"])
values = st.sampled_from(["", "a", "b", "ab"])
matchers = st.builds(
    lambda name, op, value: Matcher.parse(f'{name}{op}"{value}"'),
    names,
    st.sampled_from(["=", "!=", "=~", "!~"]),
    values | st.sampled_from(["a.*", ".+", "a|b"]),
)
silences = st.lists(
    st.builds(Silence, st.text(max_size=3), st.lists(matchers, min_size=1, max_size=3).map(tuple)),
    max_size=12,
)
label_sets = st.dictionaries(names, values, max_size=3)


@given(silences, label_sets)
def test_the_index_agrees_with_a_scan_in_order(
    found: list[Silence], labels: dict[str, str]
) -> None:
    scanned = next((s for s in found if all(m.matches(labels) for m in s.matchers)), None)
    assert SilenceIndex(found).first_match(labels) is scanned
