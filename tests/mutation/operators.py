"""The mutants of one module: small changes to its syntax tree that a good test notices.

Each mutant is one change at one node — a comparison flipped, `and` swapped for `or`, a
`not` dropped, a constant nudged, a returned value replaced by `None`, an arithmetic
operator swapped, a statement replaced by `pass`, an `if` branch switched off. A mutant is
named by a key that survives edits elsewhere in the file (the enclosing function, the
statement's first line, the change), not by its line number alone.

Left alone, because changing them tests nothing or only the wording: docstrings, type
annotations, imports, and the text of error messages (`raise X("...")`; the messages a
user reads are pinned by the configuration tests, word by word where it matters).
"""

from __future__ import annotations

import ast
import copy
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

_COMPARISONS: dict[type[ast.cmpop], tuple[type[ast.cmpop], ...]] = {
    ast.Eq: (ast.NotEq,),
    ast.NotEq: (ast.Eq,),
    ast.Lt: (ast.GtE, ast.LtE),
    ast.LtE: (ast.Gt, ast.Lt),
    ast.Gt: (ast.LtE, ast.GtE),
    ast.GtE: (ast.Lt, ast.Gt),
    ast.In: (ast.NotIn,),
    ast.NotIn: (ast.In,),
    ast.Is: (ast.IsNot,),
    ast.IsNot: (ast.Is,),
}
_ARITHMETIC: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Div,
    ast.Mod: ast.FloorDiv,
    ast.Pow: ast.Mult,
    ast.BitOr: ast.BitAnd,
    ast.BitAnd: ast.BitOr,
}
_KEY_PART = 60  # characters of a statement or change kept in a mutant's key
# Statements whose removal (`pass` in their place) changes what the code does.
_REMOVABLE = (
    ast.Expr,
    ast.Assign,
    ast.AugAssign,
    ast.AnnAssign,
    ast.Raise,
    ast.Continue,
    ast.Break,
)


@dataclass(frozen=True, slots=True)
class Mutant:
    """One change: `key` names it stably, `line` says where it is today."""

    module: str
    line: int
    key: str
    source: str

    @property
    def where(self) -> str:
        return f"{self.module}:{self.line}"


@dataclass(frozen=True, slots=True)
class _Site:
    """A node that can change, and how: `apply` edits a copy of the tree in place."""

    node_index: int
    line: int
    scope: str
    statement: str
    before: str
    after: str
    apply: Callable[[ast.AST, ast.AST], None]


def mutants(module: str, source: str) -> list[Mutant]:
    """Every mutant of `source` (the text of `module`), each as the whole mutated source."""
    tree = ast.parse(source)
    sites = list(_sites(tree))
    seen: Counter[str] = Counter()
    found = []
    for site in sites:
        key = " | ".join(
            (site.scope, _short(site.statement), f"{_short(site.before)} → {_short(site.after)}")
        )
        seen[key] += 1
        if seen[key] > 1:
            key = f"{key} #{seen[key]}"
        found.append(Mutant(module, site.line, key, _mutated_source(source, site)))
    return found


def _short(text: str) -> str:
    # Enough of a statement to find it; a repeat in one function is told apart by a count.
    return text if len(text) <= _KEY_PART else text[: _KEY_PART - 1] + "…"


def unmutated_source(source: str) -> str:
    """The module as the mutants are written (comments and layout dropped), unchanged."""
    return ast.unparse(ast.parse(source))


def _mutated_source(source: str, site: _Site) -> str:
    tree = ast.parse(source)
    node, parent = _indexed(tree)[site.node_index]
    site.apply(node, parent)
    return ast.unparse(ast.fix_missing_locations(tree))


def _indexed(tree: ast.AST) -> list[tuple[ast.AST, ast.AST]]:
    """Every node with its parent, in one fixed order (the same for every parse)."""
    found: list[tuple[ast.AST, ast.AST]] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            found.append((child, node))
            visit(child)

    visit(tree)
    return found


def _skipped_nodes(tree: ast.AST) -> set[int]:
    """Ids of the nodes no mutant touches: docstrings, annotations, imports, messages."""
    skipped: set[int] = set()

    def skip(node: ast.AST | None) -> None:
        if node is not None:
            skipped.update(id(n) for n in ast.walk(node))

    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            skip(node.returns)
            arguments = node.args
            every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
            every += [a for a in (arguments.vararg, arguments.kwarg) if a is not None]
            for argument in every:
                skip(argument.annotation)
        elif isinstance(node, ast.AnnAssign):
            skip(node.annotation)
        elif isinstance(node, ast.Import | ast.ImportFrom | ast.JoinedStr):
            skip(node)
        elif isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            for arg in node.exc.args:
                skip(arg)
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            skip(node)  # a docstring (of a module, class, function or attribute)
    return skipped


def _sites(tree: ast.Module) -> Iterator[_Site]:
    skipped = _skipped_nodes(tree)
    scopes: dict[int, str] = {}
    statements: dict[int, str] = {}

    def label(node: ast.AST, scope: str, statement: str) -> None:
        for child in ast.iter_child_nodes(node):
            child_scope = scope
            if isinstance(child, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                child_scope = f"{scope}.{child.name}" if scope else child.name
            child_statement = _first_line(child) if isinstance(child, ast.stmt) else statement
            scopes[id(child)] = child_scope or "<module>"
            statements[id(child)] = child_statement
            label(child, child_scope, child_statement)

    label(tree, "", "")
    for index, (node, parent) in enumerate(_indexed(tree)):
        if id(node) in skipped:
            continue
        for before, after, apply in _changes(node, parent):
            yield _Site(
                node_index=index,
                line=getattr(node, "lineno", 0),
                scope=scopes[id(node)],
                statement=statements[id(node)],
                before=before,
                after=after,
                apply=apply,
            )


def _first_line(statement: ast.stmt) -> str:
    if isinstance(statement, ast.If | ast.While):
        return (
            f"{'if' if isinstance(statement, ast.If) else 'while'} {ast.unparse(statement.test)}:"
        )
    if isinstance(statement, ast.For):
        return f"for {ast.unparse(statement.target)} in {ast.unparse(statement.iter)}:"
    if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return (
            f"def {statement.name}"
            if not isinstance(statement, ast.ClassDef)
            else f"class {statement.name}"
        )
    return ast.unparse(statement).splitlines()[0]


_Change = tuple[str, str, Callable[[ast.AST, ast.AST], None]]


def _changes(node: ast.AST, parent: ast.AST) -> Iterator[_Change]:
    if isinstance(node, ast.Compare):
        yield from _comparison_changes(node)
    elif isinstance(node, ast.BoolOp):
        swapped = ast.Or if isinstance(node.op, ast.And) else ast.And
        yield _op_change(node, "op", swapped())
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield (ast.unparse(node), ast.unparse(node.operand), _replace_with_operand)
    elif isinstance(node, ast.BinOp | ast.AugAssign) and type(node.op) in _ARITHMETIC:
        yield _op_change(node, "op", _ARITHMETIC[type(node.op)]())
    elif isinstance(node, ast.Constant):
        yield from _constant_changes(node)
    elif isinstance(node, ast.Return) and node.value is not None:
        if not (isinstance(node.value, ast.Constant) and node.value.value is None):
            yield (ast.unparse(node), "return None", _return_none)
    elif isinstance(node, ast.If):
        yield (f"if {ast.unparse(node.test)}:", "if False:", _switch_off)
    if isinstance(node, _REMOVABLE) and _in_function(parent):
        yield (ast.unparse(node).splitlines()[0], "pass", _remove)


def _comparison_changes(node: ast.Compare) -> Iterator[_Change]:
    for position, op in enumerate(node.ops):
        for replacement in _COMPARISONS.get(type(op), ()):
            changed = copy.deepcopy(node)
            changed.ops[position] = replacement()

            def apply(
                target: ast.AST, _: ast.AST, p: int = position, r: type = replacement
            ) -> None:
                assert isinstance(target, ast.Compare)
                target.ops[p] = r()

            yield (ast.unparse(node), ast.unparse(changed), apply)


def _op_change(node: ast.BoolOp | ast.BinOp | ast.AugAssign, field: str, op: ast.AST) -> _Change:
    changed = copy.deepcopy(node)
    setattr(changed, field, op)

    def apply(target: ast.AST, _: ast.AST) -> None:
        setattr(target, field, copy.deepcopy(op))

    return (ast.unparse(node), ast.unparse(changed), apply)


def _constant_changes(node: ast.Constant) -> Iterator[_Change]:
    value = node.value
    new: object
    if isinstance(value, bool):
        new = not value
    elif isinstance(value, int | float):
        new = value + 1
    elif isinstance(value, str):
        new = f"XX{value}XX" if value else "X"
    else:
        return

    def apply(target: ast.AST, _: ast.AST) -> None:
        assert isinstance(target, ast.Constant)
        target.value = new

    yield (repr(value), repr(new), apply)


def _replace_with_operand(node: ast.AST, parent: ast.AST) -> None:
    assert isinstance(node, ast.UnaryOp)
    _swap_child(parent, node, node.operand)


def _return_none(node: ast.AST, _: ast.AST) -> None:
    assert isinstance(node, ast.Return)
    node.value = ast.Constant(None)


def _switch_off(node: ast.AST, _: ast.AST) -> None:
    assert isinstance(node, ast.If)
    node.test = ast.Constant(False)


def _remove(node: ast.AST, parent: ast.AST) -> None:
    _swap_child(parent, node, ast.Pass())


def _swap_child(parent: ast.AST, old: ast.AST, new: ast.AST) -> None:
    for name, value in ast.iter_fields(parent):
        if value is old:
            setattr(parent, name, new)
            return
        if isinstance(value, list) and any(item is old for item in value):
            value[next(i for i, item in enumerate(value) if item is old)] = new
            return
    raise LookupError(f"{ast.dump(old)} is not a child of {type(parent).__name__}")


def _in_function(parent: ast.AST) -> bool:
    # Statements in a function's body or in a block inside one; a module-level or class
    # body statement's removal usually just breaks the import (a mutant of little worth).
    return not isinstance(parent, ast.Module | ast.ClassDef)
