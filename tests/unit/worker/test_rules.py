"""Site rules after scoring: auto-approve, the auto-reject switch, hold and low priority."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from service.dispatch import DELIVER_CALLBACK
from service.storage import sites
from service.storage.models import (
    APPROVED,
    REJECTED,
    SCORED,
    AuditEvent,
    Decision,
    Site,
    Submission,
)
from service.storage.site_rules import (
    LOW_PRIORITY_CAP,
    Rule,
    RuleError,
    evaluate,
    parse_rules,
)
from tests.unit.worker.conftest import SentTasks
from worker.tasks import Runtime, score_submission

CALM = "Ein ganz normaler Kommentar zur Sache, danke für den Bericht."
CALM_SIGNALS = {"toxicity": {"score": 0.02, "flagged": False}, "policy": {"score": 0.0}}


def test_parse_rules_names_bad_fields() -> None:
    assert parse_rules(None) == []
    rule = parse_rules(
        [{"name": "calm", "signal": "toxicity", "below": 0.1, "action": "auto_approve"}]
    )
    assert rule == [Rule("calm", "toxicity", "auto_approve", below=0.1)]
    for bad, where in [
        ([{"name": "", "signal": "toxicity", "below": 0.1, "action": "hold"}], "name"),
        ([{"name": "x", "signal": "toxicity", "below": 2, "action": "hold"}], "below"),
        ([{"name": "x", "signal": "toxicity", "action": "hold"}], "bound"),
        ([{"name": "x", "signal": "toxicity", "below": 0.1, "action": "delete"}], "action"),
    ]:
        with pytest.raises(RuleError, match=where):
            parse_rules(bad)


def test_evaluate_orders_actions_and_guards_automatic_decisions() -> None:
    approve = Rule("calm", "toxicity", "auto_approve", below=0.1)
    reject = Rule("nasty", "toxicity", "auto_reject", at_least=0.9)
    hold = Rule("letters", "policy", "hold", at_least=0.0)
    low = Rule("quiet", "toxicity", "low_priority", below=0.5)
    assert evaluate([approve], CALM_SIGNALS, allow_auto_reject=False).decision == APPROVED
    # The bound is strict: a score equal to `below` does not fire.
    edge = {"toxicity": {"score": 0.1, "flagged": False}}
    assert evaluate([approve], edge, allow_auto_reject=False).decision is None
    # Never auto-approve when any signal is flagged.
    flagged = dict(CALM_SIGNALS, policy={"score": 1.0, "flagged": True})
    assert evaluate([approve], flagged, allow_auto_reject=False).decision is None
    nasty = {"toxicity": {"score": 0.95, "flagged": True}}
    assert evaluate([reject], nasty, allow_auto_reject=False).decision is None
    assert evaluate([reject], nasty, allow_auto_reject=True).decision == REJECTED
    held = evaluate([approve, hold], CALM_SIGNALS, allow_auto_reject=False)
    assert (held.decision, held.held_by) == (None, "letters")
    assert evaluate([low], CALM_SIGNALS, allow_auto_reject=False).priority_cap == LOW_PRIORITY_CAP


def _set_rules(db_session: Session, site: Site, settings: dict[str, Any]) -> None:
    sites.update_settings(db_session, site, settings, actor="user:admin")
    db_session.commit()


def test_worker_auto_approves_by_rule_and_queues_the_callback(
    make_runtime: Callable[..., Runtime],
    add_submission: Callable[..., str],
    db_session: Session,
    site_with_secret: tuple[Site, str],
    sent: SentTasks,
) -> None:
    site = site_with_secret[0]
    sites.set_callback_url(db_session, site, "http://127.0.0.1:9/cb", actor="user:admin")
    _set_rules(
        db_session,
        site,
        {
            "rules": [
                {"name": "calm", "signal": "toxicity", "below": 0.99, "action": "auto_approve"}
            ],
            # The general likely_rejected model flags many short texts; out of the way here.
            "thresholds": {"likely_rejected": 1.0},
        },
    )
    submission_id = add_submission(CALM)

    assert score_submission(make_runtime(), submission_id).outcome == "scored"

    db_session.expire_all()
    row = db_session.get(Submission, submission_id)
    assert row is not None and row.result is not None
    assert not any(s["flagged"] for s in row.result.data["signals"].values())
    assert row.status == APPROVED
    decision = db_session.scalars(sa.select(Decision).where(Decision.submission_id == row.id)).one()
    assert decision.decision == APPROVED and decision.user_id is None
    actors = db_session.scalars(
        sa.select(AuditEvent.actor).where(AuditEvent.action == "submission.decided")
    ).all()
    assert actors == ["rule:calm"]
    assert [c[0] for c in sent.calls].count(DELIVER_CALLBACK) == 1


def test_worker_never_auto_rejects_unless_turned_on(
    make_runtime: Callable[..., Runtime],
    add_submission: Callable[..., str],
    db_session: Session,
    site_with_secret: tuple[Site, str],
) -> None:
    site = site_with_secret[0]
    everything = [{"name": "all", "signal": "toxicity", "at_least": 0.0, "action": "auto_reject"}]
    _set_rules(db_session, site, {"rules": everything})
    first = add_submission(CALM)
    score_submission(make_runtime(), first)
    db_session.expire_all()
    assert db_session.get(Submission, first).status == SCORED  # type: ignore[union-attr]

    _set_rules(db_session, site, {"rules": everything, "allow_auto_reject": True})
    second = add_submission(CALM + " Zweiter.")
    score_submission(make_runtime(), second)
    db_session.expire_all()
    assert db_session.get(Submission, second).status == REJECTED  # type: ignore[union-attr]


def test_worker_low_priority_rule_lowers_priority(
    make_runtime: Callable[..., Runtime],
    add_submission: Callable[..., str],
    db_session: Session,
    site_with_secret: tuple[Site, str],
) -> None:
    site = site_with_secret[0]
    rule = {"name": "quiet", "signal": "toxicity", "at_least": 0.0, "action": "low_priority"}
    _set_rules(db_session, site, {"rules": [rule]})
    submission_id = add_submission("Sie sind ein Idiot und lügen! " + CALM)
    score_submission(make_runtime(), submission_id)
    db_session.expire_all()
    row = db_session.get(Submission, submission_id)
    assert row is not None and row.status == SCORED and row.result is not None
    assert row.result.priority > LOW_PRIORITY_CAP  # the rule had something to lower
    assert row.priority == LOW_PRIORITY_CAP
