from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.storage import articles
from service.storage.models import Article
from tests.unit.storage.factories import make_site


def test_upsert_creates_then_replaces(db_session: Session) -> None:
    site, _ = make_site(db_session)
    first, created = articles.upsert(
        db_session, site, articles.ArticleIn("a-1", "Titel", "Text eins", url="https://x.de/1")
    )
    db_session.commit()
    assert created
    when = datetime(2025, 7, 23, 8, 0, tzinfo=UTC)
    second, created_again = articles.upsert(
        db_session, site, articles.ArticleIn("a-1", "Neuer Titel", "Text zwei", published_at=when)
    )
    db_session.commit()
    assert not created_again and second.id == first.id
    assert (second.title, second.text, second.url, second.published_at) == (
        "Neuer Titel",
        "Text zwei",
        None,
        when,
    )
    assert db_session.scalar(select(func.count()).select_from(Article)) == 1
