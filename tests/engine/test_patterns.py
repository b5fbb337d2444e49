"""User patterns run in RE2: linear time whatever the pattern, clear errors for what RE2
refuses, and no exception but PatternError for any text a caller can send."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from receiver.engine.patterns import PatternError, UserPattern, compile_user_pattern


@pytest.mark.parametrize(
    ("pattern", "value", "full", "anywhere"),
    [
        # Matchers are anchored at both ends, like Alertmanager's ^(?:...)$ ...
        ("flux-.*", "flux-pro", True, True),
        ("flux-.*", "my-flux-pro", False, True),
        ("flux", "flux-pro", False, True),
        # ... an alternation is anchored as a whole, not just its first branch.
        ("a|b", "ab", False, True),
        ("a|b", "b", True, True),
        # The empty pattern matches only the empty value in full, anything in part.
        ("", "", True, True),
        ("", "x", False, True),
        # POSIX classes work (Go and Alertmanager accept them; Python's re does not).
        ("[[:digit:]]+", "429", True, True),
        # \d is ASCII only in RE2: an Arabic-Indic digit is not a digit.
        (r"\d", "\u0663", False, False),
        # Non-ASCII text matches character by character, not byte by byte.
        ("fl.x", "fléx", True, True),
        # A NUL in the value is just a character.
        ("a.b", "a\x00b", True, True),
        # A lone surrogate in the value is one (invalid) character, never an exception.
        ("a.b", "a\ud800b", True, True),
        ("ab", "a\ud800b", False, False),
    ],
)
def test_matching(pattern: str, value: str, full: bool, anywhere: bool) -> None:
    compiled = compile_user_pattern(pattern)
    assert compiled.fullmatch(value) is full
    assert compiled.search(value) is anywhere


def test_case_is_ignored_only_when_asked() -> None:
    assert not compile_user_pattern("timed out").search("Request TIMED OUT")
    assert compile_user_pattern("timed out", ignore_case=True).search("Request TIMED OUT")
    # Case folding is Unicode-aware, not ASCII only.
    assert compile_user_pattern("é", ignore_case=True).fullmatch("É")


@pytest.mark.timeout(30)
def test_catastrophic_patterns_run_in_linear_time() -> None:
    # The attack from issue 13: with backtracking each extra "a" doubles the time, so
    # 64 of them would take centuries; RE2 answers at once. The timeout makes a
    # backtracking engine fail this test instead of hanging the run.
    for pattern in ("(a+)+$", "(a|a)*$", "(a*)*b", "(.*a){20}"):
        assert not compile_user_pattern(pattern).fullmatch("a" * 64 + "!")
    # And on a classifier-sized message: 256 KiB of attacker text.
    assert not compile_user_pattern("(x+x+)+y").search("x" * 262_144)


@pytest.mark.parametrize(
    ("pattern", "named"),
    [
        # Backreferences need backtracking, in every spelling.
        (r"(a)\1", r"\1 is a backreference"),
        (r"(?P<x>a)(?P=x)", "named backreference (?P=name)"),
        (r"(a)\g<1>", r"backreference \g<...>"),
        (r"(?<x>a)\k<x>", r"backreference \k<...>"),
        # Lookaround, all four kinds.
        (r"flux(?=-pro)", "a lookahead (?=...)"),
        (r"flux(?!-pro)", "a negative lookahead (?!...)"),
        (r"(?<=flux)-pro", "a lookbehind (?<=...)"),
        (r"(?<!flux)-pro", "a negative lookbehind (?<!...)"),
        # PCRE's other backtracking controls.
        (r"(?>a+)b", "an atomic group"),
        (r"a*+b", "possessive quantifier *+"),
        (r"a++b", "possessive quantifier ++"),
        (r"(a)?(?(1)b|c)", "a conditional group"),
        (r"a(?#note)", "a comment group"),
        # Python's end-of-text escape; RE2 spells it \z.
        (r"flux\Z", r"write \z"),
    ],
)
def test_backtracking_constructs_are_refused_by_name(pattern: str, named: str) -> None:
    with pytest.raises(PatternError) as caught:
        compile_user_pattern(pattern)
    message = str(caught.value)
    assert named in message
    if "backreference" not in named and r"\z" not in named:
        assert "RE2" in message


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        # A syntax error keeps RE2's own words, which say where.
        ("(flux", "missing ): (flux"),
        ("[a-", "missing ]: [a-"),
        ("a{2000}", "invalid repetition size: {2000}"),
        # A pattern whose program exceeds the memory bound is refused, not compiled.
        ("(" + "|".join(f"x{n}y" for n in range(200_000)) + ")", "too large"),
        # A lone surrogate is not text; the message shows which code point.
        ("a\ud800", "lone surrogate (U+D800)"),
    ],
)
def test_invalid_patterns_say_why(pattern: str, reason: str) -> None:
    with pytest.raises(PatternError) as caught:
        compile_user_pattern(pattern)
    assert reason in str(caught.value)


def test_patterns_compare_by_text_and_case_rule() -> None:
    assert compile_user_pattern("a.*") == compile_user_pattern("a.*")
    assert hash(compile_user_pattern("a.*")) == hash(compile_user_pattern("a.*"))
    assert compile_user_pattern("a.*") != compile_user_pattern("a.*", ignore_case=True)
    assert str(compile_user_pattern("a.*")) == "a.*"


def test_refusals_print_nothing(capfd: pytest.CaptureFixture[str]) -> None:
    # RE2 logs parse errors to stderr by default; ours go into the 422 or the config error.
    with pytest.raises(PatternError):
        compile_user_pattern("(a)\\1")
    assert capfd.readouterr().err == ""


def _compiles_or_says_why(pattern: str) -> UserPattern | None:
    try:
        return compile_user_pattern(pattern)
    except PatternError as exc:
        reason = str(exc)
    assert reason
    return None


@given(st.text(max_size=40), st.text(max_size=40))
def test_any_text_compiles_or_is_refused_cleanly(pattern: str, value: str) -> None:
    compiled = _compiles_or_says_why(pattern)
    if compiled is not None:
        assert compiled.fullmatch(value) in (True, False)
        assert compiled.search(value) in (True, False)


@given(st.text(alphabet="()[]{}|*+?.\\^$:=!<>#Pgkz0123456789ab-", max_size=20))
def test_regex_syntax_soup_compiles_or_is_refused_cleanly(pattern: str) -> None:
    compiled = _compiles_or_says_why(pattern)
    if compiled is not None:
        assert compiled.search("ab" * 10) in (True, False)
