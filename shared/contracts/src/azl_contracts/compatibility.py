"""Would a schema change break whoever uses the published version? (spec §2)

A published message version may only change in ways every sender and reader of it keeps
working with: a new optional field, a wider type or enum, a looser limit, new annotations.
Anything else is a new version. ``breaking_changes(old, new)`` lists what a change breaks,
each naming the field, for the JSON Schemas pydantic generates (``$defs``/``$ref``,
``anyOf`` for optional and decimal values, objects, arrays, strings, numbers, enums):

- a field removed or renamed (a renamed field is a removed one and a new one);
- a field newly required;
- a type, enum or constant narrowed (a value the old schema took that the new one refuses);
- a limit tightened (``minLength``/``minimum``/``minItems`` up, ``max…`` down, a new or
  changed ``pattern``/``format``/``multipleOf``), or unknown fields newly refused.

Checked by hand rather than with a library: the maintained JSON Schema diff tools found
(jsoncompat, alpha; json-schema-diff-validator, unmaintained since 2021) either miss some of
these or report JSON pointers rather than fields; this covers exactly what the generator
emits and is tested case by case.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

_LOWER_BOUNDS = ("minLength", "minItems", "minimum", "exclusiveMinimum", "minProperties")
_UPPER_BOUNDS = ("maxLength", "maxItems", "maximum", "exclusiveMaximum", "maxProperties")
_EXACT = ("pattern", "format", "multipleOf")


def breaking_changes(old: Schema, new: Schema) -> list[str]:
    """What ``new`` breaks for users of ``old`` (both whole documents), one line each."""
    return _Comparison(old, new).compare(old, new, "")


class _Comparison:
    def __init__(self, old_root: Schema, new_root: Schema) -> None:
        self._old_root = old_root
        self._new_root = new_root

    def compare(self, old: Schema, new: Schema, at: str) -> list[str]:
        old, new = _resolve(self._old_root, old), _resolve(self._new_root, new)
        old_options, new_options = _options(old), _options(new)
        if len(old_options) > 1 or len(new_options) > 1:
            return self._compare_options(old_options, new_options, at)
        problems = self._compare_types(old, new, at)
        if problems:
            return problems
        problems += self._compare_values(old, new, at)
        problems += self._compare_bounds(old, new, at)
        if "object" in _types(old) or "properties" in old:
            problems += self._compare_objects(old, new, at)
        if "items" in old and "items" in new:
            problems += self.compare(old["items"], new["items"], f"{at}[]")
        return problems

    def _compare_options(self, old: list[Schema], new: list[Schema], at: str) -> list[str]:
        """Every alternative the old schema took must still be taken by one of the new."""
        problems: list[str] = []
        for option in old:
            attempts: list[list[str]] = [self.compare(option, c, at) for c in new]
            if all(attempts):
                closest: list[str] = min(attempts, key=len)
                problems += closest
        return problems

    def _compare_types(self, old: Schema, new: Schema, at: str) -> list[str]:
        old_types, new_types = _types(old), _types(new)
        if not new_types:
            return []
        if not old_types:
            return [f"{_name(at)}: now limited to {'/'.join(sorted(new_types))}"]
        if "number" in new_types:
            new_types = new_types | {"integer"}
        lost = old_types - new_types
        if lost:
            return [
                f"{_name(at)}: type narrowed from {'/'.join(sorted(old_types))} "
                f"to {'/'.join(sorted(_types(new)))}"
            ]
        return []

    def _compare_values(self, old: Schema, new: Schema, at: str) -> list[str]:
        old_values = _allowed_values(old)
        new_values = _allowed_values(new)
        if new_values is None:
            return []
        if old_values is None:
            return [f"{_name(at)}: now limited to {sorted(map(str, new_values))}"]
        lost = [v for v in old_values if v not in new_values]
        if lost:
            return [f"{_name(at)}: enum narrowed, no longer takes {sorted(map(str, lost))}"]
        return []

    def _compare_bounds(self, old: Schema, new: Schema, at: str) -> list[str]:
        problems = []
        for key in _LOWER_BOUNDS:
            if key in new and (key not in old or new[key] > old[key]):
                problems.append(f"{_name(at)}: {key} raised to {new[key]}")
        for key in _UPPER_BOUNDS:
            if key in new and (key not in old or new[key] < old[key]):
                problems.append(f"{_name(at)}: {key} lowered to {new[key]}")
        for key in _EXACT:
            if key in new and new.get(key) != old.get(key):
                problems.append(f"{_name(at)}: {key} changed to {new[key]!r}")
        return problems

    def _compare_objects(self, old: Schema, new: Schema, at: str) -> list[str]:
        problems = []
        old_fields: Schema = old.get("properties", {})
        new_fields: Schema = new.get("properties", {})
        for name, schema in old_fields.items():
            path = f"{at}.{name}" if at else name
            if name not in new_fields:
                problems.append(f"field {path} removed (or renamed)")
            else:
                problems += self.compare(schema, new_fields[name], path)
        for name in sorted(set(new.get("required", ())) - set(old.get("required", ()))):
            path = f"{at}.{name}" if at else name
            problems.append(f"field {path} is newly required")
        if old.get("additionalProperties", True) is not False and (
            new.get("additionalProperties", True) is False
        ):
            problems.append(f"{_name(at)}: unknown fields now refused")
        return problems


def _resolve(root: Schema, schema: Schema) -> Schema:
    seen = 0
    while "$ref" in schema and seen < 50:
        pointer = schema["$ref"].removeprefix("#/").split("/")
        target: Any = root
        for part in pointer:
            target = target[part]
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        seen += 1
    return schema


def _options(schema: Schema) -> list[Schema]:
    for key in ("anyOf", "oneOf"):
        if key in schema:
            shared = {k: v for k, v in schema.items() if k != key}
            return [{**shared, **option} for option in schema[key]]
    return [schema]


def _types(schema: Schema) -> set[str]:
    kind = schema.get("type")
    if kind is None:
        if "const" in schema or "enum" in schema:
            return {_json_type(v) for v in _allowed_values(schema) or ()}
        return set()
    return {kind} if isinstance(kind, str) else set(kind)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string" if isinstance(value, str) else "object"


def _allowed_values(schema: Schema) -> list[Any] | None:
    if "const" in schema:
        return [schema["const"]]
    if "enum" in schema:
        return list(schema["enum"])
    return None


def _name(at: str) -> str:
    return f"field {at}" if at else "the message"
