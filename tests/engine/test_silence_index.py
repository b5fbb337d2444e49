"""SilenceIndex: the silence that mutes a failure, found without trying every silence,
and always the one a scan in order would find."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from receiver.engine.silences import Silence, SilenceIndex
from tests.engine.test_silences import NOW, silence

SILENCES = [
    silence("model_id=flux-pro"),
    silence("model_id=flux-pro", "category=rate_limit"),
    silence("category=rate_limit"),
    silence("model_id=~sd-.*"),
    silence("category=timeout", "model_id!=flux-pro"),
    silence('team=""'),
    # Filed under model_id=dall-e, but not active: never mutes.
    silence("model_id=dall-e", starts=NOW + 1),
]


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        # Filed under model_id=flux-pro, and first in order.
        ({"model_id": "flux-pro", "category": "rate_limit", "team": "x"}, "model_id=flux-pro"),
        # Filed under category=rate_limit; the second needs model_id=flux-pro too.
        ({"model_id": "sd-xl", "category": "rate_limit", "team": "x"}, "category=rate_limit"),
        # No equality matcher: tried for every failure.
        ({"model_id": "sd-xl", "category": "timeout", "team": "x"}, "model_id=~sd-.*"),
        # Filed under category=timeout, with its != matcher checked in full.
        (
            {"model_id": "gpt", "category": "timeout", "team": "x"},
            "category=timeout-model_id!=flux-pro",
        ),
        ({"model_id": "flux-pro", "category": "timeout", "team": "x"}, "model_id=flux-pro"),
        # An absent label is the empty string: team="" files under ("team", "").
        ({"model_id": "gpt", "category": "quota"}, 'team=""'),
        # A pending silence does not mute.
        ({"model_id": "dall-e", "category": "quota", "team": "x"}, None),
    ],
)
def test_muting(labels: dict[str, str], expected: str | None) -> None:
    found = SilenceIndex(SILENCES, NOW).muting(labels)
    assert (found.id if found else None) == expected


def test_only_active_silences_are_indexed() -> None:
    assert len(SilenceIndex(SILENCES, NOW)) == len(SILENCES) - 1
    assert SilenceIndex([], NOW).muting({"model_id": "flux-pro"}) is None


names = st.sampled_from(["model_id", "category", "team"])
values = st.sampled_from(["", "a", "b", "ab"])
matchers = st.builds(
    lambda name, op, value: f'{name}{op}"{value}"',
    names,
    st.sampled_from(["=", "!=", "=~", "!~"]),
    values | st.sampled_from(["a.*", ".+", "a|b"]),
)
silences = st.lists(
    st.lists(matchers, min_size=1, max_size=3).map(lambda found: silence(*found)), max_size=12
)
label_sets = st.dictionaries(names, values, max_size=3)


@given(silences, label_sets)
def test_the_index_agrees_with_a_scan_in_order(
    found: list[Silence], labels: dict[str, str]
) -> None:
    scanned = next((s for s in found if all(m.matches(labels) for m in s.matchers)), None)
    assert SilenceIndex(found, NOW).muting(labels) is scanned
