"""Fingerprint: one stable id for "the same error", whatever ids and numbers it carries.

The message is normalised — URLs, e-mail addresses, file paths with line numbers, UUIDs,
timestamps, keys and request ids (`sk-…`, `key_…`, `req_…`), hex and random ids,
durations, sizes, short quoted values and numbers become placeholders, white space is
folded — and hashed with the category and model. So "Request 8f3a9c2e timed out after
30012ms" and "Request 11bc0d4f timed out after 29950ms" are one error, while messages
that differ in a word are two.

Quoted values longer than `QUOTED_CHARS` are kept (their variable parts are still
replaced): SDKs quote the provider's whole sentence (`{'message': 'You exceeded your
current quota…'}`), and that sentence is what tells errors apart.
"""

from __future__ import annotations

import functools
import hashlib
import re

# Enough of a message to tell errors apart; bounds the work for a 256 KiB message.
MAX_MESSAGE = 2048
# Distinct messages whose normal form is kept: an outage repeats a handful of messages
# thousands of times, and normalizing one is most of a fingerprint's cost. At most
# ~4 MB (MAX_MESSAGE characters in, about as many out, up to 4 bytes each).
NORMALIZED_CACHE = 256
QUOTED_CHARS = 64

# What providers and apps put before a random id or key: sk-…, key_…, req_…, org-…
_ID_PREFIXES = (
    "sk|pk|rk|ak|key|req|request|org|proj|user|usr|sess|session|run|job|pred|gen|msg|chatcmpl"
    "|file|tok|hf|r8|fal|asst|thread|call|batch|ft|resp|img|evt|acct|task|trace|span|cus|sub"
)
_TIME_UNIT = r"(?:ms|us|µs|ns|s|sec|secs|seconds?|m|min|mins|minutes?|h|hrs?|hours?|d|days?)"
# Not a bare "b": "00000b" is a hex id as much as a size.
_SIZE_UNIT = r"(?:bytes?|kb|kib|mb|mib|gb|gib|tb|tib)"
# What separates runs: white space, quotes, brackets, commas and semicolons.
_SEPARATORS = "\\s\"'`()\\[\\]{}<>,;"

# Every quoted value is matched, long ones too, so that the quote closing a long value is
# never taken for one opening the next.
_QUOTED = re.compile(r"\"(?:[^\"\\\n]|\\.)*+\"|'(?:[^'\\\n]|\\.)*+'|`[^`\n]*+`")
_HTTP_DATE = re.compile(
    r"\b(?:mon|tue|wed|thu|fri|sat|sun), \d{1,2} [a-z]{3} \d{4} \d{2}:\d{2}:\d{2} gmt\b",
    re.IGNORECASE,
)
# A run — the text between two separators — that holds a digit, "@", "/" or "\", with a
# unit or a clock time that follows it after one space ("3.5 s", "2024-05-01 12:00:31").
# A match can only start at a separator and walks plain characters possessively, so prose
# is passed over at the speed of a character-class loop: one pass, linear in the text.
_RUN = re.compile(
    rf"(?P<before>[{_SEPARATORS}])"
    rf"(?P<run>[^{_SEPARATORS}\d@/\\]*+[\d@/\\][^{_SEPARATORS}]*+"
    rf"(?: (?:{_TIME_UNIT}|{_SIZE_UNIT})\b| \d{{1,2}}:\d{{2}}(?::\d{{2}})?[^{_SEPARATORS}]*+)?)",
    re.IGNORECASE,
)
# Runs replaced whole.
_WHOLE_RUNS = (
    ("<url>", re.compile(r"[a-z][a-z0-9+.-]*://.*", re.IGNORECASE | re.DOTALL)),
    ("<email>", re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+\.?")),
    (
        "<path>",
        re.compile(r"(?:[a-z]:\\|node:|file:|~?/|\.{1,2}/)[^:]*:\d+(?::\d+)?[.:]?", re.IGNORECASE),
    ),
)
# Pieces of the other runs, widest shapes first.
_PIECES = re.compile(
    "|".join(
        (
            r"(?P<uuid>\b[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\b)",
            r"(?P<ts>\b\d{4}-\d{2}-\d{2}(?:[t ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?"
            r"(?:z|[+-]\d{2}:?\d{2})?)?\b|\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?(?:z\b)?)",
            rf"(?P<key>\b(?:{_ID_PREFIXES})[-_](?=[\w*-]*\d)[\w*-]{{4,}})",
            # 0x-prefixed, or six or more hex digits mixing letters and digits ("10000d"
            # too: an id rather than ten thousand days).
            r"(?P<hex>\b0x[0-9a-f]+\b|\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{6,}\b)",
            rf"(?P<duration>\b\d+(?:\.\d+)? ?{_TIME_UNIT}(?:\d+(?:\.\d+)?{_TIME_UNIT})*\b)",
            rf"(?P<size>\b\d+(?:\.\d+)? ?{_SIZE_UNIT}\b)",
            # Ten or more letters and digits, mixed: "21m00Tcm4TlvDq8ikWAM".
            r"(?P<id>\b(?=[a-z]*\d)(?=\d*[a-z])[a-z0-9]{10,}\b)",
            r"(?P<num>\d+(?:\.\d+)?)",
        )
    ),
    re.IGNORECASE,
)


def _piece(found: re.Match[str]) -> str:
    return f"<{found.lastgroup}>"


def _run(found: re.Match[str]) -> str:
    run = found["run"]
    for placeholder, shape in _WHOLE_RUNS:
        if shape.fullmatch(run):
            return found["before"] + placeholder
    return found["before"] + _PIECES.sub(_piece, run)


def _quoted(found: re.Match[str]) -> str:
    value = found.group()
    return "<str>" if len(value) <= QUOTED_CHARS + 2 else value


def normalize(message: str) -> str:
    """The message with everything that varies between occurrences replaced."""
    text = message[:MAX_MESSAGE]
    if "GMT" in text:
        text = _HTTP_DATE.sub("<ts>", text)
    # The leading space gives a run at the very start its separator.
    text = " ".join(_RUN.sub(_run, " " + text).split())
    # Quoted values last: whether one is short enough to go must not depend on the
    # length of the ids and numbers inside or around it, only on their placeholders.
    if '"' in text or "'" in text or "`" in text:
        text = _QUOTED.sub(_quoted, text)
    return text


_normalized = functools.lru_cache(maxsize=NORMALIZED_CACHE)(normalize)


def fingerprint(category: str, model_id: str | None, message: str) -> str:
    """A 16-hex-digit hash of category, model and normalised message."""
    # Cut before the cache, so that a long message is not kept whole as its key.
    key = "\x1f".join((category, model_id or "", _normalized(message[:MAX_MESSAGE])))
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]
