"""How matcher text is read and written: Alertmanager's syntax, in both of its dialects.

Alertmanager has two matcher parsers. The classic one takes `name op value` where the name
is a classic label name, the value is quoted or not, and a quoted value decodes `\\"`,
`\\\\` and `\\n` while keeping any other backslash as written (so `"\\d+"` is the regex
`\\d+`); a list is split at commas outside quotes, with one optional `{` in front and one
optional `}` at the end. The newer UTF-8 one reads tokens: a name or value is either
double-quoted — decoded the way Go decodes a string literal (`\\t`, `\\xf0`, `\\U0001f642`…)
— or a run of characters that are not reserved (space, `{}!=~,\\"'` and backtick).
Alertmanager's default mode reads text with both and keeps the classic reading whenever
there is one, the UTF-8 reading only where the classic parser refuses. failwatch does the
same, so a route pasted from an Alertmanager configuration means here what it meant there.

Two deliberate differences (README, "Differences from Alertmanager"): a list that opens a
brace must close it and the reverse — the classic parser strips each brace on its own,
which reads `{` as "no matchers" (a route that takes everything) and `foo=bar}` as
`foo="bar"`, while the UTF-8 parser refuses both, and so does failwatch; and a value
between single quotes is refused rather than read with its quotes as the classic parser
does (earlier versions of failwatch read them as quotes).

`format_matcher` writes what both dialects read back to the same matcher (Alertmanager's
`Matcher.String`): the value always quoted, the name quoted too when it holds a reserved
character.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

OPERATORS = ("=", "!=", "=~", "!~")

# The classic parser's `name op`, with Go's `\s` (ASCII whitespace only) around them.
_CLASSIC_HEAD = re.compile(r"[\t\n\f\r ]*([a-zA-Z_:][a-zA-Z0-9_:]*)[\t\n\f\r ]*(=~|=|!=|!~)")
_GO_ASCII_SPACE = "\t\n\f\r "
_UNESCAPED = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*", re.DOTALL)
# What `format_matcher` writes for a classic label name, read without the general
# machinery: stored silences are read back on every dispatch pass. It reads the same as
# the classic parser (every quote inside is escaped; each backslash escapes one character).
_WRITTEN = re.compile(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(=~|=|!=|!~)"((?:[^"\\]|\\.)*)"', re.DOTALL)
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)
# The classic parser's escapes; a backslash before anything else stays as written.
_CLASSIC_ESCAPES = {"n": "\n", '"': '"', "\\": "\\"}
_RESERVED = frozenset("{}!=~,\\\"'`")
_SIMPLE_ESCAPES = {
    "a": 0x07,
    "b": 0x08,
    "f": 0x0C,
    "n": 0x0A,
    "r": 0x0D,
    "t": 0x09,
    "v": 0x0B,
    "\\": 0x5C,
    '"': 0x22,
}
# Go's strconv.Quote writes these characters as escapes; `_go_unquote` reads them back.
_GO_QUOTE_ESCAPES = {chr(code): "\\" + letter for letter, code in _SIMPLE_ESCAPES.items()}


Triple = tuple[str, str, str]  # (name, operator, value)
T = TypeVar("T")


def parse(text: str, build: Callable[[str, str, str], T]) -> list[T]:
    """The matchers in `text` — one, or a comma-separated list with or without braces —
    each made by `build(name, operator, value)`, which may refuse a reading by raising
    ValueError (an invalid regex): like Alertmanager, the other reading is then tried."""
    written = _WRITTEN.fullmatch(text)
    if written is not None and not _has_surrogate(text):
        name, op, raw = written.groups()
        try:
            return [build(name, op, _ESCAPED.sub(_classic_escape, raw))]
        except ValueError:
            pass  # the UTF-8 reading may still make a matcher of it
    _check_braces(text)
    try:
        return _build(_classic_list(text), build)
    except _Refused as classic:
        try:
            return _build(_utf8_list(text), build)
        except _Refused as utf8:
            # Alertmanager reports the classic parser's complaint; when that is only "this
            # is not name-operator-value", the UTF-8 parser's says more precisely where.
            chosen = utf8 if classic.shapeless else classic
            raise ValueError(chosen.message) from None


def _build(triples: list[Triple], build: Callable[[str, str, str], T]) -> list[T]:
    try:
        return [build(*triple) for triple in triples]
    except ValueError as exc:
        raise _Refused(str(exc)) from None


def parse_unescaped(text: str) -> Triple:
    """A matcher as failwatch wrote it before it escaped values: `name op "value"` with
    the value verbatim between the quotes (stored silences may still hold one)."""
    found = _UNESCAPED.fullmatch(text)
    if found is None:
        raise ValueError(f"not a matcher: {text!r} (expected name, operator and value)")
    name, op, value = found.groups()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    return name, op, value


def format_matcher(name: str, op: str, value: str) -> str:
    """`name op "value"`, quoted and escaped so that `parse` gives the same triple back."""
    if any(_is_reserved(ch) for ch in name):
        return f"{_go_quote(name)}{op}{_go_quote(value)}"
    escaped = value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
    return f'{name}{op}"{escaped}"'


class _Refused(Exception):
    """One reading's refusal, caught in this module: `parse` then tries the other reading,
    or raises ValueError with the more useful of the two messages."""

    def __init__(self, message: str, shapeless: bool = False) -> None:
        super().__init__(message)
        self.message = message
        # The classic parser could not even find a name and an operator.
        self.shapeless = shapeless


def _check_braces(text: str) -> None:
    stripped = text.strip()
    opens, closes = stripped.startswith("{"), stripped.endswith("}")
    if opens and not closes:
        raise ValueError(f"not a matcher: {text!r} opens a brace it never closes")
    if closes and not opens:
        raise ValueError(f"not a matcher: {text!r} closes a brace it never opened")


# The classic parser.


def _classic_list(text: str) -> list[Triple]:
    inner = text.removeprefix("{").removesuffix("}")
    pieces: list[str] = []
    piece: list[str] = []
    quoted = escaped = False
    for ch in inner:
        if ch == "," and not quoted:
            pieces.append("".join(piece))
            piece = []
            continue
        if ch == '"':
            if escaped:
                escaped = False
            else:
                quoted = not quoted
        elif ch == "\\":
            escaped = not escaped
        else:
            escaped = False
        piece.append(ch)
    last = _go_trim_space("".join(piece))
    if last:
        pieces.append(last)
    return [_classic_matcher(p) for p in pieces]


def _classic_matcher(piece: str) -> Triple:
    head = _CLASSIC_HEAD.match(piece)
    if head is None:
        shown = piece.strip() or piece
        raise _Refused(f"not a matcher: {shown!r} (expected name, operator and value)", True)
    name, op = head.groups()
    raw = piece[head.end() :].strip(_GO_ASCII_SPACE)
    if len(raw) >= 2 and raw[0] == raw[-1] == "'":
        # Alertmanager would take the quotes as part of the value; failwatch before it
        # took them as quotes. Neither reading is safe to guess, so ask.
        raise _Refused(
            f"not a matcher: {piece.strip()!r}: single quotes do not quote a value here, "
            f'write {name}{op}"{raw[1:-1]}"'
        )
    quoted = raw.startswith('"')
    body = raw[1:] if quoted else raw
    if _has_surrogate(body):
        raise _Refused(f"not a matcher: {piece.strip()!r}: the value is not valid UTF-8")
    value: list[str] = []
    escaped, awaiting_close = False, quoted
    last = len(body) - 1
    for i, ch in enumerate(body):
        if escaped:
            escaped = False
            value.append(_CLASSIC_ESCAPES.get(ch, "\\" + ch))
        elif ch == "\\":
            if i < last:
                escaped = True
            else:
                value.append(ch)
        elif ch == '"':
            if not awaiting_close or i < last:
                raise _Refused(_unescaped_quote(piece, raw))
            awaiting_close = False
        else:
            value.append(ch)
    if awaiting_close:
        raise _Refused(_unescaped_quote(piece, raw))
    return name, op, "".join(value)


def _classic_escape(escape: re.Match[str]) -> str:
    return _CLASSIC_ESCAPES.get(escape.group(1), escape.group())


def _unescaped_quote(piece: str, raw: str) -> str:
    if raw.startswith('"') and raw.count('"') == 1:
        reason = "the value opens a quote it never closes"
    else:
        reason = 'the value has a double quote that is not escaped (write \\")'
    return f"not a matcher: {piece.strip()!r}: {reason}"


# The UTF-8 parser.


class _Kind(Enum):
    OPEN = "{"
    CLOSE = "}"
    COMMA = ","
    OPERATOR = "operator"
    QUOTED = "quoted"
    UNQUOTED = "unquoted"
    END = "end of input"


@dataclass(frozen=True, slots=True)
class _Token:
    kind: _Kind
    text: str
    column: int


def _utf8_list(text: str) -> list[Triple]:
    tokens = list(_tokens(text))
    position = 0

    def take(*kinds: _Kind, wanted: str) -> _Token:
        nonlocal position
        token = tokens[position]
        if token.kind not in kinds:
            found = "the end" if token.kind is _Kind.END else repr(token.text)
            raise _Refused(
                f"not a matcher: {text!r}: expected {wanted} at column {token.column}, not {found}"
            )
        position += 1
        return token

    def peek() -> _Kind:
        return tokens[position].kind

    braced = peek() is _Kind.OPEN
    if braced:
        take(_Kind.OPEN, wanted="{")
    triples: list[Triple] = []
    while peek() in (_Kind.QUOTED, _Kind.UNQUOTED):
        name = _unquote(text, take(_Kind.QUOTED, _Kind.UNQUOTED, wanted="a label name"))
        op = take(_Kind.OPERATOR, wanted="an operator (=, !=, =~ or !~)").text
        value = _unquote(text, take(_Kind.QUOTED, _Kind.UNQUOTED, wanted="a value"))
        triples.append((name, op, value))
        if peek() is not _Kind.COMMA:
            break
        take(_Kind.COMMA, wanted=",")
    if braced:
        take(_Kind.CLOSE, wanted="a comma or a closing brace" if triples else "a matcher")
    take(_Kind.END, wanted="a comma" if triples else "a matcher")
    return triples


def _tokens(text: str) -> Iterator[_Token]:
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if _go_is_space(ch):
            i += 1
        elif ch in "{},":
            yield _Token(_Kind(ch), ch, i)
            i += 1
        elif ch in "=!":
            op = text[i : i + 2] if text[i + 1 : i + 2] in ("~", "=") else ch
            if op not in OPERATORS:
                raise _Refused(f"not a matcher: {text!r}: {op!r} at column {i} is not an operator")
            yield _Token(_Kind.OPERATOR, op, i)
            i += len(op)
        elif ch == '"':
            end = i + 1
            while end < n and text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            if end >= n:
                raise _Refused(f"not a matcher: {text!r}: the quote at column {i} is never closed")
            yield _Token(_Kind.QUOTED, text[i : end + 1], i)
            i = end + 1
        elif _is_reserved(ch):
            raise _Refused(f"not a matcher: {text!r}: unexpected {ch!r} at column {i}")
        else:
            end = i + 1
            while end < n and not _is_reserved(text[end]):
                end += 1
            yield _Token(_Kind.UNQUOTED, text[i:end], i)
            i = end
    yield _Token(_Kind.END, "", n)


def _unquote(text: str, token: _Token) -> str:
    if token.kind is _Kind.UNQUOTED:
        return token.text
    try:
        return _go_unquote(token.text[1:-1])
    except ValueError as exc:
        raise _Refused(
            f"not a matcher: {text!r}: {token.text} at column {token.column}: {exc}"
        ) from None


def _go_unquote(body: str) -> str:
    """The text of a Go double-quoted string literal, given what is between the quotes."""
    out = bytearray()
    i, n = 0, len(body)
    while i < n:
        ch = body[i]
        if ch == "\n":
            raise ValueError("a line break inside quotes must be written \\n")
        if ch != "\\":
            out += _utf8(ch)
            i += 1
            continue
        escape = body[i + 1 : i + 2]
        if escape in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[escape])
            i += 2
        elif escape and escape in "01234567":
            digits = body[i + 1 : i + 4]
            if len(digits) < 3 or any(d not in string.octdigits for d in digits):
                raise ValueError(f"\\{digits} is not a three-digit octal escape")
            if int(digits, 8) > 0xFF:
                raise ValueError(f"\\{digits} is more than one byte")
            out.append(int(digits, 8))
            i += 4
        elif escape in ("x", "u", "U"):
            width = {"x": 2, "u": 4, "U": 8}[escape]
            digits = body[i + 2 : i + 2 + width]
            if len(digits) < width or any(d not in string.hexdigits for d in digits):
                raise ValueError(f"\\{escape} takes {width} hex digits")
            code = int(digits, 16)
            if escape == "x":
                out.append(code)
            elif code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                raise ValueError(f"\\{escape}{digits} is not a character")
            else:
                out += chr(code).encode("utf-8")
            i += 2 + width
        else:
            raise ValueError(f"\\{escape} is not an escape (write \\\\ for a backslash)")
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("the escaped bytes are not valid UTF-8") from None


def _go_quote(text: str) -> str:
    """Go's strconv.Quote: printable characters as they are, the rest escaped."""
    out = ['"']
    for ch in text:
        if ch in _GO_QUOTE_ESCAPES:
            out.append(_GO_QUOTE_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def _utf8(ch: str) -> bytes:
    try:
        return ch.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("the text is not valid UTF-8") from None


def _has_surrogate(text: str) -> bool:
    return not text.isascii() and any(0xD800 <= ord(ch) <= 0xDFFF for ch in text)


def _is_reserved(ch: str) -> bool:
    return ch in _RESERVED or _go_is_space(ch)


def _go_is_space(ch: str) -> bool:
    # Go's unicode.IsSpace: ASCII and Latin-1 spaces, then Unicode's White_Space.
    if ch <= "\xff":
        return ch in "\t\n\v\f\r \x85\xa0"
    return ch.isspace()


def _go_trim_space(text: str) -> str:
    start, end = 0, len(text)
    while start < end and _go_is_space(text[start]):
        start += 1
    while end > start and _go_is_space(text[end - 1]):
        end -= 1
    return text[start:end]
