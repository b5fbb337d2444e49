"""What reading and matching a matcher costs: `python -m tests.bench.matchers`.

Side by side in one run: reading a matcher in the shape `str(matcher)` writes (how stored
silences come back on every dispatch pass) and in a hand-written shape that needs the
general parser; matching with `=` and with a regex in RE2, next to Python's `re` on the
same pattern for scale. Best of five runs each. For figures that do not move with the
machine's load, `python -m tests.bench.matchers NAME ROUNDS` runs one of them ROUNDS times
and nothing else, to count instructions under callgrind (subtract a run with ROUNDS 0).
"""

from __future__ import annotations

import re
import sys
import timeit
from collections.abc import Callable

from receiver.engine.matchers import Matcher, load_stored

N = 2000


def best_us(run: Callable[[], object], per: int) -> float:
    return min(timeit.repeat(run, number=5, repeat=5)) / 5 / per * 1e6


def main(argv: list[str]) -> None:
    stored = [str(Matcher("model_id", "=~", f"flux-{i}\\.(pro|dev)")) for i in range(N)]
    written = [f'{{ model_id =~ "flux-{i}\\\\.(pro|dev)" , }}' for i in range(N)]
    for text in stored + written:  # warm the compiled-pattern cache, as a running dispatcher has
        load_stored(text)
    labels = {"model_id": "flux-1234.pro"}
    equal = Matcher("model_id", "=", "flux-1234.pro")
    regex = Matcher("model_id", "=~", "flux-[0-9]+\\.(pro|dev)")
    python = re.compile("flux-[0-9]+\\.(pro|dev)")
    value, rounds = labels["model_id"], range(N)
    runs: dict[str, Callable[[], object]] = {
        "read, as str() writes it": lambda: [load_stored(t) for t in stored],
        "read, hand-written (braces)": lambda: [load_stored(t) for t in written],
        "match =": lambda: [equal.matches(labels) for _ in rounds],
        "match =~ (RE2)": lambda: [regex.matches(labels) for _ in rounds],
        "fullmatch with Python re": lambda: [python.fullmatch(value) for _ in rounds],
    }
    if argv:
        name, count = argv
        for _ in range(int(count)):
            runs[name]()
        return
    for name, run in runs.items():
        print(f"{name:<30} {best_us(run, N):7.2f} µs")


if __name__ == "__main__":
    main(sys.argv[1:])
