"""JSON Schemas written by callers (`llm.extract`): checked, then used without risk.

A caller's schema is untrusted code for the validator, so:

- it is capped in size, nesting depth and number of properties (the caps are
  constants: they bound the work of one check, they are not a deployment choice);
- it may refer only to itself (`#...`); nothing is ever fetched, since the validator's
  registry retrieves nothing (no SSRF, no local file read, no hang on a silent host);
- its regular expressions run on RE2, linear in the input (no ReDoS);
- one validation may take `MAX_VALIDATION_SECONDS`, checked before every keyword it
  evaluates, which stops schemas whose `$ref`/`anyOf` combinations multiply the work
  without bound (40 small definitions can make 2**40 paths).

Every problem is a `SchemaRefused` with a message for the caller.
"""

import contextvars
import json
import time
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any

import re2  # type: ignore[import-untyped]  # google-re2 ships no type information
from jsonschema import SchemaError, ValidationError
from jsonschema.protocols import Validator
from jsonschema.validators import extend, validator_for
from referencing import Registry
from referencing.exceptions import Unresolvable

__all__ = [
    "MAX_SCHEMA_BYTES",
    "MAX_SCHEMA_DEPTH",
    "MAX_SCHEMA_PROPERTIES",
    "MAX_VALIDATION_SECONDS",
    "SchemaRefused",
    "check_schema",
    "errors_within",
    "safe_validator",
]

MAX_SCHEMA_BYTES = 32 * 1024
"""Serialised size. The schema goes into every prompt (32 KiB is ~8k tokens); checking one
this size against the meta-schema takes up to about 0.7 s of CPU."""
MAX_SCHEMA_DEPTH = 32
"""Nesting of JSON objects and arrays (a property of an object inside an object is 4 levels)."""
MAX_SCHEMA_PROPERTIES = 1000
"""Entries of every `properties` and `patternProperties` in the schema, together."""
MAX_VALIDATION_SECONDS = 2.0
"""One validation of an answer (legitimate ones take milliseconds)."""

_PROBE_SECONDS = 0.5
_REF_KEYWORDS = ("$ref", "$dynamicRef", "$recursiveRef")


class SchemaRefused(ValueError):
    """The schema cannot be used; the message says why, for the caller."""


def check_schema(schema: dict[str, Any]) -> None:
    """Refuse a schema that breaks a cap, refers outside itself, uses a regular expression
    RE2 cannot run, or is not a valid JSON Schema. Bounded work: the caps come first."""
    patterns = _walk(schema)
    if len(json.dumps(schema, ensure_ascii=False).encode()) > MAX_SCHEMA_BYTES:
        raise SchemaRefused(f"the schema is larger than {MAX_SCHEMA_BYTES} bytes (MAX_SCHEMA_BYTES)")
    for pattern in patterns:
        try:
            _compiled(pattern)
        except re2.error as exc:
            reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
            raise SchemaRefused(f"regular expression {pattern!r} is not supported: {reason}") from exc
    try:
        validator_for(schema).check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.path) or "<root>"
        raise SchemaRefused(f"not a valid JSON Schema at {where}: {exc.message}") from exc
    except Exception as exc:  # RecursionError and whatever else a strange schema provokes
        raise SchemaRefused(f"not a usable JSON Schema ({type(exc).__name__})") from exc
    # A `$ref` loop or a combinatorial explosion shows on the simplest instances already.
    validator = safe_validator(schema)
    probes: tuple[Any, ...] = (None, {})
    for probe in probes:
        errors_within(validator, probe, _PROBE_SECONDS)


def _walk(schema: dict[str, Any]) -> list[str]:
    """Caps on depth and properties, references local only; returns every pattern.

    Iterative, so a deep document cannot exhaust the stack. Every `$ref`-like string and
    every `pattern` anywhere counts, even inside `const` or `enum` data: stricter than
    needed, never looser."""
    patterns: list[str] = []
    properties = 0
    pattern_properties = unevaluated = False
    stack: list[tuple[Any, int]] = [(schema, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_SCHEMA_DEPTH:
            raise SchemaRefused(
                f"the schema is nested deeper than {MAX_SCHEMA_DEPTH} levels (MAX_SCHEMA_DEPTH)"
            )
        if isinstance(node, list):
            stack.extend((item, depth + 1) for item in node)
            continue
        if not isinstance(node, dict):
            continue
        for keyword in _REF_KEYWORDS:
            ref = node.get(keyword)
            if isinstance(ref, str) and not ref.startswith("#"):
                raise SchemaRefused(
                    f"{keyword} {ref!r}: only references inside the schema (#...) are allowed"
                )
        if isinstance(node.get("pattern"), str):
            patterns.append(node["pattern"])
        for keyword in ("properties", "patternProperties"):
            if isinstance(node.get(keyword), dict):
                properties += len(node[keyword])
        if isinstance(node.get("patternProperties"), dict):
            patterns.extend(node["patternProperties"])
            pattern_properties = True
        unevaluated = unevaluated or "unevaluatedProperties" in node
        if properties > MAX_SCHEMA_PROPERTIES:
            raise SchemaRefused(
                f"the schema has more than {MAX_SCHEMA_PROPERTIES} properties (MAX_SCHEMA_PROPERTIES)"
            )
        stack.extend((value, depth + 1) for value in node.values())
    if pattern_properties and unevaluated:
        # jsonschema evaluates that pair with Python's backtracking `re`, not through keywords
        raise SchemaRefused("unevaluatedProperties cannot be combined with patternProperties")
    return patterns


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> Any:
    options = re2.Options()
    options.log_errors = False
    return re2.compile(pattern, options)


def _pattern(validator: Validator, pattern: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not _compiled(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(
    validator: Any, patterns: dict[str, Any], instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if _compiled(pattern).search(key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_properties(base: Callable[..., Any]) -> Callable[..., Any]:
    """jsonschema's own keyword, given only the members no pattern claims (found with RE2)."""

    def keyword(validator: Validator, value: Any, instance: Any, schema: Any) -> Any:
        patterns = schema.get("patternProperties") if isinstance(schema, dict) else None
        if patterns and validator.is_type(instance, "object"):
            instance = {
                k: v for k, v in instance.items() if not any(_compiled(p).search(k) for p in patterns)
            }
            schema = {k: v for k, v in schema.items() if k != "patternProperties"}
        return base(validator, value, instance, schema)

    return keyword


class _OutOfTime(Exception):
    pass


_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("schema_deadline", default=None)


def _timed(base: Callable[..., Any]) -> Callable[..., Any]:
    def keyword(validator: Validator, value: Any, instance: Any, schema: Any) -> Any:
        deadline = _deadline.get()
        if deadline is not None and time.monotonic() > deadline:
            raise _OutOfTime
        return base(validator, value, instance, schema)

    return keyword


def safe_validator(schema: dict[str, Any]) -> Validator:
    """A validator for a checked schema: RE2 for patterns, a registry that fetches nothing."""
    base = validator_for(schema)
    keywords = dict(base.VALIDATORS)
    keywords["pattern"] = _pattern
    keywords["patternProperties"] = _pattern_properties
    if "additionalProperties" in keywords:
        keywords["additionalProperties"] = _additional_properties(keywords["additionalProperties"])
    cls: type[Validator] = extend(base, {name: _timed(fn) for name, fn in keywords.items()})  # type: ignore[no-untyped-call]
    return cls(schema, registry=Registry())


def errors_within(
    validator: Validator, instance: Any, seconds: float = MAX_VALIDATION_SECONDS
) -> list[ValidationError]:
    """Every violation of `instance`, or `SchemaRefused` when validating it takes longer
    than `seconds`, loops, or needs something outside the schema. CPU-bound: run it off
    the event loop."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        return list(validator.iter_errors(instance))
    except _OutOfTime as exc:
        raise SchemaRefused(
            f"validating against this schema takes longer than {seconds:g} s; "
            "simplify it (fewer nested anyOf/oneOf/allOf and $ref combinations)"
        ) from exc
    except RecursionError as exc:
        raise SchemaRefused(
            "the schema's references loop without end (or the value is nested too deeply)"
        ) from exc
    except Unresolvable as exc:
        raise SchemaRefused(f"a reference in the schema cannot be resolved: {exc}") from exc
    finally:
        _deadline.reset(token)
