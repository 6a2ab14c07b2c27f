"""Published articles that submissions are compared with, upserted by (site, external_id)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.storage._upsert import insert_if_absent
from service.storage.models import Article, Site, new_id, utcnow


@dataclass(frozen=True)
class ArticleIn:
    """A validated article payload (CONTRACT.md §2 POST /api/v1/articles)."""

    external_id: str
    title: str
    text: str
    url: str | None = None
    published_at: datetime | None = None


def upsert(session: Session, site: Site, payload: ArticleIn) -> tuple[Article, bool]:
    """Store the article, replacing one with the same external_id; tell whether it is new."""
    now = utcnow()
    values = {
        "id": new_id(),
        "site_id": site.id,
        "external_id": payload.external_id,
        "title": payload.title,
        "text": payload.text,
        "url": payload.url,
        "published_at": payload.published_at,
        "created_at": now,
        "updated_at": now,
    }
    table = Article.__table__
    if insert_if_absent(session, table, values, ("site_id", "external_id")):  # type: ignore[arg-type]
        article = session.get(Article, values["id"])
        assert article is not None
        return article, True
    article = get_by_external_id(session, site.id, payload.external_id)
    assert article is not None
    article.title = payload.title
    article.text = payload.text
    article.url = payload.url
    article.published_at = payload.published_at
    article.updated_at = now
    session.flush()
    return article, False


def get_by_external_id(session: Session, site_id: str, external_id: str) -> Article | None:
    return session.scalars(
        select(Article).where(Article.site_id == site_id, Article.external_id == external_id)
    ).one_or_none()
