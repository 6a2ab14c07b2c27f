"""Erase an author's personal data on request (GDPR); their submissions stay for statistics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.storage import audit
from service.storage.models import Author, Site, Submission, utcnow


@dataclass(frozen=True)
class Erasure:
    author_id: str
    erased_at: datetime
    submissions: int


def erase(
    session: Session,
    site: Site,
    author_external_id: str,
    *,
    actor: str,
    now: datetime | None = None,
) -> Erasure | None:
    """Clear the author's name, e-mail and location; return None when the site has no such author.

    The submissions keep their link to the (now empty) author row. The audit event names
    the author row's id only.
    """
    author = session.scalars(
        select(Author).where(Author.site_id == site.id, Author.external_id == author_external_id)
    ).one_or_none()
    if author is None:
        return None
    now = now or utcnow()
    author.name = None
    author.email = None
    author.location = None
    author.erased_at = now
    count = session.scalar(
        select(func.count()).select_from(Submission).where(Submission.author_id == author.id)
    )
    audit.record(
        session,
        actor,
        "author.erased",
        site_id=site.id,
        target_type="author",
        target_id=author.id,
        after={"erased_at": now.isoformat(), "submissions": count or 0},
    )
    session.flush()
    return Erasure(author.id, now, int(count or 0))
