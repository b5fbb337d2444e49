"""The classifier corpus: error texts as providers write them, each with its category.

The corpus is every `classify_corpus/*.yaml` file, read in name order. Each entry has
`message` (parameters.error), `expected` (the category a person on call would pick) and
`source`; optional `type`, `status` and `code` (errorContext's fields).

`python -m tests.intake.corpus [CATEGORY ...]` lists the default rules' codes, phrases,
statuses and types that decide no corpus entry: take one away and every entry keeps its
category. Each of those is a guess no provider text backs, or one backed only together
with another signal; a real message that carries it alone is what pins it down.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from receiver.intake.classify import Classifier, Rule
from receiver.model import ErrorDetails

CORPUS_DIR = Path(__file__).parent / "classify_corpus"
RULE_FIELDS = ("codes", "phrases", "statuses", "error_types")


def load_corpus() -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for path in sorted(CORPUS_DIR.glob("*.yaml")):
        entries.extend(yaml.safe_load(path.read_text(encoding="utf-8")) or [])
    return entries


def entry_details(entry: dict[str, Any]) -> ErrorDetails:
    return ErrorDetails(
        message=entry["message"],
        error_type=entry.get("type"),
        code=entry.get("code"),
        status=entry.get("status"),
        context_message=None,
    )


def categories(rules: Sequence[Rule], corpus: Sequence[dict[str, Any]]) -> list[str]:
    classifier = Classifier(rules)
    return [classifier.classify(entry_details(entry)).category for entry in corpus]


def undecisive(
    rules: Sequence[Rule], corpus: Sequence[dict[str, Any]]
) -> list[tuple[str, str, str | int]]:
    """(category, field, value) of each rule entry whose loss changes no verdict."""
    before = categories(rules, corpus)
    found: list[tuple[str, str, str | int]] = []
    for index, rule in enumerate(rules):
        for field in RULE_FIELDS:
            values: tuple[str | int, ...] = getattr(rule, field)
            for value in values:
                fewer: dict[str, Any] = {field: tuple(o for o in values if o != value)}
                without = dataclasses.replace(rule, **fewer)
                changed = [*rules[:index], without, *rules[index + 1 :]]
                if categories(changed, corpus) == before:
                    found.append((rule.category, field, value))
    return found


def main(argv: Sequence[str]) -> int:
    from receiver.intake.classify_rules import DEFAULT_RULES

    wanted = set(argv)
    rows = [
        row for row in undecisive(DEFAULT_RULES, load_corpus()) if not wanted or row[0] in wanted
    ]
    for category, field, value in rows:
        print(f"{category}\t{field}\t{value!r}")
    print(f"{len(rows)} rule entries decide no corpus entry", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
