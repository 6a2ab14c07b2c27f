"""Copy detection around the database: candidates for scoring, indexing, campaigns, erasure.

The worker calls `candidate_references` before scoring, `index_scored` after scoring and
`assign_campaign` in the transaction that stores the result; the articles endpoint calls
`index_article`; author erasure calls `forget_author`. Rebuilding the index from the
database is `service.storage.copywatch` (the workers' watch and `modassist copyindex
rebuild`).

What GDPR erasure means here: the erased author's submissions leave the copy index, so
their text is never again shown as the source of someone else's letter, nor used to pull
a new letter into a campaign with them. Their `campaign_id` stays: it is an anonymous
cluster id and the submissions stay for statistics (CONTRACT.md §2). A rebuild skips
erased authors' submissions too.

The copy index is an aid: when Redis is unreachable, scoring goes on without candidates
(the answered article is still compared) and the submission is indexed by the next
rebuild; a warning with the submission id is logged.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any, cast

import redis
from sqlalchemy import ColumnElement, Table, func, literal, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from service.scoring.copying import source_shares
from service.scoring.types import Reference
from service.storage.copyindex import CopyIndex, corpus_name
from service.storage.models import (
    Article,
    Author,
    Result,
    Site,
    Submission,
    new_id,
)

log = logging.getLogger(__name__)

#: Both texts at least this much the same: near-identical, one campaign.
CAMPAIGN_SIMILARITY = 0.8
#: Member ids written into a result; the queue asks campaign_members for all.
CAMPAIGN_MEMBERS_SHOWN = 50
#: Candidates from the index that are aligned with each submission.
CANDIDATES = 20

_clients: dict[str, redis.Redis] = {}
_indexes: dict[tuple[int, str], CopyIndex] = {}
# Core tables for the per-task statements (no ORM objects or bulk-update machinery).
_S = cast(Table, Submission.__table__)
_R = cast(Table, Result.__table__)
_A = cast(Table, Author.__table__)
_clients_lock = threading.Lock()


def client_for(url: str) -> redis.Redis:
    """Return a shared Redis client (with its connection pool) for the copy index."""
    if not url:
        raise ValueError("MODASSIST_REDIS_URL is not set: the copy index needs Redis")
    with _clients_lock:
        if url not in _clients:
            _clients[url] = redis.Redis.from_url(url, socket_timeout=5)
        return _clients[url]


def index_for(client: redis.Redis, site: Site) -> CopyIndex:
    return _index(client, corpus_name(site.id, site.corpus_group))


def _index(client: redis.Redis, corpus: str) -> CopyIndex:
    # A CopyIndex registers its scripts when built: one per client and corpus is enough.
    key = (id(client), corpus)
    with _clients_lock:
        index = _indexes.get(key)
        if index is None or index.client is not client:
            index = _indexes[key] = CopyIndex(client, corpus)
        return index


def candidate_references(
    session: Session, client: redis.Redis | None, row: Submission
) -> tuple[Reference, ...]:
    """Return the known texts to align with a submission: index candidates and its article.

    Without a Redis client only the answered article is compared.
    """
    refs: dict[tuple[str, str], Reference] = {}
    if row.article_external_id:
        answered = session.scalars(
            select(Article).where(
                Article.site_id == row.site_id, Article.external_id == row.article_external_id
            )
        ).one_or_none()
        if answered is not None:
            refs[("article", answered.id)] = _article_ref(answered)
    found = []
    try:
        if client is not None:
            found = index_for(client, row.site).query(
                row.text, limit=CANDIDATES, exclude=[("submission", row.id)]
            )
    except redis.RedisError as exc:
        log.warning("copy index: lookup for submission %s failed (%s)", row.id, exc)
    article_ids = [c.id for c in found if c.kind == "article" and ("article", c.id) not in refs]
    submission_ids = [c.id for c in found if c.kind == "submission"]
    if article_ids:
        for article in session.scalars(select(Article).where(Article.id.in_(article_ids))):
            refs.setdefault(("article", article.id), _article_ref(article))
    if submission_ids:
        # Erased authors' texts are never sources, even if their removal from Redis failed.
        # Only the three columns a reference needs: no ORM objects for up to 20 rows.
        earlier = session.execute(
            select(_S.c.id, _S.c.text, _S.c.author_id)
            .outerjoin(_A, _S.c.author_id == _A.c.id)
            .where(_S.c.id.in_(submission_ids), _A.c.erased_at.is_(None))
        )
        texts = {sid: (text, author_id) for sid, text, author_id in earlier}
        for sid in submission_ids:  # the index's order: most shared first
            if sid in texts:
                text, author_id = texts[sid]
                refs[("submission", sid)] = Reference(
                    id=sid, kind="submission", text=text, author_id=author_id
                )
    return tuple(refs.values())


def _article_ref(article: Article) -> Reference:
    return Reference(
        id=article.id,
        kind="article",
        text=article.text,
        title=article.title,
        external_id=article.external_id,
    )


def index_scored(client: redis.Redis | None, row: Submission) -> None:
    """Add a scored submission's text to the copy index (not an erased author's).

    A Redis failure is logged, not raised: the next rebuild indexes it.
    """
    if client is not None and (row.author is None or row.author.erased_at is None):
        try:
            index_for(client, row.site).add("submission", row.id, row.text)
        except redis.RedisError as exc:
            log.warning("copy index: adding submission %s failed (%s)", row.id, exc)


def assign_campaign(
    session: Session,
    row: Submission,
    spans: Iterable[Mapping[str, Any]],
    data: MutableMapping[str, Any] | None = None,
) -> str | None:
    """Join near-identical earlier submissions of other authors into one campaign.

    The work is bounded by the matched submissions (at most CANDIDATES), not by the size
    of the campaign: only rows whose campaign changes are updated, the size is counted by
    the database, and only the matched submissions' results are rewritten.
    """
    near = [
        sid
        for sid, (share, coverage) in source_shares(dict(s) for s in spans).items()
        if share >= CAMPAIGN_SIMILARITY and coverage >= CAMPAIGN_SIMILARITY
    ]
    if not near:
        return None
    # The submission's own campaign is read here, not from `row`: that may be older.
    found = session.execute(
        select(_S.c.id, _S.c.author_id, _S.c.campaign_id).where(_S.c.id.in_([*near, row.id]))
    ).all()
    own = next((c for sid, _a, c in found if sid == row.id), None)
    others = [
        (sid, campaign_id)
        for sid, author_id, campaign_id in found
        if sid != row.id
        # The same author sending the same letter twice is a duplicate, not a campaign.
        and (author_id is None or row.author_id is None or author_id != row.author_id)
    ]
    if not others:
        return None
    known = {c for _sid, c in others if c is not None} | ({own} if own else set())
    existing = sorted(known)
    campaign = str(existing[0]) if existing else new_id()
    ids = [row.id, *(sid for sid, _c in others)]
    merged = [c for c in existing if c != campaign]
    joining = [sid for sid, c in [(row.id, own), *others] if c != campaign]
    if joining or merged:
        # Members of a merged campaign move over; members already in it are not touched.
        where: ColumnElement[bool] = _S.c.id.in_(joining)
        if merged:
            where = where | _S.c.campaign_id.in_(merged)
        session.execute(update(_S).where(where).values(campaign_id=campaign))
    set_committed_value(row, "campaign_id", campaign)  # what the database now holds
    _show_in_results(session, campaign, ids, data)
    return campaign


def _show_in_results(
    session: Session, campaign: str, ids: list[str], data: MutableMapping[str, Any] | None
) -> None:
    """Write the campaign (id, size, first members) into the results of `ids` and `data`.

    Only the submissions that just joined or matched are rewritten, so a large campaign
    costs each new member a constant amount of work; `campaign_members` is the full list.
    On PostgreSQL a matched result that another worker's transaction is rewriting at
    this moment is skipped (SKIP LOCKED): it keeps that worker's figures, a member or two
    behind, and the next member updates it. Otherwise every worker scoring letters of a
    big campaign would queue up behind the same rows (the campaign's most similar
    letters are matched again and again); the result of the new member itself is always
    written.
    """
    first = session.execute(
        select(_S.c.id, func.count().over())
        .where(_S.c.campaign_id == campaign)
        .order_by(_S.c.received_at, _S.c.id)
        .limit(CAMPAIGN_MEMBERS_SHOWN)
    ).all()
    info = {
        "id": campaign,
        "size": int(first[0][1]) if first else 0,
        "members": [sid for sid, _n in first],
    }
    if data is not None:
        data["campaign"] = info
    session.flush()  # a result added in this transaction is rewritten too
    dialect = session.get_bind().dialect.name
    rows: ColumnElement[bool] = _R.c.submission_id.in_(ids)
    if dialect == "postgresql":
        value: Any = _R.c.data.op("||")(literal({"campaign": info}, JSONB))
        free = select(_R.c.id).where(rows).with_for_update(skip_locked=True)
        rows = _R.c.id.in_(free)
    elif dialect == "sqlite":
        value = func.json_set(_R.c.data, "$.campaign", func.json(json.dumps(info)))
    else:
        for result in session.scalars(select(Result).where(Result.submission_id.in_(ids))):
            result.data = {**result.data, "campaign": info}
        return
    # In the database: no result is loaded, parsed and written back in Python.
    session.execute(update(_R).where(rows).values(data=value))
    for loaded in session.identity_map.values():
        if isinstance(loaded, Result) and loaded.submission_id in ids:
            session.expire(loaded, ["data"])


def campaign_members(
    session: Session,
    campaign_of: str | None,
    *,
    campaign_id: str | None = None,
    site_id: str | None = None,
) -> list[Submission]:
    """Return the submissions in the campaign of submission `campaign_of`, oldest first.

    Includes the submission itself; empty when it is in no campaign. `site_id` limits the
    members to one site (a campaign can span the sites of a publishing group).
    """
    if campaign_id is None:
        if campaign_of is None:
            raise ValueError("campaign_members needs a submission id or a campaign id")
        row = session.get(Submission, campaign_of)
        if row is None or row.campaign_id is None:
            return []
        campaign_id = row.campaign_id
    query = select(Submission).where(Submission.campaign_id == campaign_id)
    if site_id is not None:
        query = query.where(Submission.site_id == site_id)
    return list(session.scalars(query.order_by(Submission.received_at, Submission.id)))


def client_or_none(url: str) -> redis.Redis | None:
    """Return the copy index's Redis client, or None when no Redis is configured."""
    return client_for(url) if url else None


def index_article_by_id(factory: sessionmaker[Session], redis_url: str, article_id: str) -> None:
    """Index a stored (new or replaced) article; called by the API after its commit.

    A Redis failure is logged, not raised: the article is stored, and the next
    `modassist copyindex rebuild` indexes it.
    """
    client = client_or_none(redis_url)
    if client is None:
        log.warning("copy index: no Redis configured, article %s not indexed", article_id)
        return
    with factory() as session:
        article = session.get(Article, article_id)
        if article is None:
            return
        site = session.get(Site, article.site_id)
        assert site is not None
        try:
            index_article(client, site, article)
        except redis.RedisError as exc:
            log.warning("copy index: article %s not indexed (%s); rebuild", article_id, exc)


def forget_author_by_id(factory: sessionmaker[Session], redis_url: str, author_id: str) -> None:
    """Remove an erased author's submissions from the index; called after the erasure commit.

    On a Redis failure the texts stay in Redis but are never used as sources (the
    database says the author is erased) and the next rebuild drops them.
    """
    client = client_or_none(redis_url)
    if client is None:
        return
    with factory() as session:
        try:
            forget_author(session, client, author_id)
        except redis.RedisError as exc:
            log.warning("copy index: author %s not removed (%s); rebuild", author_id, exc)


def index_article(client: redis.Redis, site: Site, article: Article) -> None:
    """Index a new article, or replace the indexed text of a replaced one."""
    index_for(client, site).add("article", article.id, article.text)


def forget_author(session: Session, client: redis.Redis, author_id: str) -> int:
    """Remove an erased author's submissions from the copy index; return how many were in."""
    author = session.get(Author, author_id)
    if author is None:
        return 0
    site = session.get(Site, author.site_id)
    assert site is not None
    index = index_for(client, site)
    ids = session.scalars(select(Submission.id).where(Submission.author_id == author_id))
    return sum(1 for sid in ids if index.remove("submission", sid))
