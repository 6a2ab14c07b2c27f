"""Record a moderator's decision once, with what they saw, and queue its callback to the CMS."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from service.storage import audit
from service.storage.models import (
    APPROVED,
    CANCELLED,
    FAILED,
    PENDING,
    QUEUED,
    REJECTED,
    SCORED,
    CallbackDelivery,
    Decision,
    Submission,
)

DECISIONS = (APPROVED, REJECTED)
#: Statuses from which a decision may be taken: a failed or unscored item goes to a human too.
OPEN_STATUSES = (QUEUED, SCORED, FAILED)
CALLBACK_EVENT = "submission.decided"


class DecisionError(ValueError):
    """A decision cannot be recorded or undone as asked (the message says why)."""


class AlreadyDecided(DecisionError):
    """The submission has a decision already: decisions are never taken twice."""


class UndoNotPossible(DecisionError):
    """The decision cannot be undone any more (window over, or the callback went out)."""


def record_decision(
    session: Session,
    submission: Submission,
    decision: str,
    reason: str | None,
    *,
    user_id: str | None = None,
    actor: str,
    now: datetime,
    undo_window_s: float = 0.0,
) -> Decision:
    """Decide a submission, snapshot its scores and queue the callback, in one transaction.

    Raises AlreadyDecided when it has a decision that was not undone (also when another
    moderator wins a race: the status change is a conditional UPDATE). When the site has a
    callback URL, a pending CallbackDelivery due at `now + undo_window_s` is added; the
    caller commits and then enqueues `decision.delivery.id` (see `delivery_of`).
    """
    if decision not in DECISIONS:
        raise DecisionError(f"decision must be one of {', '.join(DECISIONS)}, got {decision!r}")
    claimed = session.execute(
        update(Submission)
        .where(Submission.id == submission.id, Submission.status.in_(OPEN_STATUSES))
        .values(status=decision, decided_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(claimed, "rowcount", 0) != 1:
        raise AlreadyDecided(f"submission {submission.id} is decided already")
    session.refresh(submission)
    result = submission.result
    signals: dict[str, Any] = {}
    model_version = None
    if result is not None:
        model_version = result.model_version
        for name, sig in (result.data.get("signals") or {}).items():
            signals[name] = {
                "score": sig.get("score"),
                "threshold": sig.get("threshold"),
                "flagged": sig.get("flagged"),
            }
    row = Decision(
        submission_id=submission.id,
        user_id=user_id,
        decision=decision,
        reason=reason,
        model_version=model_version,
        signals=signals,
        created_at=now,
    )
    session.add(row)
    session.flush()
    site = submission.site
    delivery_id = None
    if site.callback_url:
        delivery = CallbackDelivery(
            decision_id=row.id,
            site_id=site.id,
            url=site.callback_url,
            payload=callback_payload(submission, decision, reason, now),
            status=PENDING,
            attempts=0,
            next_attempt_at=now + timedelta(seconds=undo_window_s),
            created_at=now,
        )
        session.add(delivery)
        session.flush()
        delivery_id = delivery.id
    audit.record(
        session,
        actor,
        "submission.decided",
        site_id=site.id,
        target_type="submission",
        target_id=submission.id,
        before={"status": _status_before(submission)},
        after={"status": decision, "decision_id": row.id, "delivery_id": delivery_id},
    )
    return row


def _status_before(submission: Submission) -> str:
    if submission.result is not None:
        return SCORED
    return FAILED if submission.error else QUEUED


def callback_payload(
    submission: Submission, decision: str, reason: str | None, decided_at: datetime
) -> dict[str, Any]:
    """Build the callback body of CONTRACT.md §3."""
    payload: dict[str, Any] = {
        "event": CALLBACK_EVENT,
        "submission": {"id": submission.id, "external_id": submission.external_id},
        "decision": decision,
        "decided_at": decided_at.isoformat().replace("+00:00", "Z"),
    }
    if reason:
        payload["reason"] = reason
    return payload


def delivery_of(session: Session, decision: Decision) -> CallbackDelivery | None:
    """Return the callback delivery of a decision (None when the site has no callback URL)."""
    return session.scalars(
        select(CallbackDelivery).where(CallbackDelivery.decision_id == decision.id)
    ).one_or_none()


def current_decision(session: Session, submission_id: str) -> Decision | None:
    """Return the submission's decision that stands (not undone), if any."""
    return session.scalars(
        select(Decision)
        .where(Decision.submission_id == submission_id, Decision.undone_at.is_(None))
        .order_by(Decision.created_at.desc())
        .limit(1)
    ).one_or_none()


def undo_decision(
    session: Session,
    decision: Decision,
    *,
    actor: str,
    now: datetime,
    user_id: str | None = None,
) -> Decision:
    """Take a decision back while its callback has not gone out; the item returns to the queue.

    Allowed only before the delivery's due time and before any attempt; the delivery is
    cancelled with a conditional UPDATE, so a worker that already picked it up wins and the
    undo raises UndoNotPossible.
    """
    if decision.undone_at is not None:
        raise UndoNotPossible("the decision was undone already")
    delivery = delivery_of(session, decision)
    if delivery is not None:
        if delivery.next_attempt_at <= now:
            raise UndoNotPossible("the undo window is over")
        cancelled = session.execute(
            update(CallbackDelivery)
            .where(
                CallbackDelivery.id == delivery.id,
                CallbackDelivery.status == PENDING,
                CallbackDelivery.attempts == 0,
            )
            .values(status=CANCELLED)
            .execution_options(synchronize_session=False)
        )
        if getattr(cancelled, "rowcount", 0) != 1:
            raise UndoNotPossible("the callback has been sent already")
        session.refresh(delivery)
    submission = decision.submission
    decision.undone_at = now
    status = _status_before(submission)
    submission.status = status
    submission.decided_at = None
    submission.updated_at = now
    audit.record(
        session,
        actor,
        "submission.decision_undone",
        site_id=submission.site_id,
        target_type="submission",
        target_id=submission.id,
        before={"status": decision.decision, "decision_id": decision.id},
        after={"status": status, "user_id": user_id},
    )
    session.flush()
    return decision
