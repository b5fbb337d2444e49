"""`make mutate`: mutation testing of the pure decision modules.

    python -m tests.mutation [--modules matchers,routing] [--jobs 1]

For each module of `targets.TARGETS`: its own tests must pass unmutated (the baseline,
which also sets the timeout), then every mutant of `operators.mutants` runs against them.
Prints a Markdown table (module | mutants | killed | survived | equivalent | score |
score without equivalents) and each survivor with its place and change; exits 1 when a
module scores below `--min-score` without its equivalents, or when `equivalents.toml`
lists a mutant that no longer survives (so the list stays true).
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from tests.mutation import operators, runner
from tests.mutation.targets import select

EQUIVALENTS = Path(__file__).with_name("equivalents.toml")
_PROGRESS = 50  # a line on stderr every so many mutants


@dataclass
class Score:
    module: str
    mutants: int = 0
    killed: int = 0
    survivors: list[operators.Mutant] = field(default_factory=list)
    equivalent: int = 0
    seconds: float = 0.0

    def percent(self, *, without_equivalents: bool) -> float:
        total = self.mutants - (self.equivalent if without_equivalents else 0)
        return 100.0 * self.killed / total if total else 100.0

    def row(self) -> str:
        return (
            f"| {self.module.removeprefix('receiver/')} | {self.mutants} | {self.killed} "
            f"| {len(self.survivors)} | {self.equivalent} "
            f"| {self.percent(without_equivalents=False):.0f}% "
            f"| {self.percent(without_equivalents=True):.0f}% |"
        )


class BaselineFailed(Exception):
    """A module's own tests fail without any mutant: its mutants say nothing."""


def load_equivalents(path: Path = EQUIVALENTS) -> dict[tuple[str, str], str]:
    """(module, mutant key) → why the mutant cannot change behaviour."""
    table = tomllib.loads(path.read_text(encoding="utf-8"))
    found = {}
    for entry in table.get("equivalent", []):
        found[(entry["module"], entry["mutant"])] = entry["why"]
    return found


def mutate_module(
    pool: list[runner.Worker],
    module: str,
    tests: tuple[str, ...],
    equivalents: dict[tuple[str, str], str],
) -> tuple[Score, set[str]]:
    """The module's score and the keys of its equivalents that did survive."""
    started = time.monotonic()
    source = (runner.ROOT / module).read_text(encoding="utf-8")
    for worker in pool:
        worker.write(module, operators.unmutated_source(source))
    baseline, how = runner.warm_up(pool[0], tests)
    if how != "passed":
        log = pool[0].log.read_text(encoding="utf-8", errors="replace")
        raise BaselineFailed(f"{module}: its tests do not pass unmutated ({how}):\n{log[-3000:]}")
    mutants = operators.mutants(module, source)
    print(f"{module}: {len(mutants)} mutants, tests {baseline:.1f} s", file=sys.stderr)
    score = Score(module, mutants=len(mutants))
    equivalent_seen: set[str] = set()
    # A mutant that takes several times the unmutated run is looping: it is caught.
    timeout = 10.0 + 5.0 * baseline
    outcomes = runner.run(pool, module, mutants, tests, timeout=timeout)
    for done, outcome in enumerate(outcomes, start=1):
        if done % _PROGRESS == 0:
            print(f"  {done}/{len(mutants)}", file=sys.stderr)
        if outcome.killed:
            score.killed += 1
        elif (module, outcome.mutant.key) in equivalents:
            score.equivalent += 1
            equivalent_seen.add(outcome.mutant.key)
        else:
            score.survivors.append(outcome.mutant)
    for worker in pool:
        worker.write(module, source)
    score.survivors.sort(key=lambda m: m.line)
    score.seconds = time.monotonic() - started
    return score, equivalent_seen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.mutation", description=__doc__)
    parser.add_argument("--modules", default="", help="comma-separated names (default: all)")
    parser.add_argument("--jobs", type=int, default=1, help="mutants run side by side")
    parser.add_argument("--min-score", type=float, default=90.0)
    args = parser.parse_args(argv)
    # A stopped run still removes its workers' copies and ends their children.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    targets = select([name for name in args.modules.replace(",", " ").split() if name])
    equivalents = load_equivalents()
    started = time.monotonic()
    scores: list[Score] = []
    stale: list[str] = []
    broken: list[str] = []
    with runner.workers(max(1, args.jobs)) as pool:
        for module, tests in targets.items():
            try:
                score, seen = mutate_module(pool, module, tests, equivalents)
            except BaselineFailed as failed:
                print(failed, file=sys.stderr)
                broken.append(module)
                continue
            scores.append(score)
            # Each module's result as soon as it is known: a long run can be acted on early.
            print(report([score], [], score.seconds), file=sys.stderr)
            stale += [
                f"{module}: {key}"
                for (listed_module, key) in equivalents
                if listed_module == module and key not in seen
            ]
    print(report(scores, stale, time.monotonic() - started))
    if broken:
        print(f"\nNot measured, their tests fail unmutated: {', '.join(broken)}")
    low = [s for s in scores if s.percent(without_equivalents=True) < args.min_score]
    return 1 if low or stale or broken else 0


def report(scores: list[Score], stale: list[str], seconds: float) -> str:
    lines = [
        "| module | mutants | killed | survived | equivalent | score | score without equivalents |",
        "|---|---|---|---|---|---|---|",
        *(score.row() for score in scores),
        "",
        f"{sum(s.mutants for s in scores)} mutants in {seconds:.0f} s.",
    ]
    survivors = [mutant for score in scores for mutant in score.survivors]
    if survivors:
        lines += ["", "Survivors (file:line, then the key for equivalents.toml):"]
        lines += [f"- {mutant.where}  {mutant.key}" for mutant in survivors]
    if stale:
        lines += ["", "Listed as equivalent but killed or gone (remove from equivalents.toml):"]
        lines += [f"- {entry}" for entry in stale]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
