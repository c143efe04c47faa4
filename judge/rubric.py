"""Rubrics: YAML files, one rubric per file, validated into frozen :class:`Rubric` objects.

A rubric says which sample categories it applies to, the LLM criteria (an id and a plain
question each), the rule checks (see :mod:`judge.checks`), how criteria combine into a
pass, the judge model and the share of matching samples to judge::

    name: billing-support             # [a-z0-9][a-z0-9_-]*, unique across the directory
    description: optional text
    categories: [billing, "refund*"]  # names or fnmatch globs; "*" = every category
    judge_model: claude-sonnet-4-5    # optional: the judge's configured default otherwise
    judge_fraction: 1.0               # 0 < f <= 1, decided from the sample id
    pass: {mode: all}                 # or {mode: fraction, min: 0.75}
    criteria:
      - {id: acknowledges_issue, question: "Acknowledges the double charge"}
    checks:
      - {id: no_pii, type: no_pii}
    extra_body: {temperature: 0}      # optional, passed through to the judge call

A rubric needs at least one criterion or check; ids (``[a-z0-9_]+``) are unique across
criteria and checks. Every problem is reported as ``FILE: FIELD.PATH: what is wrong``
(``billing.yaml: checks[2].pattern: invalid regex: …``); YAML syntax errors as
``FILE: line L, column C: invalid YAML: …``.

A rubric's ``version`` is the first 16 hex digits of the SHA-256 of its validated content
as canonical JSON (defaults filled in, keys sorted), so reformatting or comments keep the
version and any change of meaning makes a new one. The file's location is not part of it.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from reviewer.errors import ConfigError

from .checks import CHECK_TYPES, Check, CheckSpec, validate_id

__all__ = [
    "Criterion",
    "PassRule",
    "Rubric",
    "RubricError",
    "RubricSpec",
    "example_rubrics_dir",
    "lint",
    "load_rubric",
    "load_rubrics",
    "parse_rubric",
]

NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]*")
RUBRIC_SUFFIXES = (".yaml", ".yml")
# The judge builds these itself; a rubric passing them through would silently override it.
RESERVED_EXTRA_BODY = frozenset({"model", "messages", "system", "stream", "tools", "tool_choice"})


class RubricError(ConfigError):
    """One or more rubric files are invalid; ``problems`` lists them, one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Criterion(_Strict):
    """An LLM criterion: a plain question the judge answers pass or fail."""

    id: str
    question: str = Field(min_length=1)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        return validate_id(value)


def _fraction(value: float) -> float:
    if not 0 < value <= 1:
        raise ValueError(f"must be > 0 and ≤ 1, got {value}")
    return value


class PassRule(_Strict):
    """``{mode: all}``: every scored criterion passes; ``{mode: fraction, min: m}``: a share ≥ m."""

    mode: Literal["all", "fraction"] = "all"
    min: float | None = None

    @field_validator("min")
    @classmethod
    def _min(cls, value: float | None) -> float | None:
        return None if value is None else _fraction(value)

    @model_validator(mode="after")
    def _consistent(self) -> PassRule:
        if self.mode == "fraction" and self.min is None:
            raise ValueError("mode 'fraction' needs min (0 < min ≤ 1)")
        if self.mode == "all" and self.min is not None:
            raise ValueError("min is only used with mode 'fraction'")
        return self


class RubricSpec(_Strict):
    """The validated content of one rubric file (field-level rules only; see :func:`parse_rubric`)."""

    name: str
    description: str | None = None
    categories: list[str] = Field(min_length=1)
    judge_model: str | None = Field(default=None, min_length=1)
    judge_fraction: float = 1.0
    pass_rule: PassRule = Field(default_factory=PassRule, alias="pass")
    criteria: list[Criterion] = Field(default_factory=list)
    checks: list[CheckSpec] = Field(default_factory=list)
    extra_body: dict[str, Any] | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if NAME_PATTERN.fullmatch(value) is None:
            raise ValueError(f"{value!r} must match [a-z0-9][a-z0-9_-]*")
        return value

    @field_validator("categories")
    @classmethod
    def _categories(cls, value: list[str]) -> list[str]:
        for category in value:
            if not category.strip():
                raise ValueError("a category must not be empty")
        return value

    @field_validator("judge_fraction")
    @classmethod
    def _judge_fraction(cls, value: float) -> float:
        return _fraction(value)

    @field_validator("extra_body")
    @classmethod
    def _extra_body(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        reserved = sorted(RESERVED_EXTRA_BODY.intersection(value or {}))
        if reserved:
            raise ValueError(f"{', '.join(map(repr, reserved))} cannot be set here: the judge sets it")
        return value


@dataclass(frozen=True, eq=False)
class Rubric:
    """A loaded, validated rubric. Immutable; safe to share between threads.

    ``checks`` are runnable (:class:`judge.checks.Check`); ``pass_rule`` is the dict
    :func:`judge.results.combine` takes. Compare rubrics by ``version``.
    """

    name: str
    description: str | None
    categories: tuple[str, ...]
    criteria: tuple[Criterion, ...]
    checks: tuple[Check, ...]
    pass_rule: dict[str, Any]
    judge_model: str | None
    judge_fraction: float
    extra_body: dict[str, Any] | None
    version: str
    content_hash: str
    source_path: str | None
    spec: RubricSpec

    @classmethod
    def from_spec(cls, spec: RubricSpec, *, source_path: str | None = None) -> Rubric:
        canonical = json.dumps(
            spec.model_dump(mode="json", by_alias=True), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
        return cls(
            name=spec.name,
            description=spec.description,
            categories=tuple(spec.categories),
            criteria=tuple(spec.criteria),
            checks=tuple(spec.checks),
            pass_rule=spec.pass_rule.model_dump(exclude_none=True),
            judge_model=spec.judge_model,
            judge_fraction=spec.judge_fraction,
            extra_body=spec.extra_body,
            version=digest[:16],
            content_hash=digest,
            source_path=source_path,
            spec=spec,
        )

    def applies_to(self, category: str) -> bool:
        """Whether a sample of ``category`` is in scope: any name or glob matches (case-sensitive)."""
        return any(fnmatchcase(category, pattern) for pattern in self.categories)

    def selects(self, sample_id: str) -> bool:
        """Whether ``sample_id`` falls in this rubric's judged share (``judge_fraction``).

        Decided from the rubric name and the sample id alone: stable across versions and
        processes, and a higher fraction selects a superset of a lower one.
        """
        if self.judge_fraction >= 1:
            return True
        digest = hashlib.sha256(f"{self.name}:{sample_id}".encode()).hexdigest()
        return int(digest[:16], 16) / 2**64 < self.judge_fraction

    def to_row(self) -> dict[str, Any]:
        """The columns of the store's ``rubric`` table."""
        return {
            "name": self.name,
            "version": self.version,
            "content_hash": self.content_hash,
            "categories": list(self.categories),
            "criteria": [c.model_dump(mode="json") for c in self.criteria],
            "checks": [c.model_dump(mode="json", by_alias=True) for c in self.spec.checks],
            "pass_rule": dict(self.pass_rule),
            "judge_model": self.judge_model,
            "judge_fraction": self.judge_fraction,
            "source_path": self.source_path,
        }


# --- YAML --------------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys (plain YAML keeps the last one silently)."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, str) and key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first on line {seen[key]})", key_node.start_mark
            )
        if isinstance(key, str):
            seen[key] = key_node.start_mark.line + 1
    mapping: dict[Any, Any] = loader.construct_mapping(node, deep=True)
    return mapping


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _yaml_problem(label: str, exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        return f"{label}: line {mark.line + 1}, column {mark.column + 1}: invalid YAML: {exc.problem}"
    return f"{label}: invalid YAML: {exc}"


# --- validation errors as "FILE: FIELD.PATH: message" -------------------------------------


def _strip_tags(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    # Inside checks[i] pydantic adds the union member's tag: checks.2.regex.pattern.
    if len(loc) >= 3 and loc[0] == "checks" and isinstance(loc[1], int) and loc[2] in CHECK_TYPES:
        return loc[:2] + loc[3:]
    return loc


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _fields_at(loc: tuple[int | str, ...]) -> list[str]:
    model: type[BaseModel] | None = RubricSpec
    if loc[:1] == ("pass",):
        model = PassRule
    elif loc[:1] == ("criteria",) and len(loc) >= 2:
        model = Criterion
    elif loc[:1] == ("checks",) and len(loc) >= 3:
        model = CHECK_TYPES.get(str(loc[2]))
    if model is None:
        return []
    return sorted(f.alias or name for name, f in model.model_fields.items())


def _describe(error: Any) -> tuple[tuple[int | str, ...], str]:
    loc = tuple(error["loc"])
    kind = error["type"]
    if kind == "missing":
        return loc, "required field is missing"
    if kind == "extra_forbidden":
        allowed = _fields_at(loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"expected one of: {', '.join(allowed)}"
        return loc, f"unknown field; {hint}"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        known = ", ".join(sorted(CHECK_TYPES))
        if kind == "union_tag_not_found":
            return (*loc, "type"), f"required field is missing (one of: {known})"
        return (*loc, "type"), f"unknown check type {error['ctx']['tag']!r}; expected one of: {known}"
    message: str = error["msg"]
    if kind == "value_error":
        message = message.removeprefix("Value error, ")
    elif message:
        message = message[0].lower() + message[1:]
    return loc, message


def _validation_problems(label: str, exc: ValidationError) -> list[str]:
    problems = []
    for error in exc.errors(include_url=False):
        loc, message = _describe(error)
        path = _path(_strip_tags(loc))
        problems.append(f"{label}: {path}: {message}" if path else f"{label}: {message}")
    return problems


def _id_problems(label: str, spec: RubricSpec) -> list[str]:
    if not spec.criteria and not spec.checks:
        return [f"{label}: a rubric needs at least one entry in criteria or checks"]
    problems = []
    seen: dict[str, str] = {}
    entries = [("criteria", i, c.id) for i, c in enumerate(spec.criteria)]
    entries += [("checks", i, c.id) for i, c in enumerate(spec.checks)]
    for section, index, ident in entries:
        where = f"{section}[{index}].id"
        if ident in seen:
            problems.append(f"{label}: {where}: duplicate id {ident!r} (also {seen[ident]})")
        else:
            seen[ident] = where
    return problems


def _parse(text: str, *, label: str, source_path: str | None) -> tuple[Rubric | None, list[str]]:
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.YAMLError as exc:
        return None, [_yaml_problem(label, exc)]
    if not isinstance(data, dict):
        found = "nothing" if data is None else f"a {type(data).__name__}"
        return None, [f"{label}: expected one rubric (a YAML mapping), found {found}"]
    try:
        spec = RubricSpec.model_validate(data)
    except ValidationError as exc:
        return None, _validation_problems(label, exc)
    problems = _id_problems(label, spec)
    if problems:
        return None, problems
    return Rubric.from_spec(spec, source_path=source_path), []


def parse_rubric(text: str, *, source: str = "<string>") -> Rubric:
    """Validate one rubric from YAML text; ``source`` names it in error messages.

    Raises RubricError listing every problem found.
    """
    rubric, problems = _parse(text, label=source, source_path=None)
    if rubric is None:
        raise RubricError(problems)
    return rubric


def _load(path: Path) -> tuple[Rubric | None, list[str]]:
    label = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return None, [f"{label}: not UTF-8 text (byte {exc.start})"]
    except OSError as exc:
        return None, [f"{label}: cannot read the file: {exc.strerror or exc}"]
    return _parse(text, label=label, source_path=str(path))


def load_rubric(path: str | Path) -> Rubric:
    """Load and validate one rubric file. Raises RubricError naming the file and the fields."""
    rubric, problems = _load(Path(path))
    if rubric is None:
        raise RubricError(problems)
    return rubric


def _scan(directory: str | Path) -> tuple[list[Rubric], list[str]]:
    root = Path(directory)
    if not root.is_dir():
        return [], [f"{root}: not a directory (set --rubrics DIR or TASTEVIN_RUBRICS)"]
    files = sorted(p for p in root.iterdir() if p.suffix in RUBRIC_SUFFIXES and p.is_file())
    if not files:
        return [], [f"{root}: no rubric files (*.yaml, *.yml)"]
    rubrics: list[Rubric] = []
    problems: list[str] = []
    owners: dict[str, str] = {}
    for path in files:
        rubric, found = _load(path)
        problems += found
        if rubric is None:
            continue
        if rubric.name in owners:
            problems.append(f"{path.name}: name: duplicate rubric name {rubric.name!r} (also in {owners[rubric.name]})")
            continue
        owners[rubric.name] = path.name
        rubrics.append(rubric)
    return rubrics, problems


def load_rubrics(directory: str | Path) -> list[Rubric]:
    """Load every ``*.yaml`` / ``*.yml`` file of ``directory`` (not recursive), sorted by file name.

    Raises RubricError listing every problem of every file, duplicate rubric names across
    files included, or when the directory holds no rubric file.
    """
    rubrics, problems = _scan(directory)
    if problems:
        raise RubricError(problems)
    return rubrics


def lint(directory: str | Path) -> list[str]:
    """Every problem of every rubric file in ``directory``; an empty list means all is well."""
    return _scan(directory)[1]


def example_rubrics_dir() -> Path:
    """The example rubrics shipped in the package (support-bot categories)."""
    return Path(__file__).resolve().with_name("rubrics")
