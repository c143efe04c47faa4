"""Rubric files: validation messages, versions, selection, the examples and `tastevin rubrics check`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from judge.checks import RegexCheck
from judge.rubric import RubricError, example_rubrics_dir, lint, load_rubric, load_rubrics, parse_rubric

ROOT = Path(__file__).resolve().parents[2]
TASTEVIN = [sys.executable, "-m", "reviewer.cli"]

GOOD = """\
name: billing-support
description: Replies about charges.
categories: [billing, "refund*"]
judge_model: claude-sonnet-4-5
judge_fraction: 0.5
pass: {mode: fraction, min: 0.75}
criteria:
  - id: acknowledges_issue
    question: "Acknowledges the double charge"
checks:
  - {id: no_pii, type: no_pii}
  - {id: mentions_refund, type: regex, pattern: "refund", flags: [IGNORECASE]}
extra_body: {temperature: 0}
"""

# The same content, reformatted, commented and with defaults spelled out.
REFORMATTED = """\
# Billing rubric
name: "billing-support"
description: "Replies about charges."
categories:
  - billing
  - refund*      # refunds and refund-requests
judge_model: claude-sonnet-4-5
judge_fraction: 0.50
pass:
  mode: fraction
  min: 0.75
criteria:
  - question: Acknowledges the double charge
    id: acknowledges_issue
checks:
  - id: no_pii
    type: no_pii
  - id: mentions_refund
    type: regex
    pattern: refund
    must_match: true
    flags: [IGNORECASE]
extra_body:
  temperature: 0
"""

HEAD = "name: b\ncategories: [billing]\n"
ONE_CHECK = "checks: [{id: a, type: no_pii}]\n"
INVALID = [
    ("bad-name", "name: Billing Support\ncategories: [billing]\n" + ONE_CHECK,
     "billing.yaml: name: 'Billing Support' must match [a-z0-9][a-z0-9_-]*"),
    ("bad-criterion-id", HEAD + "criteria: [{id: Bad Id, question: q}]\n",
     "billing.yaml: criteria[0].id: 'Bad Id' must match [a-z0-9_]+"),
    ("bad-check-id", HEAD + "checks: [{id: no-pii, type: no_pii}]\n",
     "billing.yaml: checks[0].id: 'no-pii' must match [a-z0-9_]+"),
    ("duplicate-id-across", HEAD + "criteria: [{id: a, question: q}]\n" + ONE_CHECK,
     "billing.yaml: checks[0].id: duplicate id 'a' (also criteria[0].id)"),
    ("duplicate-id-checks", HEAD + "checks: [{id: a, type: no_pii}, {id: a, type: no_refusal}]\n",
     "billing.yaml: checks[1].id: duplicate id 'a' (also checks[0].id)"),
    ("bad-regex", HEAD + "checks:\n  - {id: a, type: no_pii}\n  - {id: b, type: no_refusal}\n"
     "  - {id: c, type: regex, pattern: 'ref[und'}\n",
     "billing.yaml: checks[2].pattern: invalid regex: unterminated character set at position 3"),
    ("bad-json-schema", HEAD + "checks: [{id: j, type: valid_json, schema: {type: objectt}}]\n",
     "billing.yaml: checks[0].schema: invalid JSON Schema at /type: "
     "'objectt' is not valid under any of the given schemas"),
    ("unknown-check-type", HEAD + "checks: [{id: j, type: sentiment}]\n",
     "billing.yaml: checks[0].type: unknown check type 'sentiment'; expected one of: contains_attribute, "
     "equals_attribute, max_length, min_length, no_pii, no_refusal, regex, valid_json"),
    ("missing-check-type", HEAD + "checks: [{id: j}]\n",
     "billing.yaml: checks[0].type: required field is missing (one of: contains_attribute, "
     "equals_attribute, max_length, min_length, no_pii, no_refusal, regex, valid_json)"),
    ("no-criteria-or-checks", HEAD, "billing.yaml: a rubric needs at least one entry in criteria or checks"),
    ("empty-criteria-and-checks", HEAD + "criteria: []\nchecks: []\n",
     "billing.yaml: a rubric needs at least one entry in criteria or checks"),
    ("fraction-too-big", HEAD + "judge_fraction: 1.5\n" + ONE_CHECK,
     "billing.yaml: judge_fraction: must be > 0 and ≤ 1, got 1.5"),
    ("fraction-zero", HEAD + "judge_fraction: 0.0\n" + ONE_CHECK,
     "billing.yaml: judge_fraction: must be > 0 and ≤ 1, got 0.0"),
    ("pass-fraction-without-min", HEAD + "pass: {mode: fraction}\n" + ONE_CHECK,
     "billing.yaml: pass: mode 'fraction' needs min (0 < min ≤ 1)"),
    ("pass-min-out-of-range", HEAD + "pass: {mode: fraction, min: 1.2}\n" + ONE_CHECK,
     "billing.yaml: pass.min: must be > 0 and ≤ 1, got 1.2"),
    ("pass-unknown-mode", HEAD + "pass: {mode: most}\n" + ONE_CHECK,
     "billing.yaml: pass.mode: input should be 'all' or 'fraction'"),
    ("unknown-field-typo", HEAD + "checks: [{id: a, type: max_length, char: 10}]\n",
     "billing.yaml: checks[0].chars: required field is missing\n"
     "billing.yaml: checks[0].char: unknown field; did you mean 'chars'?"),
    ("string-for-int", HEAD + "checks: [{id: a, type: max_length, chars: '10'}]\n",
     "billing.yaml: checks[0].chars: input should be a valid integer"),
    ("missing-categories", "name: b\n" + ONE_CHECK, "billing.yaml: categories: required field is missing"),
    ("reserved-extra-body", HEAD + "extra_body: {model: x}\n" + ONE_CHECK,
     "billing.yaml: extra_body: 'model' cannot be set here: the judge sets it"),
    ("invalid-yaml", HEAD + "checks:\n  - id: a\n   type: no_pii\n",
     "billing.yaml: line 5, column 4: invalid YAML: expected <block end>, but found '<block mapping start>'"),
    ("duplicate-key", HEAD + "name: c\n" + ONE_CHECK,
     "billing.yaml: line 3, column 1: invalid YAML: duplicate key 'name' (first on line 1)"),
    ("not-a-mapping", "- name: b\n", "billing.yaml: expected one rubric (a YAML mapping), found a list"),
    ("empty-file", "# nothing yet\n", "billing.yaml: expected one rubric (a YAML mapping), found nothing"),
    ("several-problems", "name: B\ncategories: [x]\njudge_fraction: 2\ncriteria: [{id: X, question: q}]\n",
     "billing.yaml: name: 'B' must match [a-z0-9][a-z0-9_-]*\n"
     "billing.yaml: judge_fraction: must be > 0 and ≤ 1, got 2.0\n"
     "billing.yaml: criteria[0].id: 'X' must match [a-z0-9_]+"),
]


@pytest.mark.parametrize(("text", "message"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_rubric(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "billing.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RubricError) as info:
        load_rubric(path)
    assert str(info.value) == message
    assert info.value.problems == message.split("\n")
    assert lint(tmp_path) == message.split("\n")


def test_rubric_error_is_a_config_error() -> None:
    from reviewer.errors import ConfigError

    assert issubclass(RubricError, ConfigError)


def test_loaded_rubric_fields(tmp_path: Path) -> None:
    path = tmp_path / "billing.yaml"
    path.write_text(GOOD, encoding="utf-8")
    rubric = load_rubric(path)
    assert rubric.name == "billing-support"
    assert rubric.description == "Replies about charges."
    assert rubric.categories == ("billing", "refund*")
    assert [(c.id, c.question) for c in rubric.criteria] == [("acknowledges_issue", "Acknowledges the double charge")]
    assert [(c.id, c.type) for c in rubric.checks] == [("no_pii", "no_pii"), ("mentions_refund", "regex")]
    assert isinstance(rubric.checks[1], RegexCheck)
    assert rubric.pass_rule == {"mode": "fraction", "min": 0.75}
    assert rubric.judge_model == "claude-sonnet-4-5"
    assert rubric.judge_fraction == 0.5
    assert rubric.extra_body == {"temperature": 0}
    assert len(rubric.version) == 16 and rubric.content_hash.startswith(rubric.version)
    assert len(rubric.content_hash) == 64
    assert rubric.source_path == str(path)
    assert rubric.to_row() == {
        "name": "billing-support",
        "version": rubric.version,
        "content_hash": rubric.content_hash,
        "categories": ["billing", "refund*"],
        "criteria": [{"id": "acknowledges_issue", "question": "Acknowledges the double charge"}],
        "checks": [
            {"id": "no_pii", "type": "no_pii"},
            {"id": "mentions_refund", "type": "regex", "pattern": "refund", "must_match": True,
             "flags": ["IGNORECASE"]},
        ],
        "pass_rule": {"mode": "fraction", "min": 0.75},
        "judge_model": "claude-sonnet-4-5",
        "judge_fraction": 0.5,
        "source_path": str(path),
    }


def test_defaults() -> None:
    rubric = parse_rubric(HEAD + ONE_CHECK)
    assert (rubric.pass_rule, rubric.judge_fraction, rubric.judge_model, rubric.extra_body, rubric.criteria) == (
        {"mode": "all"}, 1.0, None, None, ()
    )


def test_version_ignores_formatting_and_comments() -> None:
    assert parse_rubric(REFORMATTED).version == parse_rubric(GOOD).version
    assert parse_rubric(REFORMATTED).content_hash == parse_rubric(GOOD).content_hash


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('"Acknowledges the double charge"', '"Acknowledges the double charge politely"'),
        ("judge_fraction: 0.5", "judge_fraction: 0.6"),
        ("min: 0.75", "min: 0.8"),
        ('pattern: "refund"', 'pattern: "refunds?"'),
        ("{temperature: 0}", "{temperature: 1}"),
        ("judge_model: claude-sonnet-4-5", "judge_model: claude-opus-4-1"),
        ('categories: [billing, "refund*"]', "categories: [billing]"),
    ],
    ids=["question", "judge-fraction", "pass-min", "regex", "extra-body", "judge-model", "categories"],
)
def test_version_changes_with_meaning(old: str, new: str) -> None:
    assert old in GOOD
    assert parse_rubric(GOOD.replace(old, new)).version != parse_rubric(GOOD).version


def test_version_does_not_depend_on_the_file_location(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "x.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "b" / "y.yml").write_text(GOOD, encoding="utf-8")
    assert load_rubric(tmp_path / "a" / "x.yaml").version == load_rubric(tmp_path / "b" / "y.yml").version


@pytest.mark.parametrize(
    ("category", "applies"),
    [("billing", True), ("refund", True), ("refund-request", True), ("refunds", True),
     ("Billing", False), ("billing-eu", False), ("shipping", False), ("", False)],
    ids=["exact", "glob-bare", "glob-suffix", "glob-plural", "case-sensitive", "no-prefix-match", "other", "empty"],
)
def test_applies_to(category: str, applies: bool) -> None:
    assert parse_rubric(GOOD).applies_to(category) is applies


def test_applies_to_star_matches_everything() -> None:
    rubric = parse_rubric("name: all\ncategories: ['*']\n" + ONE_CHECK)
    assert all(rubric.applies_to(c) for c in ("billing", "uncategorized", "classify-intent"))


def _with_fraction(fraction: float):  # noqa: ANN202
    return parse_rubric(GOOD.replace("judge_fraction: 0.5", f"judge_fraction: {fraction}"))


def test_selects_is_deterministic_and_superset_monotone() -> None:
    ids = [f"{i:032x}" for i in range(2000)]
    rubrics = {f: _with_fraction(f) for f in (0.1, 0.25, 0.5, 1.0)}
    chosen = {f: {s for s in ids if rubric.selects(s)} for f, rubric in rubrics.items()}
    assert chosen[0.1] <= chosen[0.25] <= chosen[0.5] <= chosen[1.0] == set(ids)
    assert 150 <= len(chosen[0.1]) <= 250 and 900 <= len(chosen[0.5]) <= 1100
    fresh = _with_fraction(0.5)
    assert {s for s in ids if fresh.selects(s)} == chosen[0.5]
    # Edits that change the version do not change which samples are selected.
    edited = parse_rubric(GOOD.replace("double charge", "duplicate charge"))
    assert edited.version != _with_fraction(0.5).version
    assert {s for s in ids if edited.selects(s)} == chosen[0.5]


def test_selects_depends_on_the_rubric_name() -> None:
    ids = [f"{i:032x}" for i in range(500)]
    other = parse_rubric(GOOD.replace("name: billing-support", "name: other"))
    billing = parse_rubric(GOOD)
    assert {s for s in ids if other.selects(s)} != {s for s in ids if billing.selects(s)}


def test_load_rubrics_sorted_and_yml(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "a.yml").write_text(HEAD.replace("name: b", "name: zeta") + ONE_CHECK, encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not a rubric", encoding="utf-8")
    assert [r.name for r in load_rubrics(tmp_path)] == ["zeta", "billing-support"]


def test_duplicate_rubric_names_across_files(tmp_path: Path) -> None:
    (tmp_path / "billing.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "copy.yaml").write_text(REFORMATTED, encoding="utf-8")
    message = "copy.yaml: name: duplicate rubric name 'billing-support' (also in billing.yaml)"
    assert lint(tmp_path) == [message]
    with pytest.raises(RubricError) as info:
        load_rubrics(tmp_path)
    assert str(info.value) == message


def test_lint_reports_every_file(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(HEAD, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "c.yaml").write_text("name: c\ncategories: [x]\njudge_fraction: 3.0\n" + ONE_CHECK, encoding="utf-8")
    assert lint(tmp_path) == [
        "a.yaml: a rubric needs at least one entry in criteria or checks",
        "c.yaml: judge_fraction: must be > 0 and ≤ 1, got 3.0",
    ]


def test_lint_empty_and_missing_directory(tmp_path: Path) -> None:
    assert lint(tmp_path) == [f"{tmp_path}: no rubric files (*.yaml, *.yml)"]
    missing = tmp_path / "nope"
    assert lint(missing) == [f"{missing}: not a directory (set --rubrics DIR or TASTEVIN_RUBRICS)"]


def test_examples_lint_clean() -> None:
    assert lint(example_rubrics_dir()) == []
    rubrics = {r.name: r for r in load_rubrics(example_rubrics_dir())}
    assert sorted(rubrics) == ["account-support", "billing-support", "intent-classifier", "shipping-support"]
    assert rubrics["billing-support"].applies_to("refunds")
    assert rubrics["intent-classifier"].applies_to("classify-intent")
    assert rubrics["intent-classifier"].criteria == ()


def test_example_intent_classifier_scores_json_labels() -> None:
    from judge.checks import run_checks

    rubric = load_rubric(example_rubrics_dir() / "intent-classifier.yaml")

    def verdicts(text: str) -> list[str]:
        record = {"output_messages": [{"role": "assistant", "parts": [{"type": "text", "content": text}]}],
                  "attributes": {"expected_intent": "billing"}, "error_type": None}
        return [r.verdict for r in run_checks(rubric, record)]

    assert verdicts('{"intent": "Billing"}') == ["pass", "pass"]
    assert verdicts('{"intent": "shipping"}') == ["pass", "fail"]
    assert verdicts('{"label": "billing"}') == ["fail", "fail"]


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    full_env = {k: v for k, v in os.environ.items() if k != "TASTEVIN_RUBRICS"}
    full_env.update(env or {})
    return subprocess.run([*TASTEVIN, "rubrics", "check", *args], capture_output=True, text=True, cwd=ROOT,
                          env=full_env, timeout=60)


def test_cli_check_clean_directory(tmp_path: Path) -> None:
    (tmp_path / "billing.yaml").write_text(GOOD, encoding="utf-8")
    version = parse_rubric(GOOD).version
    result = _cli(str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        f"billing-support  version {version}  categories billing, refund*  1 criteria, 2 checks\n"
        f"1 rubric OK in {tmp_path}\n"
    )


def test_cli_check_reports_problems(tmp_path: Path) -> None:
    (tmp_path / "billing.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "bad.yaml").write_text(HEAD + "checks: [{id: c, type: regex, pattern: 'ref[und'}]\n", encoding="utf-8")
    result = _cli(str(tmp_path))
    assert result.returncode == 1
    assert result.stdout == (
        "bad.yaml: checks[0].pattern: invalid regex: unterminated character set at position 3\n"
        f"1 problem in {tmp_path}\n"
    )
    assert result.stderr == ""


def test_cli_check_problems_and_summary_are_separate_lines_in_order(tmp_path: Path) -> None:
    # As a CI log or `2>&1 | less` shows it: one stream, each problem on its line, the summary last.
    (tmp_path / "bad.yaml").write_text(
        HEAD + "checks: [{id: r, type: regex, pattern: a, must_match: maybe}, {id: m, type: max_length}]\n",
        encoding="utf-8",
    )
    result = subprocess.run([*TASTEVIN, "rubrics", "check", str(tmp_path)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "bad.yaml: checks[0].must_match: input should be a valid boolean",
        "bad.yaml: checks[1].chars: required field is missing",
        f"2 problems in {tmp_path}",
    ]


def test_cli_check_uses_env_then_examples(tmp_path: Path) -> None:
    assert _cli(env={"TASTEVIN_RUBRICS": str(tmp_path)}).returncode == 1  # empty directory
    result = _cli()
    assert result.returncode == 0, result.stdout
    assert [line.split()[0] for line in result.stdout.splitlines()] == [
        "account-support", "billing-support", "intent-classifier", "shipping-support", "4"
    ]
