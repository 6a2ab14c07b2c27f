"""Per-site retention: erase the personal data of authors who have been quiet too long.

A site's settings may hold `retention_days` (a whole number of days, 1 or more). An author
of that site whose newest submission was received more than that many days ago (or who
has no submissions and was created that long ago) loses name, e-mail and location, as
with an erasure request (service.storage.authors.erase); the submissions stay for
statistics. Sites without the key keep personal data until erased on request. A periodic
task (worker.tasks, `modassist.retention`) runs `expire_personal_data`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from service.storage import audit
from service.storage.models import Author, Site, Submission, utcnow

log = logging.getLogger(__name__)

RETENTION_KEY = "retention_days"
#: Authors erased per site and run; the next run takes the rest.
RETENTION_BATCH = 1000


@dataclass(frozen=True)
class Expired:
    site_id: str
    author_id: str


def retention_days(site: Site) -> int | None:
    """Return the site's retention in days, or None when it keeps data until erased."""
    raw = (site.settings or {}).get(RETENTION_KEY)
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
        log.warning("site %s: %s must be a whole number >= 1; ignored", site.id, RETENTION_KEY)
        return None
    return raw


def expire_personal_data(
    session: Session, now: datetime | None = None, batch: int = RETENTION_BATCH
) -> list[Expired]:
    """Erase the personal data of authors past their site's retention; caller commits."""
    now = now or utcnow()
    expired: list[Expired] = []
    for site in session.scalars(select(Site).order_by(Site.id)).all():
        days = retention_days(site)
        if days is None:
            continue
        cutoff = now - timedelta(days=days)
        newest = (
            select(Submission.author_id, func.max(Submission.received_at).label("newest"))
            .where(Submission.site_id == site.id, Submission.author_id.is_not(None))
            .group_by(Submission.author_id)
            .subquery()
        )
        rows = session.scalars(
            select(Author)
            .outerjoin(newest, newest.c.author_id == Author.id)
            .where(
                Author.site_id == site.id,
                Author.erased_at.is_(None),
                or_(
                    newest.c.newest < cutoff,
                    (newest.c.newest.is_(None)) & (Author.created_at < cutoff),
                ),
            )
            .order_by(Author.id)
            .limit(batch)
        ).all()
        for author in rows:
            author.name = None
            author.email = None
            author.location = None
            author.erased_at = now
            audit.record(
                session,
                "system",
                "author.retention_expired",
                site_id=site.id,
                target_type="author",
                target_id=author.id,
                after={"erased_at": now.isoformat(), "retention_days": days},
            )
            expired.append(Expired(site.id, author.id))
    session.flush()
    return expired
