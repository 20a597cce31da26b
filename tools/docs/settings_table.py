"""`python -m tools.docs.settings_table [--check]`: the configuration table of docs/operations.md,
generated from every pydantic-settings class under shared/ and services/.

Only the modules that define a Settings class are imported (found by reading the source first),
so this needs pydantic-settings and what those modules import, never Propan or FastAPI.
Every field must have a `description`: it is the table's "meaning" column.
"""

import argparse
import ast
import difflib
import importlib
import inspect
import sys
import types
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import AliasChoices, SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from tools.docs.markers import replace_between

__all__ = ["DOCUMENT", "render", "settings_classes"]

ROOT = Path(__file__).resolve().parents[2]
SEARCHED = ("shared", "services")
DOCUMENT = ROOT / "docs" / "operations.md"
MARKER = "settings-table"
TYPE_NAMES: dict[Any, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    SecretStr: "secret string",
    Path: "path",
}
BOUNDS = ((annotated_types.Ge, "ge", "≥"), (annotated_types.Gt, "gt", ">"),
          (annotated_types.Le, "le", "≤"), (annotated_types.Lt, "lt", "<"))  # fmt: skip


def _base_name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    return node.attr if isinstance(node, ast.Attribute) else ""


def settings_modules() -> list[str]:
    """Dotted names of the modules that define a class whose base is named `...Settings`."""
    found = []
    for top in SEARCHED:  # each settings.py first: it holds the base classes the others extend
        for path in sorted((ROOT / top).rglob("*.py"), key=lambda p: (p.name != "settings.py", p)):
            tree = ast.parse(path.read_text(), filename=str(path))
            if any(
                isinstance(node, ast.ClassDef) and any(_base_name(b).endswith("Settings") for b in node.bases)
                for node in tree.body
            ):
                found.append(".".join(path.relative_to(ROOT).with_suffix("").parts))
    return found


def settings_classes() -> list[type[BaseSettings]]:
    """Every Settings class, module by module, in the order each module defines them."""
    classes: list[type[BaseSettings]] = []
    for name in settings_modules():
        module = importlib.import_module(name)
        classes += [
            value
            for value in vars(module).values()
            if isinstance(value, type) and issubclass(value, BaseSettings) and value.__module__ == name
        ]
    return classes


def _prefix(cls: type[BaseSettings]) -> str:
    return str(cls.model_config.get("env_prefix") or "")


def _env_names(name: str, field: FieldInfo, prefix: str) -> list[str]:
    alias = field.validation_alias or field.alias
    if isinstance(alias, str):
        return [alias]
    if isinstance(alias, AliasChoices):
        return [choice for choice in alias.choices if isinstance(choice, str)]
    return [f"{prefix}{name}".upper()]


def _type_text(field: FieldInfo) -> str:
    annotation, origin = field.annotation, get_origin(field.annotation)
    if origin is Literal:
        text = " or ".join(f"`{value}`" for value in get_args(annotation))
    elif origin in (Union, types.UnionType):
        kept = [arg for arg in get_args(annotation) if arg is not type(None)]
        text = " or ".join(TYPE_NAMES.get(arg, getattr(arg, "__name__", str(arg))) for arg in kept)
    else:
        text = TYPE_NAMES.get(annotation, getattr(annotation, "__name__", str(annotation)))
    bounds = [
        f"{symbol} {_number(getattr(rule, attribute))}"
        for rule in field.metadata
        for kind, attribute, symbol in BOUNDS
        if isinstance(rule, kind)
    ]
    return ", ".join([text, *bounds])


def _number(value: object) -> str:
    return f"{value:.15g}" if isinstance(value, float) else str(value)


def _default_text(field: FieldInfo) -> str:
    if field.default_factory is not None:
        return "computed at start"
    value = field.default.get_secret_value() if isinstance(field.default, SecretStr) else field.default
    if value is None:
        return "(unset)"
    if value == "":
        return "(empty)"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{_number(value)}`"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _section(cls: type[BaseSettings], classes: list[type[BaseSettings]], missing: list[str]) -> list[str]:
    prefix = _prefix(cls)
    below = sorted({_prefix(c) for c in classes if issubclass(c, cls) and c is not cls and _prefix(c)})
    if not prefix and below:
        prefix = "<PREFIX>_"
    path = cls.__module__.replace(".", "/") + ".py"
    lines = [f"### `{cls.__name__}` ({path})", ""]
    intro = (cls.__doc__ or "").strip().split("\n\n")[0]
    if below and prefix == "<PREFIX>_":
        intro += " `<PREFIX>` is the reading service's: " + ", ".join(f"`{p[:-1]}`" for p in below) + "."
    if intro.strip():
        lines += [" ".join(intro.split()), ""]
    lines += ["| variable | type | default | meaning |", "|---|---|---|---|"]
    own = [name for name in inspect.get_annotations(cls) if name in cls.model_fields]  # in source order
    # A field holding other settings (`identity`, `storage`) is read from that class's own
    # variables, which have their own table: no variable of its own to list here.
    nested = [name for name in own if _is_settings(cls.model_fields[name].annotation)]
    own = [name for name in own if name not in nested]
    if nested and not own:
        return []  # only settings of other classes (a mixin such as `UsesStorage`)
    for name in own:
        field = cls.model_fields[name]
        if not field.description:
            missing.append(f"{cls.__module__}.{cls.__name__}.{name}")
        variables = " or ".join(f"`{env}`" for env in _env_names(name, field, prefix))
        cells = (variables, _type_text(field), _default_text(field), field.description or "")
        lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return [*lines, ""]


def render(classes: list[type[BaseSettings]] | None = None) -> str:
    """The generated Markdown for `classes` (default: all of them); raises SystemExit naming
    every field without a description."""
    classes, missing = classes or settings_classes(), list[str]()
    lines = ["<!-- Generated by `make docs` from the Settings classes: edit their descriptions. -->", ""]
    for cls in classes:
        lines += _section(cls, classes, missing)
    if missing:
        raise SystemExit("settings fields without a description (add Field(description=...)):\n  "
                         + "\n  ".join(missing))  # fmt: skip
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--check", action="store_true", help="fail if docs/operations.md is stale")
    args = parser.parse_args()
    current = DOCUMENT.read_text()
    wanted = replace_between(current, MARKER, render())
    name = DOCUMENT.relative_to(ROOT)
    if not args.check:
        DOCUMENT.write_text(wanted)
        print(f"wrote the configuration table in {name}")
        return 0
    if current == wanted:
        print(f"the configuration table in {name} is up to date")
        return 0
    sys.stdout.writelines(difflib.unified_diff(current.splitlines(True), wanted.splitlines(True), str(name)))
    print(f"\n{name} is stale: run `make docs` and commit it", file=sys.stderr)
    return 1


def _is_settings(annotation: object) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseSettings)


if __name__ == "__main__":
    sys.exit(main())
