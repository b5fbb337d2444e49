"""The README's configuration reference, generated from the settings model.

`python -m receiver.cli.docs` rewrites the table between the README's markers from
`receiver.config.settings.Settings` (variable, default, meaning); `--check` only compares and
exits 1 when they differ, as the test suite does, so the reference cannot drift from the
code. A new setting needs a `description`; this module refuses to guess one.
"""

from __future__ import annotations

import argparse
import sys
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from receiver.config.settings import CONFIG_ENV, Settings, environment_names
from receiver.durations import format_duration, parse_duration

START = "<!-- config-reference:start -->"
END = "<!-- config-reference:end -->"

# Sections of the YAML file whose field carries no description of its own.
_SECTIONS = {
    "classifier": "rules naming a failure's category (`rules:` replaces the built-in ones; "
    "`extend_defaults: true` puts them first; `examples:` are checked by `check-config`), "
    "see Categories",
}


def config_reference(settings_cls: type[Settings] = Settings) -> str:
    """The Markdown table of every setting."""
    names = environment_names(settings_cls)
    rows = [
        "| variable | default | meaning |",
        "| --- | --- | --- |",
        f"| `{CONFIG_ENV}` | — | YAML file with these settings (keys in lower case, "
        "without the prefix); `--config PATH` does the same |",
    ]
    for name, field in settings_cls.model_fields.items():
        section = _section_model(field.annotation)
        if section is None:
            rows.append(f"| `{names[name]}` | {_default(field)} | {_meaning(name, field)} |")
        elif _is_flat(section):
            where = f"`{name}:` (YAML) or `{names[name]}__<KEY>`"
            rows.append(f"| {where} | {_section_defaults(field)} | {_meaning(name, field)} |")
        else:
            rows.append(f"| `{name}:` (YAML) | {_default(field)} | {_meaning(name, field)} |")
    return "\n".join(rows) + "\n"


def _section_model(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds (directly, optionally or in a tuple), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in typing.get_args(annotation):
        found = _section_model(argument)
        if found is not None:
            return found
    return None


def _is_flat(model: type[BaseModel]) -> bool:
    return all(_section_model(f.annotation) is None for f in model.model_fields.values())


def _section_defaults(field: FieldInfo) -> str:
    value = field.get_default(call_default_factory=True, validated_data={})
    assert isinstance(value, BaseModel)
    parts = [
        f"`{key}: {_plain(inner, getattr(value, key))}`"
        for key, inner in type(value).model_fields.items()
    ]
    return ", ".join(parts)


def _meaning(name: str, field: FieldInfo) -> str:
    section = _section_model(field.annotation)
    text = field.description or (_docstring(section) or _SECTIONS.get(name) if section else None)
    if not text:
        raise ValueError(f"setting {name!r} has no description: add Field(description=...)")
    choices = _choices(field)
    if choices:
        text += ": " + ", ".join(f"`{choice}`" for choice in choices)
    if _is_secret(field):
        text += " (secret)"
    return text.replace("|", "\\|")


def _docstring(model: type[BaseModel]) -> str | None:
    # BaseModel's own docstring is not a description of the section.
    doc = model.__doc__ if model.__doc__ != BaseModel.__doc__ else None
    return " ".join(doc.split("\n\n")[0].split()) if doc else None


def _choices(field: FieldInfo) -> tuple[object, ...]:
    if typing.get_origin(field.annotation) is typing.Literal:
        return typing.get_args(field.annotation)
    return ()


def _is_secret(field: FieldInfo) -> bool:
    annotation = field.annotation
    return annotation is SecretStr or SecretStr in typing.get_args(annotation)


def _is_duration(field: FieldInfo) -> bool:
    return any(getattr(item, "func", None) is parse_duration for item in field.metadata)


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True, validated_data={})
    if value is None or value == [] or value == ():
        return "—"
    if isinstance(value, BaseModel):
        return "built in"
    return f"`{_plain(field, value)}`"


def _plain(field: FieldInfo, value: Any) -> str:
    if isinstance(value, SecretStr):  # a default is no secret
        value = value.get_secret_value()
    if _is_duration(field) and isinstance(value, int | float):
        return format_duration(value)
    return str(value)


def replace_reference(readme: str, table: str) -> str:
    """The README with the text between the markers replaced by `table`."""
    before, start, rest = readme.partition(START)
    _, end, after = rest.partition(END)
    if not start or not end:
        raise ValueError(f"the README needs the markers {START} and {END}")
    return f"{before}{START}\n{table}{END}{after}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m receiver.cli.docs", description="Regenerate the README's settings table."
    )
    parser.add_argument("readme", nargs="?", default="README.md", type=Path)
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 if stale")
    args = parser.parse_args(argv)
    current = args.readme.read_text(encoding="utf-8")
    wanted = replace_reference(current, config_reference())
    if wanted == current:
        return 0
    if args.check:
        print(
            f"{args.readme}: the configuration reference is stale; run `make docs`",
            file=sys.stderr,
        )
        return 1
    args.readme.write_text(wanted, encoding="utf-8")
    print(f"{args.readme}: configuration reference updated")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
