"""``tastevin rubrics``: lint rubric files, e.g. in CI before they are deployed."""

from __future__ import annotations

from pathlib import Path

import click

from reviewer.errors import TastevinError

RUBRICS_ENV = "TASTEVIN_RUBRICS"


@click.group()
def rubrics() -> None:
    """Inspect and lint rubric files (YAML, one rubric per file)."""


@rubrics.command("check")
@click.argument(
    "directory",
    required=False,
    envvar=RUBRICS_ENV,
    type=click.Path(file_okay=False, path_type=Path),
)
def check(directory: Path | None) -> None:
    """Validate every *.yaml / *.yml rubric in DIRECTORY.

    DIRECTORY defaults to $TASTEVIN_RUBRICS, else the example rubrics shipped with
    tastevin. Prints one line per rubric (name, version, categories, counts), or one line
    per problem as FILE: FIELD: message, then a summary line. Exits 1 when there is any
    problem, 0 otherwise.
    """
    # Imported here: `tastevin --help` must stay fast and work without the [judge] extra.
    try:
        from .rubric import example_rubrics_dir, lint, load_rubrics
    except ImportError as exc:
        raise TastevinError(f"{exc}: rubrics need the judge extra: pip install 'tastevin[judge]'") from exc

    root = directory if directory is not None else example_rubrics_dir()
    problems = lint(root)
    if problems:
        for problem in problems:
            click.echo(problem)
        noun = "problem" if len(problems) == 1 else "problems"
        # The summary goes to the same stream as the lines it sums up: on two streams,
        # `2>&1` or a CI log interleaves them out of order (stderr is unbuffered).
        click.echo(f"{len(problems)} {noun} in {root}")
        raise SystemExit(1)
    loaded = load_rubrics(root)
    for rubric in loaded:
        click.echo(
            f"{rubric.name}  version {rubric.version}  categories {', '.join(rubric.categories)}  "
            f"{len(rubric.criteria)} criteria, {len(rubric.checks)} checks"
        )
    noun = "rubric" if len(loaded) == 1 else "rubrics"
    click.echo(f"{len(loaded)} {noun} OK in {root}")
