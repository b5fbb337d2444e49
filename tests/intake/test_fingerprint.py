from __future__ import annotations

import re

import pytest

from receiver.intake.fingerprint import fingerprint, normalize


@pytest.mark.parametrize(
    ("message", "normalized"),
    [
        # A URL goes whole, digits, query and all.
        pytest.param(
            "fetch https://api.example.com/v1/models/42?seed=7 failed",
            "fetch <url> failed",
            id="url",
        ),
        # Other schemes are URLs too (storage buckets, websockets).
        pytest.param("upload to s3://bucket-9/out/1.png denied", "upload to <url> denied", id="s3"),
        # An e-mail address, with a plus tag and a multi-part domain.
        pytest.param("no user alice.smith+gen@example.co.uk", "no user <email>", id="email"),
        # A UUID, the shape of Supabase ids.
        pytest.param(
            "generation 123e4567-e89b-12d3-a456-426614174000 failed",
            "generation <uuid> failed",
            id="uuid",
        ),
        # A UUID in capitals and without dashes.
        pytest.param("job 123E4567E89B12D3A456426614174000", "job <uuid>", id="uuid-bare"),
        # A short hex request id (the design's example).
        pytest.param("Request 8f3a9c2e timed out", "Request <hex> timed out", id="hex"),
        # A 0x-prefixed address.
        pytest.param("segfault at 0xDEADBEEF", "segfault at <hex>", id="hex-0x"),
        # A git-style hash.
        pytest.param("worker build 3f9ac1d0b2 crashed", "worker build <hex> crashed", id="sha"),
        # Words made of hex letters only stay words.
        pytest.param("decade facade accepted", "decade facade accepted", id="hex-words-kept"),
        # Double- and single-quoted values.
        pytest.param(
            "invalid value \"a red fox\" for 'size'", "invalid value <str> for <str>", id="quoted"
        ),
        # Backquoted values, and escaped quotes inside quotes.
        pytest.param(r'column `w` got "say \"hi\""', "column <str> got <str>", id="quoted-escape"),
        # An ISO timestamp with fraction and offset.
        pytest.param(
            "expired at 2024-05-01T12:00:31.012+02:00 (server)",
            "expired at <ts> (server)",
            id="iso",
        ),
        # A timestamp with a space and a Z.
        pytest.param("since 2024-05-01 12:00:31Z", "since <ts>", id="ts-space"),
        # A bare date.
        pytest.param("quota resets 2024-06-01", "quota resets <ts>", id="date"),
        # A bare clock time.
        pytest.param("retry at 23:59:07.5", "retry at <ts>", id="clock"),
        # Numbers, with units glued on and with decimals.
        pytest.param(
            "took 30012ms, limit 3.5 s, 2 tries",
            "took <num>ms, limit <num> s, <num> tries",
            id="num",
        ),
        # White space folded and trimmed.
        pytest.param("  out of\n\tmemory   ", "out of memory", id="spaces"),
        # Nothing variable: unchanged.
        pytest.param("CUDA out of memory", "CUDA out of memory", id="plain"),
        # Empty stays empty.
        pytest.param("", "", id="empty"),
    ],
)
def test_normalize(message: str, normalized: str) -> None:
    assert normalize(message) == normalized


def test_the_designs_two_timeouts_share_a_fingerprint() -> None:
    first = fingerprint("timeout", "flux-pro", "Request 8f3a9c2e timed out after 30012ms")
    second = fingerprint("timeout", "flux-pro", "Request 11bc0d4f timed out after 29950ms")
    assert first == second


@pytest.mark.parametrize(
    "other",
    [
        # Same message, another category: another incident.
        pytest.param(
            ("rate_limit", "flux-pro", "Request 8f3a9c2e timed out after 30012ms"), id="category"
        ),
        # Same message, another model: grouped apart.
        pytest.param(("timeout", "sdxl", "Request 8f3a9c2e timed out after 30012ms"), id="model"),
        # No model at all is not "flux-pro" either.
        pytest.param(("timeout", None, "Request 8f3a9c2e timed out after 30012ms"), id="no-model"),
        # Another wording is another error.
        pytest.param(
            ("timeout", "flux-pro", "Request 8f3a9c2e failed after 30012ms"), id="wording"
        ),
    ],
)
def test_anything_but_the_variable_parts_changes_the_fingerprint(
    other: tuple[str, str | None, str],
) -> None:
    base = fingerprint("timeout", "flux-pro", "Request 8f3a9c2e timed out after 30012ms")
    assert fingerprint(*other) != base


def test_fields_cannot_run_into_each_other() -> None:
    # ("a", "b c") and ("a b", "c") must not hash the same text.
    assert fingerprint("timeout", "a", "b c") != fingerprint("timeout", "a b", "c")


def test_a_fingerprint_is_sixteen_hex_digits_and_stable() -> None:
    value = fingerprint("timeout", "flux-pro", "x")
    assert re.fullmatch(r"[0-9a-f]{16}", value)
    assert fingerprint("timeout", "flux-pro", "x") == value


def test_only_the_head_of_a_huge_message_counts() -> None:
    # Bounded work for 200 KiB messages: what differs far past the head is the same error.
    head = "Model crashed: " + "context " * 400
    assert fingerprint("model_error", "m", head + "A" * 200_000) == fingerprint(
        "model_error", "m", head + "B" * 200_000
    )
    assert fingerprint("model_error", "m", "X" + head) != fingerprint("model_error", "m", head)


def test_lone_surrogates_do_not_break_hashing() -> None:
    # JSON may carry "\ud800"; Python decodes it into a str that UTF-8 cannot encode.
    assert re.fullmatch(r"[0-9a-f]{16}", fingerprint("unknown", "m\ud800", "bad \udfff text"))
