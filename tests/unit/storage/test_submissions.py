import threading

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.storage import submissions
from service.storage.db import make_session_factory
from service.storage.models import QUEUED, Author, Submission
from tests.unit.storage.factories import make_site, payload


def _count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Submission)) or 0)


def test_new_then_same_then_conflicting(db_session: Session) -> None:
    site, _ = make_site(db_session)
    first, created = submissions.ingest(db_session, site, payload())
    db_session.commit()
    assert created and first.status == QUEUED and first.kind == "letter"
    again, created_again = submissions.ingest(db_session, site, payload())
    assert not created_again and again.id == first.id
    with pytest.raises(submissions.ConflictingSubmission) as caught:
        submissions.ingest(db_session, site, payload(text="Ein anderer Brief."))
    assert caught.value.existing.id == first.id
    db_session.rollback()
    assert _count(db_session) == 1


def test_same_external_id_on_two_sites_are_two_submissions(db_session: Session) -> None:
    site_a, _ = make_site(db_session, "A")
    site_b, _ = make_site(db_session, "B")
    a, _ = submissions.ingest(db_session, site_a, payload())
    b, _ = submissions.ingest(db_session, site_b, payload())
    db_session.commit()
    assert a.id != b.id
    assert submissions.get_for_site(db_session, site_a.id, b.id) is None
    assert submissions.get_for_site(db_session, site_b.id, b.id) is not None


def test_author_is_upserted_by_site_and_id(db_session: Session) -> None:
    site, _ = make_site(db_session)
    author = submissions.AuthorIn(external_id="u7", name="Anna", email="a@x.de", location="Ulm")
    one, _ = submissions.ingest(db_session, site, payload("c-1", author=author))
    moved = submissions.AuthorIn(external_id="u7", location="Bonn")
    two, _ = submissions.ingest(db_session, site, payload("c-2", author=moved))
    db_session.commit()
    assert one.author_id == two.author_id
    row = db_session.get(Author, one.author_id)
    assert row is not None and (row.name, row.location) == ("Anna", "Bonn")


def test_concurrent_identical_requests_store_one_row(engine: sa.Engine) -> None:
    factory = make_session_factory(engine)
    with factory() as session:
        site, _ = make_site(session)
    outcomes: list[tuple[str, bool]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def post() -> None:
        try:
            with factory() as session:
                barrier.wait()
                sub, created = submissions.ingest(session, session.merge(site), payload("c-9"))
                session.commit()
                outcomes.append((sub.id, created))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=post) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len({ident for ident, _ in outcomes}) == 1
    assert sum(created for _, created in outcomes) == 1
    with factory() as session:
        assert _count(session) == 1
