"""User templates: compiled once, rendered in a sandbox that bounds what they can do.

A receiver's `templates:` (the title, the summary line, the e-mail subject) are Jinja2,
run in its `SandboxedEnvironment` and cut down further, since an operator's template
runs on every notification and sees text that failing requests wrote:

- **Only the incident's fields.** A template gets a plain mapping of strings, numbers,
  lists and dicts (built by the renderer), no globals (`range`, `lipsum`, `namespace`,
  `cycler` …) and no calls. `a.b` is the key `b` of a mapping and nothing else: no
  attribute of any object is reachable (only `loop.index` and its kin), so
  `{{ ''.__class__ }}` and `{{ error.message.upper }}` fail, and a name it does not
  have is an error, not blank text.
- **A small language.** Output, conditions, comparisons, `for` over the fields,
  arithmetic on numbers, `~` to join text, and a list of filters (`FILTERS`) that cannot
  grow text without bound; no `set`, macros, includes, blocks or `**`. Anything else is
  refused when the template is compiled — at configuration load.
- **Bounded work.** The source is at most `SOURCE_CHARS`; every value an operator or
  filter makes is at most `VALUE_CHARS`; the output stops at the caller's limit; a
  render that runs past `RENDER_SECONDS` (a loop over a loop over a long text) is
  stopped.
- **Escaped per target.** Each `{{ … }}` is escaped for where the text goes (`Target`):
  mrkdwn's `&`, `<`, `>` for Slack, HTML for the e-mail's HTML part, nothing for plain
  text. The template's own literal text is the operator's: kept as written for Slack (a
  runbook link, a mention) and plain text, shown as text in HTML.

A template that fails to compile raises `TemplateProblem` (a `ValueError`, so the
configuration names the key); one that fails to render raises it too, and the renderer
falls back to the built-in text.
"""

from __future__ import annotations

import html
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from enum import StrEnum
from types import FrameType
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.runtime import LoopContext
from jinja2.sandbox import SandboxedEnvironment

SOURCE_CHARS = 2000
VALUE_CHARS = 10_000
LIST_ITEMS = 1000
NUMBER_LIMIT = 10**18
RENDER_SECONDS = 0.25

# The syntax a template may use; everything else is refused at compile time.
_ALLOWED_NODES: tuple[type[nodes.Node], ...] = (
    nodes.Template, nodes.Output, nodes.TemplateData, nodes.Const, nodes.Name,
    nodes.Getattr, nodes.Getitem, nodes.Slice, nodes.Filter, nodes.Test, nodes.If,
    nodes.CondExpr, nodes.Compare, nodes.Operand, nodes.And, nodes.Or, nodes.Not,
    nodes.Neg, nodes.Pos, nodes.Add, nodes.Sub, nodes.Mul, nodes.Div, nodes.FloorDiv,
    nodes.Mod, nodes.Concat, nodes.For, nodes.Keyword, nodes.List, nodes.Tuple,
    nodes.Dict, nodes.Pair,
)  # fmt: skip


class TemplateProblem(ValueError):
    """A template that cannot be used, or did not render; the message says why."""


class Target(StrEnum):
    """Where rendered text goes, which says how each `{{ … }}` is escaped."""

    SLACK = "slack"  # mrkdwn
    HTML = "html"
    TEXT = "text"  # plain text, an e-mail header included (made one line by the caller)


def escape_mrkdwn(text: str) -> str:
    """mrkdwn-safe text: Slack's three control characters as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_ESCAPES: dict[Target, Callable[[str], str]] = {
    Target.SLACK: escape_mrkdwn,
    Target.HTML: html.escape,
    Target.TEXT: lambda text: text,
}


def escape_for(target: Target) -> Callable[[str], str]:
    """How text is escaped for `target`."""
    return _ESCAPES[target]


class Template:
    """A compiled user template: `render(fields, target, limit)` gives its text."""

    def __init__(self, source: str) -> None:
        if len(source) > SOURCE_CHARS:
            raise TemplateProblem(f"longer than {SOURCE_CHARS} characters")
        self.source = source
        self._compiled = {target: _compile(source, target) for target in Target}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Template) and other.source == self.source

    def __hash__(self) -> int:
        return hash(self.source)

    def __repr__(self) -> str:
        return f"Template({self.source!r})"

    def render(self, fields: Mapping[str, Any], target: Target, *, limit: int) -> str:
        """The text for `target`, at most `limit` characters (longer output is cut)."""
        stream = self._compiled[target].generate(dict(fields))
        try:
            return _collect(stream, limit)
        except TemplateProblem:
            raise
        except jinja2.TemplateError as exc:
            raise TemplateProblem(_describe(exc)) from None
        except (ArithmeticError, TypeError, ValueError, LookupError, RecursionError) as exc:
            raise TemplateProblem(f"{type(exc).__name__}: {str(exc)[:200]}") from None


def _collect(stream: Iterator[str], limit: int) -> str:
    """The rendered chunks up to `limit` characters, within the time allowed."""
    deadline = time.monotonic() + RENDER_SECONDS

    # Nothing stops a running generator from outside; a trace function runs at every
    # line of the template's compiled code (its loops included), so it can. Work done in
    # one C call is bounded by the value limits instead.
    def tracer(frame: FrameType, event: str, arg: object) -> Any:
        if time.monotonic() > deadline:
            raise TemplateProblem(f"took longer than {RENDER_SECONDS:g} s to render")
        return tracer

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        parts: list[str] = []
        size = 0
        for chunk in stream:
            parts.append(chunk)
            size += len(chunk)
            if size >= limit:
                break
        return "".join(parts)[:limit]
    finally:
        sys.settrace(previous)


def _describe(exc: jinja2.TemplateError) -> str:
    line = getattr(exc, "lineno", None)
    where = f"line {line}: " if line else ""
    return f"{where}{exc.message or type(exc).__name__}"[:300]


class _Sandbox(SandboxedEnvironment):
    # Every arithmetic operator goes through `call_binop`, which keeps values small.
    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%"})

    def getattr(self, obj: Any, attribute: str) -> Any:
        # `error.message` is the mapping's key, never a method of the dict (`.items`).
        if isinstance(obj, dict):
            return obj[attribute] if attribute in obj else self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        # The fields are plain values: only a loop's counters (`loop.index`) are attributes.
        return (
            isinstance(obj, LoopContext)
            and not callable(value)
            and super().is_safe_attribute(obj, attr, value)
        )

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "+" and isinstance(left, str) and isinstance(right, str):
            return left + right if len(left) + len(right) <= VALUE_CHARS else _big()
        if not (_is_number(left) and _is_number(right)):
            raise TemplateProblem(f"{operator!r} is for numbers (join text with ~)")
        result = self.binop_table[operator](left, right)
        if abs(result) > NUMBER_LIMIT:
            raise TemplateProblem(f"a number beyond {NUMBER_LIMIT:.0e}")
        return result


def _is_number(value: object) -> bool:
    return isinstance(value, int | float)


def _big() -> str:
    raise TemplateProblem(f"a value longer than {VALUE_CHARS} characters")


def _bounded(value: Any) -> Any:
    if isinstance(value, str) and len(value) > VALUE_CHARS:
        _big()
    if isinstance(value, list | tuple) and len(value) > LIST_ITEMS:
        raise TemplateProblem(f"a list longer than {LIST_ITEMS} items")
    return value


def _replace(text: str, old: str, new: str, count: int | None = None) -> str:
    """`replace`, refused before it runs when its result would be too long."""
    text, old, new = str(text), str(old), str(new)
    found = len(text) + 1 if old == "" else text.count(old)
    if count is not None and count >= 0:
        found = min(found, count)
    if len(text) + found * (len(new) - len(old)) > VALUE_CHARS:
        _big()
    return text.replace(old, new, -1 if count is None else count)


# Filters whose output is no bigger than their input (or bounded here): no padding,
# wrapping, formatting or markup filters.
FILTERS = (
    "abs", "capitalize", "count", "d", "default", "dictsort", "first", "float", "int",
    "join", "last", "length", "list", "lower", "map", "max", "min", "reject", "rejectattr",
    "replace", "reverse", "round", "select", "selectattr", "sort", "string", "sum",
    "title", "trim", "truncate", "unique", "upper", "wordcount",
)  # fmt: skip


def _guarded(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    if name == "replace":
        return _replace

    def guarded(*args: Any, **kwargs: Any) -> Any:
        return _bounded(function(*args, **kwargs))

    # Jinja passes the environment or context to filters marked for it; keep the mark.
    guarded.__dict__.update(getattr(function, "__dict__", {}))
    return guarded


def _environment(target: Target) -> SandboxedEnvironment:
    escape = _ESCAPES[target]
    environment = _Sandbox(
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        finalize=lambda value: "" if value is None else escape(str(value)),
    )
    environment.globals.clear()
    environment.filters = {name: _guarded(name, environment.filters[name]) for name in FILTERS}
    return environment


_ENVIRONMENTS = {target: _environment(target) for target in Target}


def _compile(source: str, target: Target) -> jinja2.Template:
    environment = _ENVIRONMENTS[target]
    try:
        tree = environment.parse(source)
        for node in tree.find_all(nodes.Node):
            if not isinstance(node, _ALLOWED_NODES):
                raise TemplateProblem(f"line {node.lineno}: {_construct(node)} is not allowed")
        if target is Target.HTML:
            # One template serves Slack and e-mail: its own text is written for Slack
            # (a `<url|label>` link), so the HTML part shows it as text, not as markup.
            for data in tree.find_all(nodes.TemplateData):
                data.data = html.escape(data.data)
        return environment.from_string(tree)
    except jinja2.TemplateError as exc:
        raise TemplateProblem(_describe(exc)) from None


def _construct(node: nodes.Node) -> str:
    names = {
        nodes.Call: "calling a function or method",
        nodes.Pow: "'**'",
        nodes.Assign: "'set'",
        nodes.AssignBlock: "'set'",
        nodes.Macro: "a macro",
        nodes.CallBlock: "'call'",
        nodes.FilterBlock: "a filter block",
        nodes.Include: "'include'",
        nodes.Import: "'import'",
        nodes.FromImport: "'import'",
        nodes.Extends: "'extends'",
        nodes.Block: "a block",
        nodes.With: "'with'",
    }
    return names.get(type(node), f"'{type(node).__name__}'")
