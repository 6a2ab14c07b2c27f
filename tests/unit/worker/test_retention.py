"""The retention task erases personal data of authors quiet past their site's retention_days."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from service.dispatch import RETENTION
from service.settings import Settings
from service.storage.models import AuditEvent, Author, Site, Submission
from service.storage.sites import create_site
from service.storage.submissions import AuthorIn, SubmissionIn, ingest
from tests.unit.worker.conftest import Clock
from worker.tasks import Runtime, expire_personal_data


def _post(session: Session, site: Site, external_id: str, author: str) -> Submission:
    row, _ = ingest(
        session,
        site,
        SubmissionIn(
            external_id=external_id,
            text=f"Kommentar {external_id}.",
            kind="comment",
            author=AuthorIn(
                external_id=author, name=f"Name {author}", email=f"{author}@x.de", location="Ort"
            ),
        ),
    )
    return row


def test_retention_erases_quiet_authors_of_sites_with_a_period_only(
    db_session: Session, make_runtime: Callable[..., Runtime], clock: Clock
) -> None:
    short, _ = create_site(db_session, "k", "Kurzzeit")
    keeper, _ = create_site(db_session, "k", "Behalter")
    odd, _ = create_site(db_session, "k", "Schief")
    short.settings = {"retention_days": 30}
    odd.settings = {"retention_days": "30"}  # not a number: ignored, data kept
    db_session.commit()
    old = clock.current - timedelta(days=31)
    for site in (short, keeper, odd):
        _post(db_session, site, f"{site.name}-old", "quiet").received_at = old
        _post(db_session, site, f"{site.name}-both-old", "active").received_at = old
        _post(db_session, site, f"{site.name}-new", "active")  # wrote again recently
    db_session.commit()

    rt = make_runtime()
    assert expire_personal_data(rt) == 1
    assert expire_personal_data(rt) == 0  # already erased: nothing twice

    db_session.expire_all()
    authors = {(a.site_id, a.external_id): a for a in db_session.scalars(sa.select(Author)).all()}
    quiet = authors[(short.id, "quiet")]
    assert (quiet.name, quiet.email, quiet.location) == (None, None, None)
    assert quiet.erased_at is not None
    assert authors[(short.id, "active")].name == "Name active"
    for site in (keeper, odd):
        assert authors[(site.id, "quiet")].name == "Name quiet"
    # The submissions stay for statistics, and the erasure is audited by id.
    assert db_session.scalar(sa.select(sa.func.count()).select_from(Submission)) == 9
    events = db_session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "author.retention_expired")
    ).all()
    assert [e.target_id for e in events] == [quiet.id]

    # A month later the other author of the short site is quiet too.
    clock.advance(timedelta(days=31).total_seconds())
    assert expire_personal_data(rt) == 1
    db_session.expire_all()
    assert db_session.get(Author, authors[(short.id, "active")].id).name is None  # type: ignore[union-attr]


def test_beat_runs_the_retention_task(settings: Settings) -> None:
    from worker.app import make_celery

    schedule = make_celery(settings).conf.beat_schedule
    assert schedule["retention"]["task"] == RETENTION
