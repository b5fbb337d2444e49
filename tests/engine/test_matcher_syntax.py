"""Matcher syntax read character by character: Go's string escapes and their bounds, Go's
white space, the reserved characters, the classic parser's list splitting and quote
fallbacks, and each refusal in the words it gives.

Texts whose name is quoted (`"l.x"=…`) are refused by the classic parser (no classic name),
so they exercise the UTF-8 reading, which decodes a quoted value the way Go's
strconv.Unquote does. `parse` is given a build that accepts anything, so what is read is
the syntax's answer alone, not what `Matcher` would then make of it."""

from __future__ import annotations

import re

import pytest

from receiver.engine.matcher_syntax import format_matcher, parse, parse_unescaped

Triple = tuple[str, str, str]


def triple(name: str, op: str, value: str) -> Triple:
    return (name, op, value)


def read(text: str) -> list[Triple]:
    return parse(text, triple)


@pytest.mark.parametrize(
    ("body", "value"),
    [
        # \a is BEL (0x07).
        (r"\a", "\x07"),
        # \b is backspace (0x08).
        (r"\b", "\x08"),
        # \f is form feed (0x0c).
        (r"\f", "\x0c"),
        # \n is line feed (0x0a).
        (r"\n", "\n"),
        # \r is carriage return (0x0d).
        (r"\r", "\r"),
        # \t is tab (0x09).
        (r"\t", "\t"),
        # \v is vertical tab (0x0b).
        (r"\v", "\x0b"),
        # \\ is one backslash.
        (r"\\", "\\"),
        # \" is a double quote.
        (r"\"", '"'),
        # Octal: three digits, one byte.
        (r"\101", "A"),
        # Octal: the fourth digit is a plain character after the escape.
        (r"\1012", "A2"),
        # Octal: the escape ends after three digits, the rest follows.
        (r"\101b", "Ab"),
        # Octal: \000 is NUL.
        (r"\000", "\x00"),
        # Octal bytes that together are UTF-8 (é).
        (r"\303\251", "é"),
        # \x: two hex digits, one byte.
        (r"\x41", "A"),
        # \x bytes that together are UTF-8 (é), upper-case hex too.
        (r"\xC3\xa9", "é"),
        # \x: a third hex digit is a plain character.
        (r"\x414", "A4"),
        # \u: four hex digits, one character.
        (r"\u00e9", "é"),
        # \u: the last character before the surrogates.
        (r"\ud7ff", "\ud7ff"),
        # \u: the first character after the surrogates.
        (r"\ue000", "\ue000"),
        # \U: eight hex digits.
        (r"\U0001F642", "\U0001f642"),
        # \U: the last Unicode character.
        (r"\U0010ffff", "\U0010ffff"),
        # Escapes mixed with plain text, in order.
        (r"a\tb\x41c", "a\tbAc"),
    ],
)
def test_go_escapes_in_a_quoted_value(body: str, value: str) -> None:
    assert read(f'"l.x"="{body}"') == [("l.x", "=", value)]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        # \' is an escape only in Go's rune literals, not in a double-quoted string.
        (r"\'", r"\' is not an escape (write \\ for a backslash)"),
        # An unknown letter is no escape.
        (r"\d", r"\d is not an escape (write \\ for a backslash)"),
        # \8 is not an octal digit.
        (r"\8", r"\8 is not an escape (write \\ for a backslash)"),
        # \X is not \x.
        (r"\X41", r"\X is not an escape (write \\ for a backslash)"),
        # Octal needs three digits: two at the end are refused.
        (r"\12", r"\12 is not a three-digit octal escape"),
        # Octal: a non-octal digit among the three.
        (r"\128", r"\128 is not a three-digit octal escape"),
        # Octal: 0o400 = 256 is more than a byte.
        (r"\400", r"\400 is more than one byte"),
        # Octal: 0o377 is one byte, but 0xff alone is not UTF-8.
        (r"\377", "the escaped bytes are not valid UTF-8"),
        # \x needs two hex digits.
        (r"\x4", r"\x takes 2 hex digits"),
        # \x: a non-hex digit.
        (r"\xg1", r"\x takes 2 hex digits"),
        # \x: one byte of a two-byte sequence is not UTF-8.
        (r"\xc3", "the escaped bytes are not valid UTF-8"),
        # \u needs four hex digits.
        (r"\u12", r"\u takes 4 hex digits"),
        # \u: a non-hex digit.
        (r"\u00g9", r"\u takes 4 hex digits"),
        # \U needs eight hex digits.
        (r"\U0001f64", r"\U takes 8 hex digits"),
        # \u: the first surrogate is not a character.
        (r"\ud800", r"\ud800 is not a character"),
        # \u: the last surrogate is not a character.
        (r"\udfff", r"\udfff is not a character"),
        # \U: a surrogate written with eight digits neither.
        (r"\U0000dc00", r"\U0000dc00 is not a character"),
        # \U: one past the last Unicode character.
        (r"\U00110000", r"\U00110000 is not a character"),
        # A raw line break inside quotes (Go's Unquote refuses it).
        ("a\nb", r"a line break inside quotes must be written \n"),
        # A lone surrogate character is not UTF-8.
        ("\ud800", "the text is not valid UTF-8"),
    ],
)
def test_what_a_quoted_value_refuses(body: str, words: str) -> None:
    with pytest.raises(ValueError, match=re.escape(words) + "$"):
        read(f'"l.x"="{body}"')


@pytest.mark.parametrize(
    ("text", "found"),
    [
        # Go's white space between tokens: \v, NEL (U+0085) and NBSP (U+00A0).
        ('\v"l.x"\x85=\xa0v\v', [("l.x", "=", "v")]),
        # Unicode white space above Latin-1 separates tokens too (EM SPACE).
        ('"l.x"=v\u2003', [("l.x", "=", "v")]),
        # ...and (IDEOGRAPHIC SPACE) before a name.
        ('\u3000"l.x"=v', [("l.x", "=", "v")]),
        # \x1c is white space to Python, not to Go: it is part of the value.
        ('"l.x"=v\x1c', [("l.x", "=", "v\x1c")]),
        # An X is an ordinary character, not reserved, space or an operator.
        ('"l.x"=X', [("l.x", "=", "X")]),
        # A quoted name may hold reserved characters.
        ('"a b,c{}"=v', [("a b,c{}", "=", "v")]),
        # An unquoted UTF-8 name.
        ("sérvice=v", [("sérvice", "=", "v")]),
        # A NUL read by the UTF-8 parser is only a character here; `Matcher` refuses it.
        ('"l.x"="\x00"', [("l.x", "=", "\x00")]),
    ],
)
def test_utf8_reading(text: str, found: list[Triple]) -> None:
    assert read(text) == found


@pytest.mark.parametrize(
    ("text", "words"),
    [
        # `!` alone is not an operator.
        ('"l.x"!v', "'!' at column 5 is not an operator"),
        # `==` is not an operator.
        ('"l.x"==v', "'==' at column 5 is not an operator"),
        # Reserved: a backtick cannot start a value.
        ('"l.x"=`', "unexpected '`' at column 6"),
        # Reserved: a single quote cannot start a value.
        ("\"l.x\"='v'", 'unexpected "\'" at column 6'),
        # Reserved: a tilde after a value.
        ('"l.x"=v~', "unexpected '~' at column 7"),
        # Reserved: a backslash.
        ('"l.x"=\\v', "unexpected '\\\\' at column 6"),
        # The value is missing at the end.
        ('"l.x"=', "expected a value at column 6, not the end"),
        # A name without an operator.
        ('"l.x" v', "expected an operator (=, !=, =~ or !~) at column 6, not 'v'"),
        # Two values without a comma.
        ('"l.x"=v w', "expected a comma at column 8, not 'w'"),
        # In braces: two values without a comma.
        ('{"l.x"=v w}', "expected a comma or a closing brace at column 9, not 'w'"),
        # In braces: a comma where a matcher should be.
        ("{,}", "expected a matcher at column 1, not ','"),
        # No matcher at all: an operator first.
        ("=v", "expected a matcher at column 0, not '='"),
        # A quote never closed.
        ('"l.x"="v', "the quote at column 6 is never closed"),
    ],
)
def test_utf8_refusals(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=re.escape(words) + "$"):
        read(text)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        # A comma between quotes is part of the value (`\d` keeps the UTF-8 reading out).
        (r'{a="\d,x"}', [("a", "=", r"\d,x")]),
        # An escaped quote does not close the value, so the comma after it is inside.
        (r'{a="\d\",y"}', [("a", "=", '\\d",y')]),
        # A quote right after an escaped one closes the value.
        (r'{a="\d\"",b=c}', [("a", "=", '\\d"'), ("b", "=", "c")]),
        # An escaped backslash does not escape the quote after it.
        (r'{a="\d\\",b=c}', [("a", "=", "\\d\\"), ("b", "=", "c")]),
        # A character after a backslash ends the escape: the next quote closes.
        (r'{a="\d",b="c"}', [("a", "=", r"\d"), ("b", "=", "c")]),
        # The classic parser strips only ASCII white space around a value...
        ("a=b\v,c=d", [("a", "=", "b\v"), ("c", "=", "d")]),
        # ...but the list's last piece is trimmed of all Go white space first.
        ("a=b\v", [("a", "=", "b")]),
        # ...at both ends, NEL and NBSP too.
        ("\x85a=b\xa0", [("a", "=", "b")]),
        # Only white space is stripped, not letters.
        ("a=XbX", [("a", "=", "XbX")]),
        # A backslash at the very end of an unquoted value stays.
        ("a=b\\", [("a", "=", "b\\")]),
    ],
)
def test_classic_reading(text: str, found: list[Triple]) -> None:
    assert read(text) == found


@pytest.mark.parametrize(
    ("text", "words"),
    [
        # A value opening a quote it never closes.
        ('a="b', "'a=\"b': the value opens a quote it never closes"),
        # An unescaped quote inside an unquoted value.
        ('a=b"c', "'a=b\"c': the value has a double quote that is not escaped (write \\\")"),
        # An unescaped quote inside a quoted value.
        ('a="b"c"', '\'a="b"c"\': the value has a double quote that is not escaped (write \\")'),
        # Two single quotes: the empty value between single quotes is refused too.
        ("a=''", 'single quotes do not quote a value here, write a=""'),
        # The classic parser refuses a NUL (`\d` keeps the UTF-8 reading out).
        ("a=\\d\x00", "a matcher value cannot hold a NUL character"),
        # ...and a lone surrogate.
        ("a=\\d\ud800", "a matcher value cannot hold a lone surrogate (U+D800)"),
    ],
)
def test_classic_refusals(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=re.escape(words) + "$"):
        read(text)


@pytest.mark.parametrize(
    "text",
    [
        # A lone surrogate is never handed to `build`, written as format_matcher writes...
        'a="\ud800"',
        # ...the last surrogate too...
        f'a="{chr(0xDFFF)}"',
        # ...or with other non-ASCII text before it.
        'a="é\udc00"',
    ],
)
def test_a_lone_surrogate_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"surrogate|not valid UTF-8"):
        read(text)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        # Double quotes around the value are taken off.
        ('a="bc"', ("a", "=", "bc")),
        # Single quotes too.
        ("a='bc'", ("a", "=", "bc")),
        # Empty quotes are the empty value.
        ('a=""', ("a", "=", "")),
        # One quote alone stays.
        ('a="', ("a", "=", '"')),
        # An opening quote without a closing one stays.
        ('a="b', ("a", "=", '"b')),
        # Mismatched quotes stay.
        ("a=\"b'", ("a", "=", "\"b'")),
        # Any other equal first and last characters stay.
        ("a=XbX", ("a", "=", "XbX")),
        # White space around is dropped.
        (' a != "b" ', ("a", "!=", "b")),
    ],
)
def test_parse_unescaped(text: str, found: Triple) -> None:
    assert parse_unescaped(text) == found


@pytest.mark.parametrize(
    "text",
    [
        # No operator.
        "a",
        # A name cannot start with a digit.
        '1a="b"',
    ],
)
def test_parse_unescaped_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="expected name, operator and value"):
        parse_unescaped(text)


@pytest.mark.parametrize(
    ("name", "value", "text"),
    [
        # Go's strconv.Quote: a control character without a short escape is \x..
        ("a b", "\x01", r'"a b"="\x01"'),
        # DEL too.
        ("a b", "\x7f", r'"a b"="\x7f"'),
        # Not printable above ASCII, below U+10000: \u....
        ("a b", "\x85", r'"a b"="\u0085"'),
        # Not printable above U+FFFF: \U........
        ("a b", "\U000e0001", r'"a b"="\U000e0001"'),
        # The short escapes are written short.
        ("a b", '\a\b\f\n\r\t\v\\"', r'"a b"="\a\b\f\n\r\t\v\\\""'),
        # Printable characters stay as they are.
        ("a b", "é'🙂", '"a b"="é\'🙂"'),
    ],
)
def test_format_matcher_quotes_as_go_does_and_reads_back(name: str, value: str, text: str) -> None:
    assert format_matcher(name, "=", value) == text
    assert read(text) == [(name, "=", value)]
