"""The pure decision modules, each with the tests that are its own.

A mutant is run against these tests only: a module whose behaviour is pinned only by a
slow end-to-end test elsewhere is a module whose own tests have a gap, and that is what
this run is for. Add a module here when a new pure decision appears in intake/ or engine/.
"""

from __future__ import annotations

TARGETS: dict[str, tuple[str, ...]] = {
    "receiver/durations.py": ("tests/test_durations.py",),
    "receiver/intake/filter.py": ("tests/intake/test_filter.py",),
    "receiver/intake/classify.py": (
        "tests/intake/test_classify.py",
        "tests/config/test_classifier.py",
    ),
    "receiver/intake/classify_rules.py": (
        "tests/intake/test_classify.py",
        "tests/config/test_classifier.py",
    ),
    "receiver/intake/fingerprint.py": ("tests/intake/test_fingerprint.py",),
    "receiver/intake/ingest.py": ("tests/intake/test_ingest.py",),
    "receiver/engine/grouping.py": (
        "tests/engine/test_grouping.py",
        "tests/engine/test_alertmanager_dedup.py",
    ),
    "receiver/engine/routing.py": (
        "tests/engine/test_routing.py",
        "tests/engine/test_routing_mentions_and_mutes.py",
        "tests/engine/test_alertmanager_tables.py",
        "tests/config/test_config_files.py",
    ),
    "receiver/engine/matchers.py": (
        "tests/engine/test_matchers.py",
        "tests/engine/test_alertmanager_tables.py",
    ),
    "receiver/engine/matcher_syntax.py": (
        "tests/engine/test_matchers.py",
        "tests/engine/test_alertmanager_tables.py",
        "tests/engine/test_matcher_syntax.py",
    ),
    "receiver/engine/silences.py": (
        "tests/engine/test_silences.py",
        "tests/engine/test_silence_index.py",
    ),
    "receiver/engine/notification.py": ("tests/engine/test_notification.py",),
    "receiver/engine/retry.py": ("tests/engine/test_retry.py",),
    # The storm tests hold the claim rules (`pick_claims`) next to the budget they serve.
    "receiver/engine/ratelimit.py": (
        "tests/engine/test_ratelimit.py",
        "tests/engine/test_storm.py",
    ),
    "receiver/engine/storm.py": ("tests/engine/test_storm.py",),
    "receiver/engine/incidents.py": ("tests/engine/test_incidents.py",),
    "receiver/engine/occurrence.py": ("tests/engine/test_occurrence.py",),
    "receiver/engine/rates.py": ("tests/engine/test_rates.py",),
    "receiver/engine/retention.py": ("tests/engine/test_retention.py",),
    "receiver/engine/timeintervals.py": ("tests/engine/test_timeintervals.py",),
}


def select(names: list[str]) -> dict[str, tuple[str, ...]]:
    """The targets named by path or by file stem (`matchers`, `engine/routing.py`)."""
    if not names:
        return dict(TARGETS)
    chosen: dict[str, tuple[str, ...]] = {}
    for name in names:
        found = [path for path in TARGETS if path.endswith((f"/{name}", f"/{name}.py"))]
        if not found:
            known = ", ".join(path.rsplit("/", 1)[1].removesuffix(".py") for path in TARGETS)
            raise SystemExit(f"no mutation target {name!r} (known: {known})")
        chosen.update((path, TARGETS[path]) for path in found)
    return chosen
