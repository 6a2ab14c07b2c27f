"""Apply a site's rules to a just-scored submission (a separate step after scoring).

An auto-approve (or, when the admin allowed it, auto-reject) rule decides the item through
`decisions.record_decision` with actor "rule:<name>", so it is audited, snapshotted and
called back like a moderator's decision; a low-priority rule lowers the item's priority.
A failure here never undoes the score: the item simply stays open for a human.

The worker evaluates the rules in memory before storing the result (`outcome_for`): a
low-priority cap is stored with it, and only a decision takes `apply_rules` afterwards.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from service.dispatch import Dispatcher
from service.storage import decisions
from service.storage.models import SCORED, Submission
from service.storage.site_rules import Outcome, RuleError, evaluate, rules_of

log = logging.getLogger(__name__)


def outcome_for(
    site_id: str, settings: Mapping[str, Any] | None, signals: Mapping[str, Any]
) -> Outcome | None:
    """Evaluate a site's rules on a result's signals in memory; None when it has none.

    The worker calls this before storing a result: a priority cap is stored with the
    result, and only a decision needs `apply_rules` (a transaction of its own) afterwards.
    """
    try:
        rules, allow_reject = rules_of(settings)
    except RuleError:
        log.warning("rules: site %s has unusable rules, none applied", site_id)
        return None
    if not rules:
        return None
    return evaluate(rules, signals, allow_auto_reject=allow_reject)


def apply_rules(
    sessions: sessionmaker[Session],
    dispatcher: Dispatcher,
    submission_id: str,
    now: Callable[[], datetime],
) -> str | None:
    """Apply the site's rules to a scored submission; return the decision taken, if any."""
    with sessions() as session:
        row = session.get(Submission, submission_id)
        if row is None or row.status != SCORED or row.result is None:
            return None
        outcome = outcome_for(row.site_id, row.site.settings, row.result.data.get("signals") or {})
        if outcome is None:
            return None
        if outcome.decision is None:
            cap = outcome.priority_cap
            if cap is not None and (row.priority or 0.0) > cap:
                session.execute(
                    update(Submission)
                    .where(Submission.id == submission_id, Submission.status == SCORED)
                    .values(priority=cap)
                    .execution_options(synchronize_session=False)
                )
                session.commit()
                log.info("rules: submission %s set to low priority", submission_id)
            return None
        try:
            decision = decisions.record_decision(
                session,
                row,
                outcome.decision,
                None,
                actor=f"rule:{outcome.rule}",
                now=now(),
            )
        except decisions.AlreadyDecided:
            session.rollback()
            return None
        delivery = decisions.delivery_of(session, decision)
        delivery_id = delivery.id if delivery is not None else None
        session.commit()
    if delivery_id is not None:
        dispatcher.enqueue_delivery(delivery_id)
    log.info("rules: submission %s %s by rule", submission_id, outcome.decision)
    return outcome.decision
