"""Alertmanager's own test tables, restated as data for failwatch's tests.

The facts (an input and what Alertmanager answers) come from Alertmanager's test files,
named on each table; they are written anew here, not copied. Each case carries failwatch's
verdict:

- it agrees: failwatch answers what the table says;
- `DEFAULT_MODE`: the table exercises one of Alertmanager's two matcher parsers on its own,
  and Alertmanager's default mode (which keeps the classic reading whenever there is one,
  the UTF-8 reading otherwise) answers differently; failwatch answers like the default mode;
- a title from `DIFFERENCES`: a deliberate difference, explained under that title in the
  README's "Differences from Alertmanager", with failwatch's own answer;
- `NOT_APPLICABLE`: the case tests something failwatch does not have; the reason says why.

A parse answer is a tuple of (name, operator, value) triples, or `REFUSED`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

Triple = tuple[str, str, str]
REFUSED: Final = "refused"
DEFAULT_MODE: Final = "default mode"
NOT_APPLICABLE: Final = "not applicable"

# The deliberate differences, by their title in the README's "Differences from
# Alertmanager", which says why (the one place they are explained).
DIFFERENCES = (
    "Unbalanced braces are refused",
    "Values between single quotes are refused",
    "Failures are grouped by category and model unless a route says otherwise",
    "A group resolves as a whole",
    "New failures after a quiet spell go out at once",
    "Inhibition rules are not there",
)

Answer = tuple[Triple, ...] | str


@dataclass(frozen=True, slots=True)
class ParseCase:
    text: str
    want: Answer  # what the Alertmanager table says
    verdict: str | None = None  # None: failwatch agrees
    failwatch: Answer | None = None  # failwatch's answer when it does not agree

    @property
    def expected(self) -> Answer:
        return self.want if self.failwatch is None else self.failwatch


def eq(name: str, value: str) -> Triple:
    return (name, "=", value)


def ne(name: str, value: str) -> Triple:
    return (name, "!=", value)


def re_(name: str, value: str) -> Triple:
    return (name, "=~", value)


def nre(name: str, value: str) -> Triple:
    return (name, "!~", value)


_UNBALANCED = "Unbalanced braces are refused"

# pkg/labels/parse_test.go, TestMatchers: the classic parser, lists with or without braces.
CLASSIC_PARSE = [
    ParseCase("{}", ()),
    ParseCase(",", REFUSED),
    ParseCase("{,}", REFUSED),
    ParseCase("{foo='}", (eq("foo", "'"),)),
    ParseCase("{foo=`}", (eq("foo", "`"),)),
    ParseCase('{foo=\\"}', (eq("foo", '"'),)),
    ParseCase("{foo=bar}", (eq("foo", "bar"),)),
    ParseCase('{foo="bar"}', (eq("foo", "bar"),)),
    ParseCase("{foo=~bar.*}", (re_("foo", "bar.*"),)),
    ParseCase('{foo=~"bar.*"}', (re_("foo", "bar.*"),)),
    ParseCase("{foo!=bar}", (ne("foo", "bar"),)),
    ParseCase('{foo!="bar"}', (ne("foo", "bar"),)),
    ParseCase("{foo!~bar.*}", (nre("foo", "bar.*"),)),
    ParseCase('{foo!~"bar.*"}', (nre("foo", "bar.*"),)),
    ParseCase('{foo="bar", baz!="quux"}', (eq("foo", "bar"), ne("baz", "quux"))),
    ParseCase('{foo="bar", baz!~"quux.*"}', (eq("foo", "bar"), nre("baz", "quux.*"))),
    ParseCase(
        '{foo="bar",baz!~".*quux", derp="wat"}',
        (eq("foo", "bar"), nre("baz", ".*quux"), eq("derp", "wat")),
    ),
    ParseCase(
        '{foo="bar", baz!="quux", derp="wat"}',
        (eq("foo", "bar"), ne("baz", "quux"), eq("derp", "wat")),
    ),
    ParseCase(
        '{foo="bar", baz!~".*quux.*", derp="wat"}',
        (eq("foo", "bar"), nre("baz", ".*quux.*"), eq("derp", "wat")),
    ),
    ParseCase(
        '{foo="bar", instance=~"some-api.*"}', (eq("foo", "bar"), re_("instance", "some-api.*"))
    ),
    ParseCase('{foo=""}', (eq("foo", ""),)),
    ParseCase('{foo="bar,quux", job="job1"}', (eq("foo", "bar,quux"), eq("job", "job1"))),
    ParseCase('{foo = "bar", dings != "bums", }', (eq("foo", "bar"), ne("dings", "bums"))),
    ParseCase("foo=bar,dings!=bums", (eq("foo", "bar"), ne("dings", "bums"))),
    ParseCase(
        '{quote="She said: \\"Hi, ladies! That\'s gender-neutral…\\""}',
        (eq("quote", 'She said: "Hi, ladies! That\'s gender-neutral…"'),),
    ),
    ParseCase('statuscode=~"5.."', (re_("statuscode", "5.."),)),
    ParseCase("tricky=~~~", (re_("tricky", "~~"),)),
    ParseCase('trickier==\\\\=\\=\\"', (eq("trickier", '=\\=\\="'),)),
    ParseCase(
        'contains_quote != "\\"" , contains_comma !~ "foo,bar" , ',
        (ne("contains_quote", '"'), nre("contains_comma", "foo,bar")),
    ),
    ParseCase("{foo=bar}}", (eq("foo", "bar}"),)),
    ParseCase("{foo=bar}},}", (eq("foo", "bar}}"),)),
    ParseCase("{foo=,bar=}}", (eq("foo", ""), eq("bar", "}"))),
    ParseCase("{foo=bar\\t}", (eq("foo", "bar\\t"),)),
    ParseCase("{foo=bar\\n}", (eq("foo", "bar\n"),)),
    ParseCase("{foo=bar\\}", (eq("foo", "bar\\"),)),
    ParseCase("{foo=bar\\\\}", (eq("foo", "bar\\"),)),
    ParseCase('{foo=bar\\"}', (eq("foo", 'bar"'),)),
    ParseCase("job=", (eq("job", ""),)),
    ParseCase('job="value', REFUSED),
    ParseCase('job=value"', REFUSED),
    ParseCase('trickier==\\\\=\\=\\""', REFUSED),
    ParseCase('contains_unescaped_quote = foo"bar', REFUSED),
    # Alertmanager's default mode reads this with its UTF-8 parser, where a label name
    # may hold any character but the reserved ones.
    ParseCase(
        '{invalid-name = "valid label"}',
        REFUSED,
        DEFAULT_MODE,
        (eq("invalid-name", "valid label"),),
    ),
    ParseCase('{foo=~"invalid[regexp"}', REFUSED),
    # Double-escaped strings: a whole matcher inside quotes is not a matcher.
    ParseCase('"{foo=\\"bar"}', REFUSED),
    ParseCase('"foo=\\"bar"', REFUSED),
    ParseCase('"foo=\\"bar\\""', REFUSED),
    ParseCase('"foo=\\"bar\\"', REFUSED),
    ParseCase('"{foo=\\"bar\\"}"', REFUSED),
    ParseCase('"foo="bar""', REFUSED),
    ParseCase("{{foo=", REFUSED),
    ParseCase("{foo=", (eq("foo", ""),), _UNBALANCED, REFUSED),
    ParseCase("{foo=}b", (eq("foo", "}b"),), _UNBALANCED, REFUSED),
]

# matcher/parse/parse_test.go, TestMatchers: the UTF-8 parser on its own.
UTF8_PARSE = [
    ParseCase("", ()),
    ParseCase("{}", ()),
    ParseCase("{foo=bar}", (eq("foo", "bar"),)),
    ParseCase("{foo=bar,}", (eq("foo", "bar"),)),
    ParseCase("{foo!=bar}", (ne("foo", "bar"),)),
    ParseCase("{foo=~[a-z]+}", (re_("foo", "[a-z]+"),)),
    ParseCase("{foo!~[a-z]+}", (nre("foo", "[a-z]+"),)),
    ParseCase("{foo=🙂}", (eq("foo", "🙂"),)),
    ParseCase("{foo=🙂bar}", (eq("foo", "🙂bar"),)),
    ParseCase("foo=bar", (eq("foo", "bar"),)),
    ParseCase("foo=bar,", (eq("foo", "bar"),)),
    ParseCase("foo!=bar", (ne("foo", "bar"),)),
    ParseCase("foo=~[a-z]+", (re_("foo", "[a-z]+"),)),
    ParseCase("foo!~[a-z]+", (nre("foo", "[a-z]+"),)),
    ParseCase('{"foo"="bar"}', (eq("foo", "bar"),)),
    ParseCase('{"foo"="bar",}', (eq("foo", "bar"),)),
    ParseCase('{"foo"!="bar"}', (ne("foo", "bar"),)),
    ParseCase('{"foo"=~"[a-z]+"}', (re_("foo", "[a-z]+"),)),
    ParseCase('{"foo"=~"\\\\d+"}', (re_("foo", "\\d+"),)),
    ParseCase('{"foo"!~"[a-z]+"}', (nre("foo", "[a-z]+"),)),
    ParseCase('{"foo"="🙂"}', (eq("foo", "🙂"),)),
    ParseCase('{"foo"="\\xf0\\x9f\\x99\\x82"}', (eq("foo", "🙂"),)),
    ParseCase('{"foo"="\\U0001f642"}', (eq("foo", "🙂"),)),
    ParseCase('{"foo"="🙂bar"}', (eq("foo", "🙂bar"),)),
    ParseCase('{"foo"="bar\\n"}', (eq("foo", "bar\n"),)),
    ParseCase('{"foo"="bar\\t"}', (eq("foo", "bar\t"),)),
    ParseCase('{"foo"="\\"bar\\""}', (eq("foo", '"bar"'),)),
    ParseCase('{"foo"="bar\\\\"}', (eq("foo", "bar\\"),)),
    ParseCase('"foo"="bar"', (eq("foo", "bar"),)),
    ParseCase('"foo"="bar",', (eq("foo", "bar"),)),
    ParseCase("{foo=bar,bar!=baz}", (eq("foo", "bar"), ne("bar", "baz"))),
    ParseCase('{foo="bar",bar!="baz"}', (eq("foo", "bar"), ne("bar", "baz"))),
    ParseCase("foo=bar,bar!=baz", (eq("foo", "bar"), ne("bar", "baz"))),
    ParseCase('foo="bar",bar!="baz"', (eq("foo", "bar"), ne("bar", "baz"))),
    ParseCase(",", REFUSED),
    ParseCase("{,}", REFUSED),
    ParseCase("{", REFUSED),
    ParseCase("}", REFUSED),
    ParseCase("foo=bar}", REFUSED),
    ParseCase("{foo=bar", REFUSED),
    ParseCase('{foo=:"bar"}', REFUSED),
    # The classic parser keeps a backslash it does not know as written, and the default
    # mode takes its reading: the value is `bar\w`.
    ParseCase('{foo="bar\\w"}', REFUSED, DEFAULT_MODE, (eq("foo", "bar\\w"),)),
    ParseCase('{"foo"=~"\\d+"}', REFUSED),
    # The classic parser decodes \n in an unquoted value too.
    ParseCase("{foo=bar\\n}", REFUSED, DEFAULT_MODE, (eq("foo", "bar\n"),)),
    ParseCase('{"foo"="\\xf0\\x9f"}', REFUSED),
]

# matcher/parse/parse_test.go, TestMatcher: exactly one matcher.
UTF8_SINGLE = [
    ParseCase("{foo=bar}", (eq("foo", "bar"),)),
    ParseCase("{foo=bar,}", (eq("foo", "bar"),)),
    ParseCase("{foo!=bar}", (ne("foo", "bar"),)),
    ParseCase("{foo=~[a-z]+}", (re_("foo", "[a-z]+"),)),
    ParseCase("{foo!~[a-z]+}", (nre("foo", "[a-z]+"),)),
    ParseCase("{foo=🙂}", (eq("foo", "🙂"),)),
    ParseCase('{"foo"="\\xf0\\x9f\\x99\\x82"}', (eq("foo", "🙂"),)),
    ParseCase('{"foo"="\\U0001f642"}', (eq("foo", "🙂"),)),
    ParseCase("{foo=🙂bar}", (eq("foo", "🙂bar"),)),
    ParseCase("foo=bar", (eq("foo", "bar"),)),
    ParseCase("foo=bar,", (eq("foo", "bar"),)),
    ParseCase("foo!=bar", (ne("foo", "bar"),)),
    ParseCase("foo=~[a-z]+", (re_("foo", "[a-z]+"),)),
    ParseCase("foo!~[a-z]+", (nre("foo", "[a-z]+"),)),
    ParseCase('{"foo"="bar"}', (eq("foo", "bar"),)),
    ParseCase('{"foo"="bar",}', (eq("foo", "bar"),)),
    ParseCase('{"foo"!="bar"}', (ne("foo", "bar"),)),
    ParseCase('{"foo"=~"[a-z]+"}', (re_("foo", "[a-z]+"),)),
    ParseCase('{"foo"!~"[a-z]+"}', (nre("foo", "[a-z]+"),)),
    ParseCase('{"foo"="🙂"}', (eq("foo", "🙂"),)),
    ParseCase('{"foo"="🙂bar"}', (eq("foo", "🙂bar"),)),
    ParseCase('{"foo"="bar\\n"}', (eq("foo", "bar\n"),)),
    ParseCase('{"foo"="bar\\t"}', (eq("foo", "bar\t"),)),
    ParseCase('{"foo"="\\"bar\\""}', (eq("foo", '"bar"'),)),
    ParseCase('{"foo"="bar\\\\"}', (eq("foo", "bar\\"),)),
    ParseCase('"foo"="bar"', (eq("foo", "bar"),)),
    ParseCase('"foo"="bar",', (eq("foo", "bar"),)),
    ParseCase("", REFUSED),
    ParseCase("{}", REFUSED),
    ParseCase("foo=bar,bar=baz", REFUSED),
    # The classic parser keeps \x as written, and the default mode takes its reading.
    ParseCase('foo="\\xf0\\x9f"', REFUSED, DEFAULT_MODE, (eq("foo", "\\xf0\\x9f"),)),
]


@dataclass(frozen=True, slots=True)
class MatchCase:
    op: str
    pattern: str
    value: str
    matches: bool


# pkg/labels/matcher_test.go, TestMatcher: one matcher against one label value.
MATCH = [
    MatchCase("=", "bar", "bar", True),
    MatchCase("=", "bar", "foo-bar", False),
    MatchCase("!=", "bar", "bar", False),
    MatchCase("!=", "bar", "foo-bar", True),
    MatchCase("=~", "bar", "bar", True),
    MatchCase("=~", "bar", "foo-bar", False),
    MatchCase("=~", ".*bar", "foo-bar", True),
    MatchCase("!~", "bar", "bar", False),
    MatchCase("!~", "bar", "foo-bar", True),
    MatchCase("!~", ".*bar", "foo-bar", False),
    MatchCase("=~", "foo.bar", "foo-bar", True),
    MatchCase("=~", "foo\\.bar", "foo-bar", False),
    MatchCase("=~", "foo\\.bar", "foo.bar", True),
    MatchCase("=", "foo\nbar", "foo\nbar", True),
    MatchCase("=~", "foo.bar", "foo\nbar", False),
    MatchCase("=~", "(?s)foo.bar", "foo\nbar", True),
    MatchCase("=", '~!="', '~!="', True),
]

# pkg/labels/matcher_test.go, TestMatcherString: (name, operator, value) → text.
STRING = [
    (("foo", "=", "bar"), 'foo="bar"'),
    (("foo", "!=", "bar"), 'foo!="bar"'),
    (("foo", "=~", "bar"), 'foo=~"bar"'),
    (("foo", "!~", "bar"), 'foo!~"bar"'),
    (("foo", "=", "back\\slash"), 'foo="back\\\\slash"'),
    (("foo", "=", 'double"quote'), 'foo="double\\"quote"'),
    (("foo", "=", "new\nline"), 'foo="new\\nline"'),
    (("foo", "=", "tab\tstop"), 'foo="tab\tstop"'),
    (("foo", "=", "🙂"), 'foo="🙂"'),
    (("foo!", "!=", "bar"), '"foo!"!="bar"'),
    (("foo🙂", "=", "bar"), 'foo🙂="bar"'),
    (("foo bar", "=", "baz"), '"foo bar"="baz"'),
]


@dataclass(frozen=True, slots=True)
class Opts:
    """What a matched route says: receiver, grouping and timings (seconds).

    `group_by` None is the route tree's default; `("...",)` is every label.
    """

    receiver: str
    group_by: tuple[str, ...] | None = None
    group_wait: float = 30.0
    group_interval: float = 300.0
    repeat_interval: float = 14400.0


@dataclass(frozen=True, slots=True)
class RouteCase:
    labels: dict[str, str]
    want: tuple[Opts, ...]


@dataclass(frozen=True, slots=True)
class RouteTable:
    title: str  # the Alertmanager test function
    tree: str  # the route, YAML
    cases: tuple[RouteCase, ...]


ROUTE_RECEIVERS = (
    "notify-def",
    "notify-A",
    "notify-testing",
    "notify-productionA",
    "notify-productionB",
    "notify-BC",
)

# dispatch/route_test.go: the same tree written with match/match_re, with matchers, and
# with both; the same label sets reach the same routes.
_TREE_MATCH = """
receiver: notify-def
routes:
- match: {owner: team-A}
  receiver: notify-A
  routes:
  - match: {env: testing}
    receiver: notify-testing
    group_by: [...]
  - match: {env: production}
    receiver: notify-productionA
    group_wait: 1m
    continue: true
  - match_re: {env: produ.*, job: .*}
    receiver: notify-productionB
    group_wait: 30s
    group_interval: 5m
    repeat_interval: 1h
    group_by: [job]
- match_re: {owner: team-(B|C)}
  group_by: [foo, bar]
  group_wait: 2m
  receiver: notify-BC
- match: {group_by: role}
  group_by: [role]
  routes:
  - match: {env: testing}
    receiver: notify-testing
    routes:
    - match: {wait: long}
      group_wait: 2m
"""

_TREE_MATCHERS = """
receiver: notify-def
routes:
- matchers: ['{owner="team-A"}', '{level!="critical"}']
  receiver: notify-A
  routes:
  - matchers: ['{env="testing"}', '{baz!~".*quux"}']
    receiver: notify-testing
    group_by: [...]
  - matchers: ['{env="production"}']
    receiver: notify-productionA
    group_wait: 1m
    continue: true
  - matchers: [ env=~"produ.*", job=~".*"]
    receiver: notify-productionB
    group_wait: 30s
    group_interval: 5m
    repeat_interval: 1h
    group_by: [job]
- matchers: [owner=~"team-(B|C)"]
  group_by: [foo, bar]
  group_wait: 2m
  receiver: notify-BC
- matchers: [group_by="role"]
  group_by: [role]
  routes:
  - matchers: ['{env="testing"}']
    receiver: notify-testing
    routes:
    - matchers: [wait="long"]
      group_wait: 2m
"""

_TREE_BOTH = """
receiver: notify-def
routes:
- matchers: ['{owner="team-A"}', '{level!="critical"}']
  receiver: notify-A
  routes:
  - matchers: ['{env="testing"}', '{baz!~".*quux"}']
    receiver: notify-testing
    group_by: [...]
  - match: {env: production}
    receiver: notify-productionA
    group_wait: 1m
    continue: true
  - matchers: [ env=~"produ.*", job=~".*"]
    receiver: notify-productionB
    group_wait: 30s
    group_interval: 5m
    repeat_interval: 1h
    group_by: [job]
- match_re: {owner: team-(B|C)}
  group_by: [foo, bar]
  group_wait: 2m
  receiver: notify-BC
- matchers: [group_by="role"]
  group_by: [role]
  routes:
  - matchers: ['{env="testing"}']
    receiver: notify-testing
    routes:
    - matchers: [wait="long"]
      group_wait: 2m
"""

_ROUTE_CASES = (
    RouteCase({"owner": "team-A"}, (Opts("notify-A"),)),
    RouteCase({"owner": "team-A", "env": "unset"}, (Opts("notify-A"),)),
    RouteCase({"owner": "team-C"}, (Opts("notify-BC", ("foo", "bar"), group_wait=120),)),
    RouteCase({"owner": "team-A", "env": "testing"}, (Opts("notify-testing", ("...",)),)),
    RouteCase(
        {"owner": "team-A", "env": "production"},
        (
            Opts("notify-productionA", group_wait=60),
            Opts("notify-productionB", ("job",), 30, 300, 3600),
        ),
    ),
    RouteCase({"group_by": "role"}, (Opts("notify-def", ("role",)),)),
    RouteCase({"env": "testing", "group_by": "role"}, (Opts("notify-testing", ("role",)),)),
    RouteCase(
        {"env": "testing", "group_by": "role", "wait": "long"},
        (Opts("notify-testing", ("role",), group_wait=120),),
    ),
)

ROUTE_TABLES = (
    RouteTable("TestRouteMatch", _TREE_MATCH, _ROUTE_CASES),
    RouteTable("TestRouteMatchers", _TREE_MATCHERS, _ROUTE_CASES),
    RouteTable("TestRouteMatchersAndMatch", _TREE_BOTH, _ROUTE_CASES),
)

# dispatch/route_test.go, TestRouteWalk: the receivers in the order the tree is walked.
ROUTE_WALK = (
    "notify-def",
    "notify-A",
    "notify-testing",
    "notify-productionA",
    "notify-productionB",
    "notify-BC",
    "notify-def",
    "notify-testing",
    "notify-testing",
)

# dispatch/route_test.go, TestInheritParentGroupByAll: `...` is inherited like any
# group_by, and a child's own group_by replaces it.
GROUP_BY_ALL_INHERITED = """
receiver: notify-def
routes:
- match: {env: parent}
  group_by: ['...']
  routes:
  - match: {env: child1}
  - match: {env: child2}
    group_by: [foo]
"""


@dataclass(frozen=True, slots=True)
class ConfigCase:
    title: str  # the Alertmanager test function
    route: str  # the route, YAML
    refused: bool  # what Alertmanager answers
    verdict: str | None = None
    why: str = ""


# config/config_test.go: the checks Alertmanager makes on a route when it loads.
CONFIG = (
    ConfigCase("TestDefaultReceiverExists", "group_wait: 30s", refused=True),
    ConfigCase("TestReceiverExists", "receiver: team-X", refused=True),
    ConfigCase(
        "TestReceiverExistsForDeepSubRoute",
        """
receiver: notify-def
routes:
- match: {foo: bar}
  routes:
  - match: {foo: bar}
    receiver: nonexistent
""",
        refused=True,
    ),
    ConfigCase(
        "TestGroupByHasNoDuplicatedLabels",
        "receiver: notify-def\ngroup_by: [alertname, cluster, service, cluster]",
        refused=True,
    ),
    ConfigCase(
        "TestWildcardGroupByWithOtherGroupByLabels",
        "receiver: notify-def\ngroup_by: [alertname, cluster, '...']",
        refused=True,
    ),
    ConfigCase(
        "TestGroupByInvalidLabel",
        "receiver: notify-def\ngroup_by: ['-invalid-']",
        refused=True,
        verdict=DEFAULT_MODE,
        why=(
            "the table runs in classic mode; in its default mode Alertmanager takes any "
            "UTF-8 label name, and failwatch's labels are column names"
        ),
    ),
    ConfigCase(
        "TestRootRouteHasNoMatcher (match)",
        "receiver: notify-def\nmatch: {severity: critical}",
        refused=True,
    ),
    ConfigCase(
        "TestRootRouteHasNoMatcher (matchers)",
        "receiver: notify-def\nmatchers: [severity=critical]",
        refused=True,
    ),
    ConfigCase("TestContinueErrorInRouteRoot", "receiver: notify-def\ncontinue: true", True),
    ConfigCase(
        "TestGroupIntervalIsGreaterThanZero", "receiver: notify-def\ngroup_interval: 0s", True
    ),
    ConfigCase(
        "TestRepeatIntervalIsGreaterThanZero", "receiver: notify-def\nrepeat_interval: 0s", True
    ),
    ConfigCase("TestGroupByAll", "receiver: notify-def\ngroup_by: [...]", refused=False),
    ConfigCase(
        "TestNilRegexp", "receiver: notify-def\nroutes:\n- match_re: {invalid_label: }", True
    ),
    ConfigCase(
        "TestMuteTimeExists",
        """
receiver: notify-def
routes:
- match: {severity: critical}
  mute_time_intervals: [business_hours]
""",
        refused=True,
    ),
    ConfigCase(
        "TestActiveTimeExists",
        """
receiver: notify-def
routes:
- match: {severity: critical}
  active_time_intervals: [business_hours]
""",
        refused=True,
    ),
)
