"""The mutator: which changes it makes, what it leaves alone, and keys that stay put."""

from __future__ import annotations

import ast

import pytest

from tests.mutation.operators import Mutant, mutants, unmutated_source


def changes(source: str) -> list[str]:
    """Each mutant's change (the key's last part), in order."""
    return [mutant.key.split(" | ")[-1] for mutant in mutants("m.py", source)]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # Comparisons: negated, and moved across the boundary.
        ("X = a < b\n", ["a < b → a >= b", "a < b → a <= b"]),
        ("X = a == b\n", ["a == b → a != b"]),
        ("X = a in b\n", ["a in b → a not in b"]),
        ("X = a is None\n", ["a is None → a is not None"]),
        # Boolean operators swapped, `not` dropped.
        ("X = a and b\n", ["a and b → a or b"]),
        ("X = not a\n", ["not a → a"]),
        # Arithmetic swapped, in expressions and in augmented assignments.
        ("X = a * b\n", ["a * b → a / b"]),
        ("def f(a):\n    a += 2\n", ["a += 2 → a -= 2", "a += 2 → pass", "2 → 3"]),
        # Constants: numbers + 1, booleans flipped, strings changed, "" made non-empty.
        ("X = 1.5\n", ["1.5 → 2.5"]),
        ("X = True\n", ["True → False"]),
        ("X = 'a'\n", ["'a' → 'XXaXX'"]),
        ("X = ''\n", ["'' → 'X'"]),
        # A returned value replaced by None (a returned None is left alone).
        ("def f():\n    return g()\n", ["return g() → return None"]),
        ("def f():\n    return None\n", []),
        # A branch switched off, a statement in a function removed (at module level a
        # removal only breaks the import).
        ("def f(a):\n    if a:\n        g()\n", ["if a: → if False:", "g() → pass"]),
        ("g()\n", []),
    ],
)
def test_each_operator(source: str, expected: list[str]) -> None:
    assert changes(source) == expected


@pytest.mark.parametrize(
    "source",
    [
        # Docstrings of the module, a class, a function, an attribute.
        '"""Doc."""\nclass C:\n    """Doc."""\n    x: int\n    """Doc."""\n',
        'def f() -> None:\n    """Doc."""\n',
        # Annotations, imports, f-strings.
        "def f(a: 'int' = ..., *b: 'str', **c: 'bytes') -> 'int': ...\n",
        "import os\nfrom a import b\n",
        "X = f'{a}!'\n",
        # The words of an error message (the raise itself can still go).
        "def f():\n    raise ValueError('no')\n",
    ],
)
def test_what_is_left_alone(source: str) -> None:
    assert [c for c in changes(source) if "→ pass" not in c] == []


def test_each_mutant_is_the_whole_source_with_one_change() -> None:
    source = "X = a < b and b  # why\n"
    found = mutants("m.py", source)
    assert [m.source for m in found] == [
        "X = a < b or b",
        "X = a >= b and b",
        "X = a <= b and b",
    ]
    for mutant in found:
        ast.parse(mutant.source)
    # Written as the mutants are, without comments.
    assert unmutated_source(source) == "X = a < b and b"


def test_keys_survive_edits_elsewhere_and_name_repeats() -> None:
    source = "def f(a):\n    x = 1\n    y = 1\n"
    before = {m.key for m in mutants("m.py", source)}
    after = mutants("m.py", "import os\n\n\n" + source)
    assert {m.key for m in after} == before
    assert "f | x = 1 | 1 → 2" in before
    assert "f | y = 1 | 1 → 2" in before
    # Lines move; keys do not.
    assert [m.line for m in after if m.key == "f | x = 1 | 1 → 2"] == [5]
    # The same change in the same statement twice is told apart by a count.
    twice = [m.key for m in mutants("m.py", "def f(a):\n    return a + 1 + 1\n")]
    assert "f | return a + 1 + 1 | 1 → 2 #2" in twice


def test_where_names_the_file_and_line() -> None:
    assert Mutant("receiver/x.py", 12, "k", "").where == "receiver/x.py:12"
