"""Builders for the queue's tests: sites, logins, submissions with stored results."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy.orm import Session

from service.storage import sites, users
from service.storage.models import (
    SCORED,
    Author,
    Membership,
    Result,
    Site,
    Submission,
    User,
    utcnow,
)
from service.storage.submissions import text_sha256
from tests.conftest import TEST_SECRET_KEY

PASSWORD = "correct horse battery"


def make_site(
    session: Session, name: str, callback_url: str | None = "http://127.0.0.1:9/cb"
) -> Site:
    site, _secret = sites.create_site(session, TEST_SECRET_KEY, name, callback_url)
    session.commit()
    return site


@functools.cache
def _password_hash() -> str:
    # argon2 takes most of a second here; one hash of the shared test password serves all.
    return PasswordHasher().hash(PASSWORD)


def make_user(
    session: Session, site: Site, email: str, role: str = "moderator", locale: str = "en"
) -> User:
    """Create a login with `PASSWORD` and a membership of `site` in `role`."""
    assert role in users.ROLES
    user = User(email=users.normalise_email(email), password_hash=_password_hash(), locale=locale)
    session.add(user)
    session.flush()
    session.add(Membership(user_id=user.id, site_id=site.id, role=role))
    session.commit()
    return user


def result_data(
    text: str,
    scores: dict[str, float],
    spans: list[dict[str, Any]] | None = None,
    sentences: list[dict[str, Any]] | None = None,
    priority: float | None = None,
) -> dict[str, Any]:
    """Return a result object of CONTRACT.md §1 with the given scores (threshold 0.5)."""
    signals = {
        name: {"score": value, "flagged": value >= 0.5, "threshold": 0.5}
        for name, value in scores.items()
    }
    return {
        "language": "de",
        "model_version": "test.1",
        "priority": priority if priority is not None else max(scores.values(), default=0.0),
        "signals": signals,
        "spans": spans or [],
        "sentences": sentences or [],
    }


def add_submission(
    session: Session,
    site: Site,
    external_id: str,
    text: str,
    *,
    data: dict[str, Any] | None = None,
    kind: str = "comment",
    status: str | None = None,
    author: Author | None = None,
    author_name: str | None = None,
    received_at: datetime | None = None,
    article: str | None = None,
    language: str = "de",
    error: str | None = None,
) -> Submission:
    """Store a submission; with `data` also its result, as the worker would."""
    if author is None and author_name is not None:
        author = Author(site_id=site.id, external_id=f"a-{external_id}", name=author_name)
        session.add(author)
        session.flush()
    sub = Submission(
        site_id=site.id,
        external_id=external_id,
        kind=kind,
        text=text,
        text_sha256=text_sha256(text),
        author_id=author.id if author else None,
        article_external_id=article,
        language=language,
        received_at=received_at or utcnow(),
        status=status or (SCORED if data is not None else "queued"),
        priority=data["priority"] if data is not None else None,
        error=error,
    )
    session.add(sub)
    session.flush()
    if data is not None:
        session.add(
            Result(
                submission_id=sub.id,
                model_version=data.get("model_version", "test.1"),
                priority=data["priority"],
                data=data,
            )
        )
        sub.scored_at = sub.received_at + timedelta(seconds=1)
    session.commit()
    return sub
