"""Record who changed what: one AuditEvent per change, never with comment texts or author data."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from service.storage.models import AuditEvent, utcnow


def record(
    session: Session,
    actor: str,
    action: str,
    site_id: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an audit event to the session (the caller commits it with the change itself).

    `actor` is "user:<id>", "cms:<key id>", "cli" or "system". `before` and `after` hold
    ids, statuses and settings only: never a submission's text or an author's data.
    """
    event = AuditEvent(
        at=utcnow(),
        actor=actor,
        action=action,
        site_id=site_id,
        target_type=target_type,
        target_id=target_id,
        before=before,
        after=after,
    )
    session.add(event)
    return event
