"""Datasets in the store: create from a file or from sampled traffic, find, list, export.

A dataset version is immutable and identified by the content hash of its cases
(:func:`judge.dataset_cases.content_hash`; ``version`` is its first 16 hex digits), so
storing the same cases again finds the version already stored. A dataset *name* points at
the version last created or found under it; ``NAME@VERSION`` names an older one.

From the store (:func:`cases_from_store`), cases are the lines ``tastevin export`` writes
(:func:`reviewer.export.iter_export_rows`, same filters) read with the same function as a
file, so ``tastevin export`` → ``datasets create --from-file`` gives the same version as
``datasets create --from-store`` with those filters. ``per_category`` keeps, per category,
the ``N`` samples whose SHA-256 of the sample id is smallest: a stratified sample that is
the same every time for the same traffic, and in which rare categories are represented.

Every function takes an ``Engine`` and does its own short transactions.
"""

from __future__ import annotations

import hashlib
import heapq
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from reviewer.browse import SampleFilters
from reviewer.errors import ConfigError
from reviewer.export import ExpectedFrom, iter_export_rows
from reviewer.store import Dataset, DatasetCase, DatasetVersion, utc_now

from .dataset_cases import Case, case_from_line, content_hash

__all__ = [
    "DatasetRef",
    "StoredDataset",
    "case_of_row",
    "cases_from_store",
    "dataset_cases",
    "dataset_versions",
    "export_dataset",
    "find_dataset",
    "list_datasets",
    "parse_ref",
    "store_dataset",
]

VERSION_CHARS = 16


@dataclass(frozen=True)
class DatasetRef:
    """``NAME`` (its latest version) or ``NAME@VERSION``."""

    name: str
    version: str | None = None

    def __str__(self) -> str:
        return self.name if self.version is None else f"{self.name}@{self.version}"


def parse_ref(text: str) -> DatasetRef:
    """``NAME`` or ``NAME@VERSION``; raises ConfigError for an empty part."""
    name, _, version = text.strip().partition("@")
    if not name or (_ and not version):
        raise ConfigError(f"invalid dataset {text!r}: write NAME or NAME@VERSION")
    return DatasetRef(name, version or None)


@dataclass(frozen=True)
class StoredDataset:
    """A dataset version as stored; ``created`` says whether this call stored it."""

    id: int
    name: str
    version: str
    case_count: int
    categories: dict[str, int]
    source: dict[str, Any]
    created_at: Any
    latest: bool
    created: bool = False


def _stored(row: DatasetVersion, *, latest: bool, created: bool = False) -> StoredDataset:
    assert row.id is not None
    return StoredDataset(id=row.id, name=row.name, version=row.version, case_count=row.case_count,
                         categories=dict(row.categories), source=dict(row.source), created_at=row.created_at,
                         latest=latest, created=created)


def _case_row(version_id: int, position: int, case: Case) -> dict[str, Any]:
    return {
        "dataset_version_id": version_id, "position": position, "case_id": case.id, "category": case.category,
        "input": case.input, "system_prompt": case.system_prompt, "attributes": case.attributes,
        "criteria": case.criteria, "expected_output": case.expected_output,
        "reference_output": case.reference_output, "production": case.production,
        "source_sample_id": case.source_sample_id,
    }


def store_dataset(engine: Engine, name: str, cases: Sequence[Case], *, source: dict[str, Any]) -> StoredDataset:
    """Store ``cases`` as a version of ``name`` (or find the identical one) and point the name at it.

    Raises ConfigError for an empty name, no cases or a duplicate case id. Safe against a
    concurrent identical create: the loser finds the winner's version.
    """
    if not name.strip() or "@" in name:
        raise ConfigError(f"invalid dataset name {name!r}: it must be non-empty and without '@'")
    if not cases:
        raise ConfigError(f"dataset {name!r}: no cases to store")
    ordered = sorted(cases, key=lambda c: c.id)
    duplicates = sorted(k for k, n in Counter(c.id for c in ordered).items() if n > 1)
    if duplicates:
        raise ConfigError(f"dataset {name!r}: duplicate case id {duplicates[0]!r}")
    digest = content_hash(ordered)
    version = digest[:VERSION_CHARS]
    created = False
    with Session(engine, expire_on_commit=False) as session:
        row = session.exec(select(DatasetVersion).where(DatasetVersion.name == name,
                                                        DatasetVersion.version == version)).first()
        if row is None:
            row = DatasetVersion(name=name, version=version, content_hash=digest, case_count=len(ordered),
                                 categories=dict(sorted(Counter(c.category for c in ordered).items())),
                                 source=source)
            session.add(row)
            try:
                session.flush()
                assert row.id is not None
                table = DatasetCase.__table__  # type: ignore[attr-defined]
                for start in range(0, len(ordered), 500):
                    chunk = ordered[start:start + 500]
                    session.execute(table.insert(), [_case_row(row.id, start + i, c) for i, c in enumerate(chunk)])
                session.commit()
                created = True
            except IntegrityError:
                session.rollback()
                row = session.exec(select(DatasetVersion).where(DatasetVersion.name == name,
                                                                DatasetVersion.version == version)).one()
    _point(engine, name, version)
    return _stored(row, latest=True, created=created)


def _point(engine: Engine, name: str, version: str) -> None:
    table = Dataset.__table__  # type: ignore[attr-defined]
    now = utc_now()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
        statement = insert(table).values(name=name, latest_version=version, created_at=now, updated_at=now)
        connection.execute(statement.on_conflict_do_update(
            index_elements=["name"], set_={"latest_version": version, "updated_at": now}))


def find_dataset(engine: Engine, ref: DatasetRef | str) -> StoredDataset:
    """The version ``ref`` names; raises ConfigError naming what exists when there is none."""
    ref = parse_ref(ref) if isinstance(ref, str) else ref
    with Session(engine) as session:
        head = session.get(Dataset, ref.name)
        if head is None:
            names = list(session.exec(select(Dataset.name).order_by(Dataset.name).limit(20)))
            known = f"known datasets: {', '.join(names)}" if names else "no dataset is stored yet"
            raise ConfigError(f"no dataset {ref.name!r} ({known}); create one with `tastevin datasets create`")
        version = ref.version or head.latest_version
        rows = list(session.exec(select(DatasetVersion).where(DatasetVersion.name == ref.name)))
        matches = [r for r in rows if r.version.startswith(version)]
        if len(matches) != 1:
            versions = ", ".join(r.version for r in sorted(rows, key=lambda r: r.id or 0))
            what = "no" if not matches else "more than one"
            raise ConfigError(f"dataset {ref.name!r} has {what} version {version!r}; its versions: {versions}")
        return _stored(matches[0], latest=matches[0].version == head.latest_version)


def list_datasets(engine: Engine) -> list[StoredDataset]:
    """Every dataset name with the version it points at, by name."""
    with Session(engine) as session:
        rows = session.exec(
            select(DatasetVersion).join(Dataset, sa.and_(col(Dataset.name) == col(DatasetVersion.name),
                                                         col(Dataset.latest_version) == col(DatasetVersion.version)))
            .order_by(col(DatasetVersion.name))
        ).all()
        return [_stored(r, latest=True) for r in rows]


def dataset_versions(engine: Engine, name: str) -> list[StoredDataset]:
    """Every version of ``name``, oldest first."""
    with Session(engine) as session:
        head = session.get(Dataset, name)
        rows = session.exec(select(DatasetVersion).where(DatasetVersion.name == name)
                            .order_by(col(DatasetVersion.id))).all()
        return [_stored(r, latest=head is not None and r.version == head.latest_version) for r in rows]


def case_of_row(row: DatasetCase) -> Case:
    """The :class:`Case` of a ``dataset_case`` row."""
    return Case(id=row.case_id, category=row.category, input=row.input, system_prompt=row.system_prompt,
                attributes=dict(row.attributes), criteria=list(row.criteria), expected_output=row.expected_output,
                reference_output=row.reference_output, production=row.production,
                source_sample_id=row.source_sample_id)


def dataset_cases(engine: Engine, version_id: int) -> list[tuple[int, Case]]:
    """The cases of a version in id order, each with its ``dataset_case`` row id."""
    with Session(engine) as session:
        rows = session.exec(select(DatasetCase).where(DatasetCase.dataset_version_id == version_id)
                            .order_by(col(DatasetCase.position))).all()
        return [(row.id, case_of_row(row)) for row in rows if row.id is not None]


def export_dataset(engine: Engine, version_id: int, out: IO[bytes]) -> int:
    """Write a version's cases as JSONL (the common shape, :meth:`Case.to_json`); returns the count."""
    count = 0
    for _, case in dataset_cases(engine, version_id):
        out.write(orjson.dumps(case.to_json()) + b"\n")
        count += 1
    return count


def _rank(sample_id: str) -> str:
    return hashlib.sha256(sample_id.encode("utf-8")).hexdigest()


def _stratified(rows: Iterable[dict[str, Any]], per_category: int) -> Iterator[dict[str, Any]]:
    kept: dict[str, list[tuple[str, int, dict[str, Any]]]] = {}
    for index, row in enumerate(rows):
        heap = kept.setdefault(row["category"], [])
        # A max-heap on the rank (negated hex via a reversed key) keeping the N smallest.
        item = (_neg(_rank(row["id"])), index, row)
        if len(heap) < per_category:
            heapq.heappush(heap, item)
        elif item[0] > heap[0][0]:
            heapq.heapreplace(heap, item)
    # Smallest rank first across categories, so a --limit cuts every category alike.
    chosen = [item for heap in kept.values() for item in heap]
    for _, _, row in sorted(chosen, key=lambda t: t[0], reverse=True):
        yield row


def _neg(hex_digest: str) -> str:
    # Order-reversing map on equal-length hex strings: the heap's smallest is the largest rank.
    return hex_digest.translate(str.maketrans("0123456789abcdef", "fedcba9876543210"))


def cases_from_store(
    engine: Engine,
    filters: SampleFilters,
    *,
    limit: int | None = None,
    per_category: int | None = None,
    expected_from: ExpectedFrom = "review",
) -> list[Case]:
    """Cases from the sampled traffic matching ``filters`` (module docstring), sorted by id.

    Without ``per_category``, ``limit`` keeps the oldest samples (as ``tastevin export``
    does); with it, at most ``limit`` of the stratified sample, category by category.
    """
    if per_category is not None and per_category < 1:
        raise ValueError(f"per_category must be at least 1, got {per_category}")
    rows: Iterable[dict[str, Any]] = iter_export_rows(
        engine, filters, limit=None if per_category is not None else limit, expected_from=expected_from)
    if per_category is not None:
        rows = _stratified(rows, per_category)
    cases: list[Case] = []
    for row in rows:
        if limit is not None and len(cases) >= limit:
            break
        try:
            cases.append(case_from_line(row))
        except ValueError as exc:  # pragma: no cover - export lines are well formed
            raise ConfigError(f"sample {row.get('id')}: cannot make a case of it: {exc}") from exc
    return sorted(cases, key=lambda c: c.id)
