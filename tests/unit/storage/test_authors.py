from sqlalchemy import select
from sqlalchemy.orm import Session

from service.storage import authors, submissions
from service.storage.models import AuditEvent, Author, Submission
from tests.unit.storage.factories import make_site, payload


def test_erase_clears_personal_data_and_keeps_submissions(db_session: Session) -> None:
    site, _ = make_site(db_session)
    other, _ = make_site(db_session, "Kurier")
    person = submissions.AuthorIn(
        external_id="u1", name="Anna Muster", email="a@m.de", location="Ulm"
    )
    for ext in ("c-1", "c-2"):
        submissions.ingest(db_session, site, payload(ext, author=person))
    submissions.ingest(db_session, other, payload("c-1", author=person))
    db_session.commit()

    erased = authors.erase(db_session, site, "u1", actor="cms:k")
    db_session.commit()
    assert erased is not None and erased.submissions == 2
    row = db_session.get(Author, erased.author_id)
    assert row is not None and (row.name, row.email, row.location) == (None, None, None)
    assert row.erased_at is not None
    assert db_session.scalars(select(Submission).where(Submission.site_id == site.id)).all()
    # The other site's author of the same id is a different person record: untouched.
    kept = db_session.scalars(select(Author).where(Author.site_id == other.id)).one()
    assert kept.name == "Anna Muster"
    event = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "author.erased")).one()
    assert "Anna" not in str(event.after) and "a@m.de" not in str(event.after)
    assert authors.erase(db_session, site, "nobody", actor="cms:k") is None
