from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.storage import decisions, submissions
from service.storage.models import (
    APPROVED,
    CANCELLED,
    PENDING,
    QUEUED,
    REJECTED,
    SCORED,
    AuditEvent,
    CallbackDelivery,
    utcnow,
)
from tests.unit.storage.factories import make_site, payload, score


def test_decision_snapshots_scores_and_queues_the_callback(db_session: Session) -> None:
    site, _ = make_site(db_session)
    sub, _ = submissions.ingest(db_session, site, payload())
    score(db_session, sub, toxicity=0.8)
    now = utcnow()
    row = decisions.record_decision(
        db_session, sub, REJECTED, "Beleidigung", user_id=None, actor="cms:k", now=now
    )
    db_session.commit()
    assert sub.status == REJECTED and sub.decided_at == now
    assert row.model_version == "test.1"
    assert row.signals["toxicity"] == {"score": 0.8, "threshold": 0.5, "flagged": True}
    delivery = decisions.delivery_of(db_session, row)
    assert delivery is not None and delivery.status == PENDING
    assert delivery.url == site.callback_url and delivery.next_attempt_at == now
    assert delivery.payload == {
        "event": "submission.decided",
        "submission": {"id": sub.id, "external_id": "c-1"},
        "decision": REJECTED,
        "reason": "Beleidigung",
        "decided_at": now.isoformat().replace("+00:00", "Z"),
    }
    actions = db_session.scalars(select(AuditEvent.action)).all()
    assert "submission.decided" in actions


def test_never_twice(db_session: Session) -> None:
    site, _ = make_site(db_session)
    sub, _ = submissions.ingest(db_session, site, payload())
    decisions.record_decision(db_session, sub, APPROVED, None, actor="cli", now=utcnow())
    db_session.commit()
    with pytest.raises(decisions.AlreadyDecided):
        decisions.record_decision(db_session, sub, REJECTED, None, actor="cli", now=utcnow())
    with pytest.raises(decisions.DecisionError, match="decision must be"):
        decisions.record_decision(db_session, sub, "maybe", None, actor="cli", now=utcnow())


def test_site_without_callback_url_gets_no_delivery(db_session: Session) -> None:
    site, _ = make_site(db_session, callback_url=None)
    sub, _ = submissions.ingest(db_session, site, payload())
    row = decisions.record_decision(db_session, sub, APPROVED, None, actor="cli", now=utcnow())
    db_session.commit()
    assert decisions.delivery_of(db_session, row) is None
    assert row.signals == {} and sub.status == APPROVED


def test_undo_within_the_window_returns_the_item_to_the_queue(db_session: Session) -> None:
    site, _ = make_site(db_session)
    sub, _ = submissions.ingest(db_session, site, payload())
    score(db_session, sub)
    now = utcnow()
    row = decisions.record_decision(
        db_session, sub, APPROVED, None, actor="user:1", now=now, undo_window_s=10
    )
    db_session.commit()
    decisions.undo_decision(db_session, row, actor="user:1", now=now + timedelta(seconds=5))
    db_session.commit()
    assert sub.status == SCORED and sub.decided_at is None and row.undone_at is not None
    delivery = db_session.scalars(select(CallbackDelivery)).one()
    assert delivery.status == CANCELLED
    assert decisions.current_decision(db_session, sub.id) is None
    with pytest.raises(decisions.UndoNotPossible):
        decisions.undo_decision(db_session, row, actor="user:1", now=now)
    # After the undo a new decision may be taken.
    again = decisions.record_decision(db_session, sub, REJECTED, None, actor="user:1", now=now)
    db_session.commit()
    assert decisions.current_decision(db_session, sub.id) == again


def test_undo_after_the_window_or_after_an_attempt_is_refused(db_session: Session) -> None:
    site, _ = make_site(db_session)
    sub, _ = submissions.ingest(db_session, site, payload())
    now = utcnow()
    row = decisions.record_decision(
        db_session, sub, APPROVED, None, actor="cli", now=now, undo_window_s=10
    )
    db_session.commit()
    with pytest.raises(decisions.UndoNotPossible, match="window"):
        decisions.undo_decision(db_session, row, actor="cli", now=now + timedelta(seconds=11))
    delivery = decisions.delivery_of(db_session, row)
    assert delivery is not None
    delivery.attempts = 1
    db_session.commit()
    with pytest.raises(decisions.UndoNotPossible, match="sent"):
        decisions.undo_decision(db_session, row, actor="cli", now=now + timedelta(seconds=1))
    db_session.rollback()
    assert sub.status == APPROVED


def test_unscored_submission_can_be_decided_and_undo_restores_queued(db_session: Session) -> None:
    site, _ = make_site(db_session, callback_url=None)
    sub, _ = submissions.ingest(db_session, site, payload())
    row = decisions.record_decision(db_session, sub, REJECTED, None, actor="cli", now=utcnow())
    decisions.undo_decision(db_session, row, actor="cli", now=utcnow())
    db_session.commit()
    assert sub.status == QUEUED
