"""The breaking-change gate: what would break a user of a published version, by field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel, Field

from azl_contracts import orders as o
from azl_contracts.compatibility import breaking_changes
from azl_contracts.export import (
    DEFAULT_PUBLISHED,
    broken_versions,
    main,
    message_files,
    message_schema,
)


def schema(model: type[BaseModel]) -> dict[str, object]:
    return model.model_json_schema(mode="validation")


class Before(BaseModel):
    name: str = Field(max_length=50)
    kind: Literal["a", "b"]
    note: str | None = None
    tags: list[str] = Field(default_factory=list, max_length=5)


def breaks(after: type[BaseModel]) -> list[str]:
    return breaking_changes(schema(Before), schema(after))


def test_the_same_schema_breaks_nothing() -> None:
    assert breaks(Before) == []


def test_an_optional_field_added_is_compatible() -> None:
    class After(Before):
        color: str | None = None

    assert breaks(After) == []


def test_a_removed_field_breaks_it_by_name() -> None:
    class After(BaseModel):
        name: str = Field(max_length=50)
        kind: Literal["a", "b"]
        tags: list[str] = Field(default_factory=list, max_length=5)

    assert breaks(After) == ["field note removed (or renamed)"]


def test_a_new_required_field_breaks_it() -> None:
    class After(Before):
        color: str

    assert breaks(After) == ["field color is newly required"]


def test_a_field_made_required_and_a_narrowed_type_break_it() -> None:
    class After(Before):
        name: int  # type: ignore[assignment]
        note: str

    assert breaks(After) == [
        "field name: type narrowed from string to integer",
        "field note: type narrowed from null to string",
        "field note is newly required",
    ]


def test_a_narrowed_enum_breaks_it_and_a_wider_one_does_not() -> None:
    class Narrower(Before):
        kind: Literal["a"]

    class Wider(Before):
        kind: Literal["a", "b", "c"]  # type: ignore[assignment]

    assert breaks(Narrower) == ["field kind: enum narrowed, no longer takes ['b']"]
    assert breaks(Wider) == []


def test_a_tightened_limit_breaks_it_and_a_looser_one_does_not() -> None:
    class Tighter(Before):
        name: str = Field(max_length=20)
        tags: list[str] = Field(default_factory=list, max_length=3)

    class Looser(Before):
        name: str = Field(max_length=80)

    assert breaks(Tighter) == [
        "field name: maxLength lowered to 20",
        "field tags: maxItems lowered to 3",
    ]
    assert breaks(Looser) == []


def test_fields_inside_nested_models_and_lists_are_named() -> None:
    v1 = message_schema(o.PlaceOrderV1)
    narrowed = json.loads(json.dumps(v1))
    narrowed["$defs"]["NewItem"]["properties"]["quantity"]["maximum"] = 10
    del narrowed["$defs"]["DeliveryAddress"]["properties"]["district"]
    assert breaking_changes(v1, narrowed) == [
        "field items[].quantity: maximum lowered to 10",
        "field delivery_address.district removed (or renamed)",
    ]


def test_v2_of_place_order_would_break_v1_which_is_why_it_is_a_new_version() -> None:
    problems = breaking_changes(message_schema(o.PlaceOrderV1), message_schema(o.PlaceOrder))
    assert "field delivery_address removed (or renamed)" in problems
    assert "field delivery is newly required" in problems


def test_every_published_version_is_intact() -> None:
    assert broken_versions(DEFAULT_PUBLISHED) == []


def test_the_gate_fails_a_deliberately_broken_schema_naming_type_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """As CI runs it (``azl-contracts-export --gate``): the published baseline has a field
    the code no longer has, i.e. the code dropped a field of a published version."""
    published = tmp_path / "published"
    published.mkdir()
    for name, text in message_files().items():
        (published / name).write_text(text, encoding="utf-8")
    assert main(["--gate", "--published", str(published)]) == 0

    placed = json.loads((published / "orders.order.placed.v1.json").read_text("utf-8"))
    placed["properties"]["order_reference"] = {"type": "string"}
    placed["required"].append("order_reference")
    (published / "orders.order.placed.v1.json").write_text(json.dumps(placed), "utf-8")
    command = json.loads((published / "orders.cancel-order.v1.json").read_text("utf-8"))
    command["properties"]["reason"]["anyOf"][0]["maxLength"] = 5000
    (published / "orders.cancel-order.v1.json").write_text(json.dumps(command), "utf-8")

    assert main(["--gate", "--published", str(published)]) == 1
    errors = capsys.readouterr().err
    assert "orders.order.placed.v1: field order_reference removed (or renamed)" in errors
    assert "orders.cancel-order.v1: field reason: maxLength lowered to 1000" in errors


def test_a_compatible_change_passes_the_gate(tmp_path: Path) -> None:
    """The baseline lacks an optional field the code has, i.e. the code added one."""
    published = tmp_path / "published"
    published.mkdir()
    for name, text in message_files().items():
        (published / name).write_text(text, encoding="utf-8")
    cancel = json.loads((published / "orders.cancel-order.v1.json").read_text("utf-8"))
    del cancel["properties"]["reason"]
    (published / "orders.cancel-order.v1.json").write_text(json.dumps(cancel), "utf-8")
    assert broken_versions(published) == []
    assert main(["--gate", "--published", str(published)]) == 0
