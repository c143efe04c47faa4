"""The README's check types are the code's: same types, same fields, and each example validates."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from pydantic import TypeAdapter

from judge.checks import CHECK_TYPES, CheckSpec

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
SECTION = README.split("## Writing a rubric", 1)[1].split("\n## ", 1)[0]


def _documented_fields() -> dict[str, set[str]]:
    """type → fields, from the check table: the first `name` of each ';'-separated entry."""
    table = SECTION.split("| type | fields besides `id` and `type` |", 1)[1].split("\n\n", 1)[0]
    documented: dict[str, set[str]] = {}
    for row in table.splitlines()[2:]:
        type_cell, fields_cell, _ = (cell.strip() for cell in row.strip().strip("|").split(" | "))
        entries = [] if fields_cell.strip() == "none" else fields_cell.split("; ")
        documented[type_cell.strip("`")] = {re.match(r"`(\w+)`", entry)[1] for entry in entries}  # type: ignore[index]
    return documented


def _code_fields(model: type) -> set[str]:
    return {info.alias or name for name, info in model.model_fields.items()} - {"id", "type"}  # type: ignore[attr-defined]


def test_the_table_lists_every_check_type_with_its_fields() -> None:
    assert _documented_fields() == {name: _code_fields(model) for name, model in CHECK_TYPES.items()}


def test_the_table_marks_exactly_the_required_fields() -> None:
    table = SECTION.split("| type | fields besides `id` and `type` |", 1)[1].split("\n\n", 1)[0]
    for row in table.splitlines()[2:]:
        type_cell, fields_cell, _ = (cell.strip() for cell in row.strip().strip("|").split(" | "))
        model = CHECK_TYPES[type_cell.strip("`")]
        for entry in [] if fields_cell.strip() == "none" else fields_cell.split("; "):
            name = re.match(r"`(\w+)`", entry)[1]  # type: ignore[index]
            field = next(info for key, info in model.model_fields.items() if (info.alias or key) == name)
            assert ("(required" in entry) == field.is_required(), (type_cell, entry)


def test_one_valid_example_of_each_type() -> None:
    (block,) = [b for b in re.findall(r"```yaml\n(.*?)```", SECTION, re.S) if b.startswith("checks:")]
    examples = yaml.safe_load(block)["checks"]
    adapter: TypeAdapter[object] = TypeAdapter(CheckSpec)
    checks = [adapter.validate_python(example) for example in examples]
    assert [example["type"] for example in examples] == list(CHECK_TYPES)
    assert [type(check) for check in checks] == list(CHECK_TYPES.values())
