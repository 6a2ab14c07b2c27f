"""Send a site's open queue back to scoring (after a word-list or threshold change).

The worker scores only `queued` submissions, so re-scoring puts each open (`scored`)
item back to `queued` with a fresh attempt count; its stored result stays until the new
one replaces it, and a moderator may still decide it meanwhile (queued items are open).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from service.storage import audit
from service.storage.models import QUEUED, SCORED, Submission, utcnow

#: At most this many items are re-scored per request (the newest open ones first).
RESCORE_MAX = 5_000


def requeue_open(
    session: Session, site_id: str, *, actor: str, now: datetime | None = None
) -> list[str]:
    """Mark the site's open scored items as queued again; return their ids to enqueue."""
    now = now or utcnow()
    ids = list(
        session.scalars(
            select(Submission.id)
            .where(Submission.site_id == site_id, Submission.status == SCORED)
            .order_by(Submission.received_at.desc())
            .limit(RESCORE_MAX)
        )
    )
    if not ids:
        return []
    session.execute(
        update(Submission)
        .where(Submission.id.in_(ids), Submission.status == SCORED)
        .values(status=QUEUED, attempts=0, scoring_lease_until=None, enqueued_at=now)
        .execution_options(synchronize_session=False)
    )
    audit.record(
        session,
        actor,
        "site.rescore_requested",
        site_id=site_id,
        target_type="site",
        target_id=site_id,
        after={"submissions": len(ids)},
    )
    session.flush()
    return ids
