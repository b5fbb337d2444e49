"""The runner, for real: a copy of the tree, a forked pytest per mutant, one caught and
one that no test can tell from the original."""

from __future__ import annotations

from tests.mutation import runner
from tests.mutation.operators import mutants

MODULE = "receiver/engine/retention.py"
TESTS = ("tests/engine/test_retention.py",)


def test_a_mutant_the_tests_notice_is_killed_and_an_equivalent_one_survives() -> None:
    found = {m.key: m for m in mutants(MODULE, (runner.ROOT / MODULE).read_text())}
    noticed = found["more_to_prune | return deleted >= batch | deleted >= batch → deleted > batch"]
    equivalent = found["RetentionPolicy | class RetentionPolicy | True → False #2"]
    with runner.workers(1) as pool:
        _, how = runner.warm_up(pool[0], TESTS)
        outcomes = list(runner.run(pool, MODULE, [noticed, equivalent], TESTS, timeout=120))
        # The working tree is never written; the worker's copy holds the last mutant.
        assert (pool[0].directory / MODULE).read_text() == equivalent.source
    assert how == "passed"
    assert [(o.mutant, o.killed) for o in outcomes] == [(noticed, True), (equivalent, False)]
    assert (runner.ROOT / MODULE).read_text() != equivalent.source
