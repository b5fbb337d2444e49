from __future__ import annotations

import re
import string
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from receiver.intake.fingerprint import (
    MAX_MESSAGE,
    NORMALIZED_CACHE,
    _normalized,
    fingerprint,
    normalize,
)
from tests.intake.corpus import load_corpus

CORPUS = load_corpus()
MESSAGES = [entry["message"] for entry in CORPUS]
# Messages that stay whole below the cut, whatever value is put in.
SHORT_MESSAGES = [message for message in MESSAGES if len(message) < MAX_MESSAGE - 200]


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
        # An API key whose tail is all digits and one whose tail is hex: one shape (the
        # issue's two fingerprints for one error).
        pytest.param("bad key sk-557160451364", "bad key <key>", id="key-digits"),
        pytest.param("bad key sk-4d14b0c35e20", "bad key <key>", id="key-hex"),
        # A masked project key as OpenAI prints it.
        pytest.param(
            "Incorrect API key provided: sk-proj-********x9Qa.",
            "Incorrect API key provided: <key>.",
            id="key-masked",
        ),
        # Runway's key_ and Anthropic's req_ ids.
        pytest.param("key_0123abcd rejected", "<key> rejected", id="key-underscore"),
        pytest.param(
            "request_id req_011CXYYF8iKb9TFwRRrbeR2A", "request_id <key>", id="request-id"
        ),
        # An organisation id in OpenAI's rate-limit message.
        pytest.param(
            "for gpt-4o in organization org-Xq81LmZ0a2bC on tokens",
            "for gpt-<num>o in organization <key> on tokens",
            id="org",
        ),
        # A random id without a prefix: ten or more letters and digits mixed.
        pytest.param(
            "voice 21m00Tcm4TlvDq8ikWAM not found", "voice <id> not found", id="random-id"
        ),
        # A URL's scheme in capitals is still a URL.
        pytest.param("GET HTTPS://API.EXAMPLE.COM/v1 failed", "GET <url> failed", id="url-caps"),
        # Double quotes alone, and backquotes alone, mark values too.
        pytest.param('model "flux" not found', "model <str> not found", id="double-quotes"),
        pytest.param("column `w` missing", "column <str> missing", id="backquotes"),
        # Double- and single-quoted values.
        pytest.param(
            "invalid value \"a red fox\" for 'size'", "invalid value <str> for <str>", id="quoted"
        ),
        # Backquoted values, and escaped quotes inside quotes.
        pytest.param(r'column `w` got "say \"hi\""', "column <str> got <str>", id="quoted-escape"),
        # A long quoted sentence is the error itself: kept, its numbers replaced.
        pytest.param(
            "{'message': 'Rate limit reached for gpt-4o on tokens per min: Limit 30000, "
            "Used 27912. Please try again in 4.19s.'}",
            "{<str>: 'Rate limit reached for gpt-<num>o on tokens per min: Limit <num>, "
            "Used <num>. Please try again in <duration>.'}",
            id="quoted-sentence-kept",
        ),
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
        # An HTTP date, weekday and month included.
        pytest.param("Date: Mon, 12 May 2025 11:11:55 GMT", "Date: <ts>", id="http-date"),
        # Durations, glued to their unit or not, compound or decimal.
        pytest.param(
            "took 30012ms, limit 3.5 s, retry in 1h2m3s, 2 tries",
            "took <duration>, limit <duration>, retry in <duration>, <num> tries",
            id="durations",
        ),
        # Sizes, in bytes or binary units.
        pytest.param(
            "Tried to allocate 5.92 GiB (GPU 0; 20971520 bytes free)",
            "Tried to allocate <size> (GPU <num>; <size> free)",
            id="sizes",
        ),
        # A file path with line and column, as a JavaScript frame prints it.
        pytest.param(
            "at generate (/app/src/generate.ts:120:9)", "at generate (<path>)", id="path-js"
        ),
        # Node's internal modules and Windows paths.
        pytest.param("at node:internal/deps/undici/undici:13502:13", "at <path>", id="path-node"),
        pytest.param(r"C:\app\main.py:12 failed", "<path> failed", id="path-windows"),
        # Numbers alone.
        pytest.param("step 42935 of 50000", "step <num> of <num>", id="numbers"),
        # Six or more digits and no letter are a number, not a hex id: one error, not two
        # (a 7-digit count is <num> whatever its digits).
        pytest.param("queue 1234567 jobs", "queue <num> jobs", id="seven-digits"),
        pytest.param("queue 100000 jobs", "queue <num> jobs", id="six-digits"),
        # A decimal is one number.
        pytest.param("scale 1.25 too big", "scale <num> too big", id="decimal"),
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


def test_the_issues_two_keys_share_a_fingerprint() -> None:
    first = fingerprint("auth", "m", "Incorrect API key provided: sk-557160451364")
    second = fingerprint("auth", "m", "Incorrect API key provided: sk-4d14b0c35e20")
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


@pytest.mark.parametrize(
    ("first", "second"),
    [
        # Joined without a separator, both would hash "timeoutabc".
        (("timeout", "ab", "c"), ("timeout", "a", "bc")),
        (("timeouta", "b", "c"), ("timeout", "ab", "c")),
        # No model is not a model named "" followed by the message's first word.
        (("timeout", None, "ab"), ("timeout", "a", "b")),
    ],
)
def test_fields_cannot_run_into_each_other(
    first: tuple[str, str | None, str], second: tuple[str, str | None, str]
) -> None:
    assert fingerprint(*first) != fingerprint(*second)


def test_fingerprints_do_not_change_between_versions() -> None:
    # Stored groups are keyed by fingerprint: a new hash would split every open group.
    assert fingerprint("timeout", "flux-pro", "Request 8f3a9c2e timed out") == "d0d2c7f369e53059"
    # No model hashes as an empty model name.
    assert (
        fingerprint("timeout", None, "x") == fingerprint("timeout", "", "x") == "8d6acce9e11605fb"
    )


@pytest.mark.parametrize(
    ("inside", "normalized"),
    [
        # A quoted value of up to 64 characters is a value: it goes...
        ("a" * 64, "<str>"),
        # ...one character longer, it is the provider's sentence: kept.
        ("a" * 65, f"'{'a' * 65}'"),
    ],
)
def test_how_long_a_quoted_value_may_be(inside: str, normalized: str) -> None:
    assert normalize(f"got '{inside}'") == f"got {normalized}"


def test_the_head_ends_at_max_message() -> None:
    assert MAX_MESSAGE == 2048
    head = "x" * (MAX_MESSAGE - 1)
    # The last character of the head counts; the first one past it does not.
    assert normalize(head + "a") != normalize(head + "b")
    assert normalize(head + "a" + "c") == normalize(head + "a" + "d")


def test_a_fingerprint_is_sixteen_hex_digits_and_stable() -> None:
    value = fingerprint("timeout", "flux-pro", "x")
    assert re.fullmatch(r"[0-9a-f]{16}", value)
    assert fingerprint("timeout", "flux-pro", "x") == value


def test_only_the_head_of_a_huge_message_counts() -> None:
    # Bounded work for 200 KiB messages: what differs far past the head is the same error.
    head = "Model crashed: " + "context " * (MAX_MESSAGE // 8)
    assert fingerprint("model_error", "m", head + "A" * 200_000) == fingerprint(
        "model_error", "m", head + "B" * 200_000
    )
    assert fingerprint("model_error", "m", "X" + head) != fingerprint("model_error", "m", head)


def test_a_remembered_normal_form_gives_the_fingerprint_a_fresh_one_gives() -> None:
    # Normal forms of recent messages are cached; a fingerprint must not depend on
    # whether its message was seen before, nor on what else was seen since.
    messages = [f"Request a{n:07x} timed out after {n}ms" for n in range(NORMALIZED_CACHE * 2)]
    messages += ["disk full", "Disk full", "disk  full", "disk full\n"]
    cold = []
    for message in messages:
        _normalized.cache_clear()
        cold.append(fingerprint("timeout", "m", message))
    warm = [fingerprint("timeout", "m", message) for message in messages + messages]
    assert warm == cold + cold
    assert len(set(cold[: NORMALIZED_CACHE * 2])) == 1  # the ids and durations varied


def test_lone_surrogates_do_not_break_hashing() -> None:
    # JSON may carry "\ud800"; Python decodes it into a str that UTF-8 cannot encode.
    assert re.fullmatch(r"[0-9a-f]{16}", fingerprint("unknown", "m\ud800", "bad \udfff text"))


# --- Properties --------------------------------------------------------------------
# Values of each kind are drawn by their own strategies, not by the normaliser's patterns.

_ALNUM = string.ascii_letters + string.digits


def _mixed(min_size: int) -> st.SearchStrategy[str]:
    # Random ids hold at least one digit and one letter (else they are numbers or words).
    return st.text(_ALNUM, min_size=min_size, max_size=40).filter(
        lambda s: any(c.isdigit() for c in s) and any(c.isalpha() for c in s)
    )


_UUIDS = st.uuids().flatmap(
    lambda u: st.sampled_from([str(u), str(u).upper(), u.hex, u.hex.upper()])
)
# Not 32 digits long: that is a UUID written without dashes.
_HEX_IDS = st.text("0123456789abcdef", min_size=6, max_size=40).filter(
    lambda s: any(c.isdigit() for c in s) and any(c.isalpha() for c in s) and len(s) != 32
)
_KEYS = st.builds(
    lambda prefix, tail: prefix + tail,
    st.sampled_from(["sk-", "sk-proj-", "key_", "req_", "org-", "run_", "pred_", "hf_"]),
    st.text(_ALNUM, min_size=8, max_size=48).filter(lambda s: any(c.isdigit() for c in s)),
)
_MOMENTS = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31))
_TIMESTAMPS = st.builds(
    lambda moment, style: style(moment),
    _MOMENTS,
    st.sampled_from(
        [
            lambda m: m.isoformat(),
            lambda m: m.replace(tzinfo=UTC).isoformat(),
            lambda m: m.strftime("%Y-%m-%dT%H:%M:%SZ"),
            lambda m: m.strftime("%Y-%m-%d %H:%M:%S"),
            lambda m: m.strftime("%Y-%m-%d"),
            lambda m: m.strftime("%a, %d %b %Y %H:%M:%S GMT"),
        ]
    ),
)
_NUMBERS = st.one_of(
    st.integers(0, 10**15).map(str),
    st.floats(0, 1e9, allow_nan=False).map(lambda f: f"{f:.3f}"),
)
_DURATIONS = st.builds(
    lambda number, space, unit: f"{number}{space}{unit}",
    _NUMBERS,
    st.sampled_from(["", " "]),
    st.sampled_from(["ms", "s", "sec", "seconds", "m", "min", "minutes", "h", "hours", "days"]),
) | st.timedeltas(timedelta(0), timedelta(days=3)).map(
    lambda d: f"{d.seconds // 3600}h{d.seconds // 60 % 60}m{d.seconds % 60}s"
)
_SIZES = st.builds(
    lambda number, space, unit: f"{number}{space}{unit}",
    _NUMBERS,
    st.sampled_from(["", " "]),
    st.sampled_from(["bytes", "KB", "KiB", "MB", "MiB", "GB", "GiB"]),
)
_PATHS = st.builds(
    lambda root, parts, ext, line, column: (
        f"{root}{'/'.join(parts)}.{ext}:{line}" + (f":{column}" if column else "")
    ),
    st.sampled_from(["/", "./", "~/", "/srv/app/"]),
    st.lists(st.text(string.ascii_lowercase + "_-", min_size=1, max_size=12), min_size=1),
    st.sampled_from(["py", "ts", "js", "mjs"]),
    st.integers(1, 99_999),
    st.none() | st.integers(1, 999),
)
_KINDS = {
    "uuid": _UUIDS,
    "hex": _HEX_IDS,
    "key": _KEYS,
    "random id": _mixed(12),
    "timestamp": _TIMESTAMPS,
    "number": _NUMBERS,
    "duration": _DURATIONS,
    "size": _SIZES,
    "path": _PATHS,
}


@st.composite
def _variants(draw: st.DrawFn) -> tuple[str, str]:
    """A corpus message with a value of one kind put in one place, twice over."""
    words = draw(st.sampled_from(SHORT_MESSAGES)).split(" ")
    at = draw(st.integers(0, len(words)))
    kind = _KINDS[draw(st.sampled_from(sorted(_KINDS)))]
    first, second = draw(kind), draw(kind)
    return (
        " ".join([*words[:at], first, *words[at:]]),
        " ".join([*words[:at], second, *words[at:]]),
    )


@given(_variants())
def test_messages_that_differ_only_in_a_variable_value_share_a_fingerprint(
    pair: tuple[str, str],
) -> None:
    first, second = pair
    assert fingerprint("unknown", "m", first) == fingerprint("unknown", "m", second)


# Words the normaliser reads as part of a value: units after a number, date names.
_VALUE_WORDS = {
    "sec", "secs", "second", "seconds", "min", "mins", "minute", "minutes", "hrs", "hour",
    "hours", "day", "days", "bytes", "byte", "kib", "mib", "gib", "tib", "gmt",
    "mon", "tue", "wed", "thu", "fri", "sat", "sun",
}  # fmt: skip


@st.composite
def _reworded(draw: st.DrawFn) -> tuple[str, str]:
    """A corpus message without quotes, one of its words swapped for another word."""
    message = draw(st.sampled_from([m for m in SHORT_MESSAGES if not set("\"'`") & set(m)]))
    words = message.split(" ")
    candidates = [
        i
        for i, word in enumerate(words)
        if word.isascii() and word.isalpha() and len(word) >= 3
        and word.casefold() not in _VALUE_WORDS
    ]  # fmt: skip
    assume(candidates)
    at = draw(st.sampled_from(candidates))
    other = draw(st.text(string.ascii_letters, min_size=3, max_size=12))
    assume(other.casefold() not in _VALUE_WORDS and other != words[at])
    return message, " ".join([*words[:at], other, *words[at + 1 :]])


@given(_reworded())
def test_messages_that_differ_in_a_word_do_not(pair: tuple[str, str]) -> None:
    first, second = pair
    assert fingerprint("unknown", "m", first) != fingerprint("unknown", "m", second)


def test_every_corpus_message_is_normalized_to_something_stable() -> None:
    # Normalising is idempotent: a placeholder is never normalised into another one.
    for message in MESSAGES:
        once = normalize(message)
        assert normalize(once) == once, message
