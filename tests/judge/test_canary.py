"""The golden set and the judge's canary: promote settled reviews, re-judge them, store the agreement.

The judge is the real anthropic SDK against the local Messages server (``judge.testing``);
after a "model update" it passes everything, and the stored agreement drops.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import Engine
from sqlmodel import Session

from judge.testing import FakeAnthropicServer, verdicts_responder
from reviewer.cli import cli
from reviewer.errors import ConfigError
from reviewer.golden import golden_checks, golden_items, record_check
from reviewer.reviews import record_review
from reviewer.store import Judgment
from tests.judge.conftest import SUPPORT_RUBRIC, records, seed


def _reviewed(store: Engine) -> list[str]:
    """Six judged samples; people pass tickets 0-3, fail ticket 4, and disagree on ticket 5."""
    ids = seed(store, records(6))
    with Session(store, expire_on_commit=False) as session:
        judgments = [Judgment(sample_id=i, rubric_name="support", rubric_version="old", judge_model="m",
                              verdict="pass") for i in ids]
        session.add_all(judgments)
        session.commit()
    for n, judgment in enumerate(judgments):
        assert judgment.id is not None
        record_review(store, judgment_id=judgment.id, reviewer="ann", verdict="fail" if n == 4 else "pass")
    assert judgments[5].id is not None
    record_review(store, judgment_id=judgments[5].id, reviewer="bo", verdict="fail")
    return ids


def _fails_ticket_4(criterion: str, text: str) -> str:
    return "fail" if "Ticket 4:" in text else "pass"


def test_golden_add_then_canary_before_and_after_a_model_update(store: Engine, sqlite_url: str,
                                                                tmp_path: Path) -> None:
    ids = _reviewed(store)
    runner = CliRunner()
    added = runner.invoke(cli, ["golden", "add", "--from-reviews", "--rubric", "support", "--db", sqlite_url])
    assert added.exit_code == 0, added.output
    assert "support: 5 sample(s) added to the golden set, 5 in all" in added.output
    again = runner.invoke(cli, ["golden", "add", "--from-reviews", "--rubric", "support", "--db", sqlite_url])
    assert "0 sample(s) added to the golden set, 5 in all" in again.output
    assert {(g.sample_id, g.verdict) for g in golden_items(store)} == {
        *((i, "pass") for i in ids[:4]), (ids[4], "fail")}  # ticket 5 is not settled

    (tmp_path / "rubrics").mkdir()
    (tmp_path / "rubrics" / "support.yaml").write_text(SUPPORT_RUBRIC)
    args = ["judge", "--canary", "--db", sqlite_url, "--rubrics", str(tmp_path / "rubrics"), "--model", "judge-v1"]
    env = {"ANTHROPIC_API_KEY": "sk-ant-test"}
    with FakeAnthropicServer(verdicts_responder(_fails_ticket_4)) as server:
        first = runner.invoke(cli, [*args, "--base-url", server.url], env=env)
        assert first.exit_code == 0, first.output
        assert len(server.requests) == 5  # one call per golden sample
    assert "support" in first.output and "5 golden, κ 1.00, accuracy 100%, false-pass 0%" in first.output
    with FakeAnthropicServer(verdicts_responder()) as server:  # the update: it now passes everything
        args[-1] = "judge-v2"
        second = runner.invoke(cli, [*args, "--base-url", server.url], env=env)
        assert second.exit_code == 0, second.output
    newest, oldest = golden_checks(store, rubric="support")
    assert (oldest.judge_model, oldest.accuracy, oldest.kappa) == ("judge-v1", 1.0, 1.0)
    assert (newest.judge_model, newest.pass_pass, newest.pass_fail, newest.accuracy) == ("judge-v2", 4, 1, 0.8)
    assert newest.false_pass_rate == 1.0 and newest.rubric_version == oldest.rubric_version != "old"
    # The canary stores no judgment: the judged samples keep their one judgment each.
    with store.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM judgment").scalar_one() == 6
    listed = runner.invoke(cli, ["golden", "checks", "--db", sqlite_url, "--json"])
    assert [json.loads(line)["judge_model"] for line in listed.output.splitlines()] == ["judge-v2", "judge-v1"]


def test_canary_needs_an_llm_judge(store: Engine, sqlite_url: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["judge", "--canary", "--db", sqlite_url], env={"ANTHROPIC_API_KEY": "",
                                                                                      "ANTHROPIC_BASE_URL": ""})
    assert result.exit_code != 0 and isinstance(result.exception, ConfigError)
    assert "the canary re-judges the golden set with the LLM judge" in str(result.exception)


def test_golden_add_needs_the_flag_and_a_rubric(sqlite_url: str) -> None:
    result = CliRunner().invoke(cli, ["golden", "add", "--rubric", "support", "--db", sqlite_url])
    assert result.exit_code == 2 and "--from-reviews" in result.output
    empty = CliRunner().invoke(cli, ["golden", "checks", "--db", sqlite_url])
    assert empty.exit_code == 0 and "no canary checks yet" in empty.output


def test_record_check_counts_unscored_and_errored_apart(store: Engine) -> None:
    check = record_check(store, rubric_name="r", rubric_version="v", judge_model="m",
                         pairs=[("pass", "pass"), ("fail", "fail"), ("fail", "unscored"), ("pass", None)])
    assert (check.pass_pass, check.fail_fail, check.unscored, check.errored, check.accuracy) == (1, 1, 1, 1, 1.0)
    assert check.id is not None and golden_checks(store)[0].id == check.id
    with pytest.raises(ValueError, match="pass or fail"):
        record_check(store, rubric_name="r", rubric_version="v", judge_model="m", pairs=[("maybe", "pass")])
