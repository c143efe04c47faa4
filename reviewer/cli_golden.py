"""``tastevin golden``: the golden set of settled verdicts, and the agreement of the judge's canary runs."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from .store import DB_URL_ENV, DEFAULT_DB_URL

if TYPE_CHECKING:
    from .store.models import GoldenCheck

_db = click.option("--db", "db_url", default=DEFAULT_DB_URL, show_default=True, envvar=DB_URL_ENV, show_envvar=True,
                   help="Store URL: sqlite:///FILE or postgresql://user:password@host:5432/dbname.")


@click.group()
def golden() -> None:
    """The golden set: samples whose verdict people settled, re-judged by `tastevin judge --canary`."""


@golden.command("add")
@_db
@click.option("--from-reviews", "from_reviews", is_flag=True, required=True,
              help="Promote the reviewed samples of the rubric (where every review gives one verdict).")
@click.option("--rubric", required=True, help="The rubric whose golden set grows.")
@click.option("--by", "added_by", default="cli", show_default=True, help="Who promoted them (stored).")
def golden_add(db_url: str, from_reviews: bool, rubric: str, added_by: str) -> None:
    """Add reviewed samples to a rubric's golden set, with the people's verdict. Exits 2 on a store error."""
    from .golden import add_from_reviews, golden_items
    from .store import ensure_schema, make_engine

    engine = make_engine(db_url)
    try:
        ensure_schema(engine)
        added = add_from_reviews(engine, rubric=rubric, added_by=added_by)
        total = len(golden_items(engine, rubric=rubric))
    finally:
        engine.dispose()
    click.echo(f"{rubric}: {added:,} sample(s) added to the golden set, {total:,} in all")


@golden.command("checks")
@_db
@click.option("--rubric", default=None, help="Only this rubric's checks.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def golden_checks_command(db_url: str, rubric: str | None, as_json: bool) -> None:
    """List the canary's checks, newest first: agreement with the golden set per rubric version and judge model."""
    from .golden import golden_checks
    from .store import ensure_schema, make_engine

    engine = make_engine(db_url)
    try:
        ensure_schema(engine)
        checks = golden_checks(engine, rubric=rubric)
    finally:
        engine.dispose()
    for check in checks:
        if as_json:
            click.echo(json.dumps(check.model_dump(mode="json")))
        else:
            click.echo(describe_check(check))
    if not checks and not as_json:
        click.echo("no canary checks yet: `tastevin golden add --from-reviews --rubric R`, then "
                   "`tastevin judge --canary`")


def describe_check(c: GoldenCheck) -> str:
    """One line: when, which rubric version and judge model, κ, accuracy and false-pass rate."""
    n = c.pass_pass + c.pass_fail + c.fail_pass + c.fail_fail

    def pct(value: float | None) -> str:
        return "–" if value is None else f"{value * 100:.0f}%"

    kappa = "–" if c.kappa is None else f"{c.kappa:.2f}"
    return (f"{c.checked_at:%Y-%m-%d %H:%M} {c.rubric_name} {c.rubric_version} {c.judge_model}: {n} golden, "
            f"κ {kappa}, accuracy {pct(c.accuracy)}, false-pass {pct(c.false_pass_rate)} "
            f"[{pct(c.false_pass_low)}–{pct(c.false_pass_high)}]"
            + (f", {c.unscored} unscored" if c.unscored else "") + (f", {c.errored} errored" if c.errored else ""))
