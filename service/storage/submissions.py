"""Store submissions as the CMS sends them, idempotently on (site, external_id)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, make_transient_to_detached

from service.storage._upsert import insert_if_absent
from service.storage.models import QUEUED, Author, Site, Submission, new_id, utcnow


class ConflictingSubmission(Exception):
    """The site sent this external_id before with a different text."""

    def __init__(self, existing: Submission) -> None:
        super().__init__(f"submission {existing.external_id!r} exists with a different text")
        self.existing = existing


@dataclass(frozen=True)
class AuthorIn:
    """The author as the CMS describes them; every field optional."""

    external_id: str | None = None
    name: str | None = None
    email: str | None = None
    location: str | None = None


@dataclass(frozen=True)
class SubmissionIn:
    """A validated submission payload (CONTRACT.md §2 POST /api/v1/submissions)."""

    external_id: str
    text: str
    kind: str
    title: str | None = None
    author: AuthorIn | None = None
    article_external_id: str | None = None
    article_url: str | None = None
    article_title: str | None = None
    submitted_at: datetime | None = None


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def ingest(session: Session, site: Site, payload: SubmissionIn) -> tuple[Submission, bool]:
    """Store a submission; return it and whether it is new.

    The same external_id with the same text returns the stored submission (created is
    False); with a different text raises ConflictingSubmission and writes nothing. Two
    concurrent identical requests both succeed with one row. The caller commits, then
    enqueues scoring for a new submission.
    """
    digest = text_sha256(payload.text)
    # Without an author, insert first (one round trip for a new submission, the common
    # case). With one, look first: a repeat must not write the author's details again
    # (after an erasure, a replayed old request would bring them back).
    existing = (
        None if payload.author is None else _by_external_id(session, site.id, payload.external_id)
    )
    if existing is None:
        author_id = upsert_author(session, site, payload.author) if payload.author else None
        now = utcnow()
        values = {
            "id": new_id(),
            "site_id": site.id,
            "external_id": payload.external_id,
            "kind": payload.kind,
            "text": payload.text,
            "text_sha256": digest,
            "title": payload.title,
            "author_id": author_id,
            "article_external_id": payload.article_external_id,
            "article_url": payload.article_url,
            "article_title": payload.article_title,
            "submitted_at": payload.submitted_at,
            "received_at": now,
            "updated_at": now,
            "status": QUEUED,
            "attempts": 0,
        }
        table = Submission.__table__
        if insert_if_absent(session, table, values, ("site_id", "external_id")):  # type: ignore[arg-type]
            # The row is exactly `values`: put it in the session as loaded, no SELECT
            # (columns left to their defaults load on first access).
            created = Submission(**values)
            make_transient_to_detached(created)
            session.add(created)
            return created, True
        # Sent before, or lost a race with an identical request: compare with that row.
        existing = _by_external_id(session, site.id, payload.external_id)
        assert existing is not None
    if existing.text_sha256 != digest:
        raise ConflictingSubmission(existing)
    return existing, False


def _by_external_id(session: Session, site_id: str, external_id: str) -> Submission | None:
    return session.scalars(
        select(Submission).where(
            Submission.site_id == site_id, Submission.external_id == external_id
        )
    ).one_or_none()


def upsert_author(session: Session, site: Site, author: AuthorIn) -> str:
    """Store or update the author by (site, author id); return the author row's id.

    An author without an id gets a row of their own per submission.
    """
    fields = {"name": author.name, "email": author.email, "location": author.location}
    if author.external_id is None:
        row = Author(site_id=site.id, external_id=None, **fields)
        session.add(row)
        session.flush()
        return row.id
    values: dict[str, Any] = {
        "id": new_id(),
        "site_id": site.id,
        "external_id": author.external_id,
    }
    values.update(fields)
    values["created_at"] = utcnow()
    table = Author.__table__
    if insert_if_absent(session, table, values, ("site_id", "external_id")):  # type: ignore[arg-type]
        return str(values["id"])
    row = session.scalars(
        select(Author).where(Author.site_id == site.id, Author.external_id == author.external_id)
    ).one()
    # The latest submission carries the author's current details (also after an erasure:
    # the person has sent us new data themselves).
    for key, value in fields.items():
        if value is not None:
            setattr(row, key, value)
    return row.id


def get_for_site(session: Session, site_id: str, submission_id: str) -> Submission | None:
    """Return the submission when it belongs to the site, else None (no leaks across sites)."""
    if not submission_id or len(submission_id) > 32:
        return None
    sub = session.get(Submission, submission_id)
    if sub is None or sub.site_id != site_id:
        return None
    return sub
