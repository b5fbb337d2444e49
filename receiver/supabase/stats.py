"""Failure stats by error category: the classifier applied to grouped error fields.

SQL groups failures by model, user and raw error fields; here each group is classified
once (with the same rules as the webhook path) and the groups are folded into totals
per category and per model. Affected users are counted as distinct ids, so a user who
failed in two groups of one category counts once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from receiver.intake.classify import Classifier
from receiver.intake.ingest import error_details


@dataclass(slots=True)
class CategoryTally:
    failures: int = 0
    users: set[str] = field(default_factory=set)
    latest: datetime | None = None


@dataclass(frozen=True, slots=True)
class Breakdown:
    by_category: dict[str, CategoryTally]
    by_model: dict[str | None, Counter[str]]


def category_breakdown(groups: Iterable[Mapping[str, Any]], classifier: Classifier) -> Breakdown:
    """Fold error groups (model_id, user_id, error, error_type, context_message,
    failures, latest_failure) into per-category and per-model counts."""
    by_category: dict[str, CategoryTally] = {}
    by_model: dict[str | None, Counter[str]] = {}
    for group in groups:
        category = classifier.classify(error_details(_as_record(group))).category
        tally = by_category.setdefault(category, CategoryTally())
        tally.failures += group["failures"]
        if group["user_id"] is not None:
            tally.users.add(group["user_id"])
        latest = group["latest_failure"]
        if tally.latest is None or latest > tally.latest:
            tally.latest = latest
        by_model.setdefault(group["model_id"], Counter())[category] += group["failures"]
    return Breakdown(by_category=by_category, by_model=by_model)


def _as_record(group: Mapping[str, Any]) -> dict[str, Any]:
    # The shape `error_details` reads from a webhook row, rebuilt from the grouped fields.
    context = {"type": group["error_type"], "message": group["context_message"]}
    return {"parameters": {"error": group["error"], "errorContext": context}}
