"""User templates: a small language in a sandbox, escaped per target, bounded in size and
time, and no exception but TemplateProblem for any source or field text."""

from __future__ import annotations

import contextlib
import html
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from receiver.templating import (
    RENDER_SECONDS,
    SOURCE_CHARS,
    Target,
    Template,
    TemplateProblem,
    escape_mrkdwn,
)

FIELDS: dict[str, Any] = {
    "category": "rate_limit",
    "model": "flux-pro",
    "episode_failures": 37,
    "window_failures": 12,
    "resolved": False,
    "labels": {"category": "rate_limit", "model_id": "flux-pro"},
    "top_errors": [
        {"message": "Rate limit exceeded", "count": 31, "new": False},
        {"message": "Upstream returned 503", "count": 6, "new": True},
    ],
    "top_error": "Rate limit exceeded",
    "default": "37 failures · rate_limit · flux-pro",
}
LONG = "abcdefghij" * 100  # 1,000 characters


def render(source: str, target: Target = Target.TEXT, limit: int = 500, **extra: Any) -> str:
    return Template(source).render({**FIELDS, **extra}, target, limit=limit)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # fields by name, literal text kept as written
        ("*{{ category }}* on {{ model }}", "*rate_limit* on flux-pro"),
        # the built-in text of the slot, to extend rather than replace
        ("{{ default }} — ask #ml-oncall", "37 failures · rate_limit · flux-pro — ask #ml-oncall"),
        # a mapping's keys, by dot or by brackets
        ("{{ labels.model_id }}/{{ labels['category'] }}", "flux-pro/rate_limit"),
        # a list's items and their keys
        ("{{ top_errors[1].message }} ({{ top_errors[1].count }})", "Upstream returned 503 (6)"),
        # conditions, comparisons and tests
        ("{% if episode_failures > 10 %}big{% else %}small{% endif %}", "big"),
        ("{{ 'RESOLVED' if resolved else 'OPEN' }}", "OPEN"),
        ("{% if top_error is string and 'limit' in top_error %}yes{% endif %}", "yes"),
        # arithmetic on numbers
        ("{{ episode_failures - window_failures }} before", "25 before"),
        ("{{ (window_failures / episode_failures * 100)|round|int }}%", "32%"),
        # loops over the fields, with the loop's counters
        (
            "{% for e in top_errors %}{{ loop.index }}. {{ e.message }}{% if not loop.last %}; "
            "{% endif %}{% endfor %}",
            "1. Rate limit exceeded; 2. Upstream returned 503",
        ),
        # the allowed filters
        (
            "{{ top_errors|map(attribute='message')|join(' | ')|upper }}",
            ("RATE LIMIT EXCEEDED | UPSTREAM RETURNED 503"),
        ),
        ("{{ top_errors|selectattr('new')|list|length }} new", "1 new"),
        ("{{ model|replace('-', ' ')|title }}", "Flux Pro"),
        ("{{ top_error|truncate(10, true, '…') }}", "Rate limi…"),
        ("{{ nothing|default('n/a') }}", "n/a"),
        # ~ joins text (and numbers, as text)
        ("{{ category ~ ':' ~ episode_failures }}", "rate_limit:37"),
        # text + text is joined too, when it stays short
        ("{{ category + '!' }}", "rate_limit!"),
    ],
)
def test_what_a_template_can_do(source: str, expected: str) -> None:
    assert render(source) == expected


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        # not a template at all
        ("{{ category", "line 1: unexpected end of template"),
        ("{% if x %}", "line 1: Unexpected end of template"),
        # functions: no globals to call, and no methods
        ("{{ range(10) }}", "calling a function or method is not allowed"),
        ("{{ lipsum(1000000) }}", "calling a function or method is not allowed"),
        ("{{ category.upper() }}", "calling a function or method is not allowed"),
        ("{{ cycler(1, 2).next() }}", "calling a function or method is not allowed"),
        # state that outlives a statement, and code reuse
        ("{% set x = category %}{{ x }}", "'set' is not allowed"),
        ("{% macro m() %}{{ m() }}{% endmacro %}", "a macro is not allowed"),
        ("{% with x = 1 %}{% endwith %}", "'with' is not allowed"),
        ("{% include 'x' %}", "'include' is not allowed"),
        ("{% extends 'x' %}", "'extends' is not allowed"),
        ("{% filter upper %}x{% endfilter %}", "a filter block is not allowed"),
        # power: 10 ** 10 ** 9 would never finish
        ("{{ 10 ** 10 ** 9 }}", "'**' is not allowed"),
        # filters that pad, wrap, format or mark text safe
        ("{{ category|center(1000000000) }}", "No filter named 'center'"),
        ("{{ category|indent(1000000000) }}", "No filter named 'indent'"),
        ("{{ '%s'|format(category) }}", "No filter named 'format'"),
        ("{{ category|safe }}", "No filter named 'safe'"),
        ("{{ top_errors|tojson }}", "No filter named 'tojson'"),
        # too long a source
        ("x" * (SOURCE_CHARS + 1), f"longer than {SOURCE_CHARS} characters"),
    ],
)
def test_what_is_refused_when_compiled(source: str, problem: str) -> None:
    with pytest.raises(TemplateProblem) as caught:
        Template(source)
    assert problem in str(caught.value)


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        # Python's internals, through any value
        ("{{ ''.__class__ }}", "access to attribute '__class__' of 'str' object is unsafe"),
        ("{{ category.__class__.__mro__ }}", "'__class__' of 'str' object is unsafe"),
        ("{{ labels['__class__'] }}", "'__class__' of 'dict' object is unsafe"),
        ("{{ top_errors.__len__ }}", "'__len__' of 'list' object is unsafe"),
        # methods are no fields: a mapping's `.items`, a text's `.upper`
        ("{{ labels.items }}", "'dict object' has no attribute 'items'"),
        ("{{ category.upper }}", "access to attribute 'upper' of 'str' object is unsafe"),
        ("{{ top_errors.append }}", "access to attribute 'append' of 'list' object is unsafe"),
        # a name the notification does not have is an error, not blank text
        ("{{ incident_url }}", "'incident_url' is undefined"),
        ("{{ labels.region }}", "has no attribute 'region'"),
        # text does not multiply or format: '%' and '*' are for numbers
        ("{{ category * 1000000000 }}", "'*' is for numbers"),
        ("{{ '%999999999d' % 1 }}", "'%' is for numbers"),
        # numbers stay small
        ("{{ 999999999999 * 999999999999 }}", "a number beyond"),
        # text grows no longer than the bound, however it is built
        ("{{ long|replace('', long) }}", "a value longer than 10000 characters"),
        (
            "{{ long + long + long + long + long + long + long + long + long + long + long }}",
            ("a value longer than 10000 characters"),
        ),
        # a loop over a loop over a loop of a long text: stopped in time
        (
            "{% for a in long %}{% for b in long %}{% for c in long %}"
            "{% endfor %}{% endfor %}{% endfor %}",
            f"took longer than {RENDER_SECONDS:g} s",
        ),
    ],
)
def test_what_is_refused_when_rendered(source: str, problem: str) -> None:
    template = Template(source)
    started = time.monotonic()
    with pytest.raises(TemplateProblem) as caught:
        template.render({**FIELDS, "long": LONG}, Target.SLACK, limit=500)
    assert problem in str(caught.value)
    assert time.monotonic() - started < RENDER_SECONDS + 1.0


def test_output_stops_at_the_limit() -> None:
    source = "{% for a in long %}{% for b in long %}{{ a }}{% endfor %}{% endfor %}"
    assert render(source, limit=300, long=LONG) == "a" * 300


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        # Slack: the three mrkdwn characters, so no ping and no hidden link
        (Target.SLACK, "*x* &lt;!channel&gt; &amp; &lt;http://evil|click&gt;"),
        # HTML: every markup character, quotes too
        (Target.HTML, "*x* &lt;!channel&gt; &amp; &lt;http://evil|click&gt;"),
        # plain text: as it is
        (Target.TEXT, "*x* <!channel> & <http://evil|click>"),
    ],
)
def test_values_are_escaped_for_their_target_and_literal_text_is_not(
    target: Target, expected: str
) -> None:
    assert render("*x* {{ top_error }}", target, top_error="<!channel> & <http://evil|click>") == (
        expected
    )


def test_literal_text_is_kept_for_slack_and_shown_as_text_in_html() -> None:
    source = "<https://runbook.example/{{ category }}|runbook> & {{ top_error }}"
    slack = render(source, Target.SLACK, top_error="<b>")
    assert slack == "<https://runbook.example/rate_limit|runbook> & &lt;b&gt;"
    page = render(source, Target.HTML, top_error="<b>")
    assert page == "&lt;https://runbook.example/rate_limit|runbook&gt; &amp; &lt;b&gt;"
    assert render(source, Target.TEXT, top_error="<b>") == (
        "<https://runbook.example/rate_limit|runbook> & <b>"
    )


def test_html_escapes_quotes_and_no_filter_unescapes() -> None:
    text = "\"><script>alert('x')</script>"
    out = render("[{{ top_error|string|lower }}]", Target.HTML, top_error=text)
    assert out == "[&quot;&gt;&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;]"


# No deadline: a loaded machine is slow; the render's own time bound is what is tested.
@settings(deadline=None)
@given(st.text(max_size=300))
def test_any_failure_text_comes_out_escaped(text: str) -> None:
    source = "{{ top_error }} · {{ top_errors[0].message|upper }} · {{ labels.model_id }}"
    fields = {
        **FIELDS,
        "top_error": text,
        "top_errors": [{"message": text}],
        "labels": {"model_id": text},
    }
    template = Template(source)
    slack = template.render(fields, Target.SLACK, limit=10_000)
    assert slack == " · ".join(escape_mrkdwn(value) for value in (text, text.upper(), text))
    assert "<" not in slack
    assert ">" not in slack
    page = template.render(fields, Target.HTML, limit=10_000)
    assert html.unescape(page) == " · ".join((text, text.upper(), text))
    assert "<" not in page


@settings(deadline=None)
@given(st.text(max_size=200))
def test_any_source_compiles_or_is_refused_and_renders_or_is_refused(source: str) -> None:
    try:
        template = Template(source)
    except TemplateProblem:
        return
    started = time.monotonic()
    try:
        out = template.render(FIELDS, Target.SLACK, limit=200)
    except TemplateProblem:
        return
    finally:
        assert time.monotonic() - started < RENDER_SECONDS + 1.0
    assert len(out) <= 200


TEMPLATE_PIECES = st.sampled_from(
    [
        "{{ category }}", "{{ top_error }}", "{{ episode_failures * 2 }}", "{{ model|upper }}",
        "{% for e in top_errors %}", "{% endfor %}", "{% if resolved %}", "{% endif %}",
        "{{ top_errors|map(attribute='message')|join(', ') }}", "{{ labels.model_id }}",
        "{{ x }}", "{{ loop.index }}", " text ", "{{ default ~ '!' }}", "{{ 1 / 0 }}",
        "{{ top_error|replace('e', top_error) }}", "{{ top_errors[5].message }}",
    ]
)  # fmt: skip


@settings(deadline=None)
@given(st.lists(TEMPLATE_PIECES, max_size=12).map("".join))
def test_templates_built_from_real_pieces_never_raise_anything_else(source: str) -> None:
    with contextlib.suppress(TemplateProblem):
        Template(source).render(FIELDS, Target.HTML, limit=1000)
