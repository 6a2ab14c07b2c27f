from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from sqlalchemy.orm import Session

from service.scoring.copying import CopyingPhase
from service.scoring.document import Builder, Doc
from service.scoring.types import SiteConfig
from service.scoring.types import Submission as ScoringInput
from service.settings import Settings
from service.storage import articles, authors, copies, copywatch, submissions
from service.storage.copyindex import PREFIX, delete_keys
from service.storage.db import make_session_factory
from service.storage.models import Result, Site, Submission
from tests.support import RedisServer
from tests.unit.storage.factories import make_site, payload, score

ARTICLE = (
    "Der Stadtrat hat am Dienstagabend mit knapper Mehrheit beschlossen, die Gebühren für "
    "das Parken in der Innenstadt ab dem kommenden Frühjahr deutlich zu erhöhen, um den "
    "Ausbau der Buslinien im Norden der Stadt zu finanzieren.\nDie Opposition kritisierte "
    "den Beschluss scharf und kündigte an, ein Bürgerbegehren zu unterstützen, falls die "
    "Verwaltung die Einnahmen nicht vollständig in den öffentlichen Nahverkehr investiere.\n"
    "Nach Angaben der Verwaltung sollen die zusätzlichen Einnahmen rund zwei Millionen Euro "
    "im Jahr betragen und vor allem in neue Elektrobusse sowie in dichtere Takte auf den "
    "Linien zwischen Bahnhof, Klinikum und Gewerbegebiet fließen."
)
CAMPAIGN_LETTER = (
    "Sehr geehrte Redaktion, die geplante Windkraftanlage am Hohen Berg zerstört das "
    "Landschaftsbild, vertreibt seltene Vogelarten und bringt den Anwohnern nichts als Lärm "
    "und sinkende Grundstückspreise. Wir fordern den Gemeinderat auf, das Projekt sofort zu "
    "stoppen und die Bürger endlich ehrlich über die Kosten und die Risiken zu informieren, "
    "bevor irgendwelche Verträge mit dem Investor unterschrieben werden."
)


@pytest.fixture
def client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(redis_server.url)
    delete_keys(c, f"{PREFIX}:*")
    yield c
    delete_keys(c, f"{PREFIX}:*")
    c.delete(copywatch.STATE_KEY, copywatch.LOCK_KEY)  # left by a rebuild
    c.close()


def letter(
    session: Session, site: Site, ext: str, text: str, author: str | None, **kw: Any
) -> Submission:
    person = submissions.AuthorIn(external_id=author, name=f"Name {author}") if author else None
    row, _ = submissions.ingest(session, site, payload(ext, text, author=person, **kw))
    session.commit()
    return row


def score_and_record(session: Session, client: redis.Redis, row: Submission) -> str | None:
    """Do what the worker does: candidates, the copying phase, store, then record."""
    refs = copies.candidate_references(session, client, row)
    doc = Doc(
        ScoringInput(row.id, row.text, kind="letter", article_id=row.article_external_id),
        SiteConfig(),
        refs,
    )
    out = Builder()
    CopyingPhase()(doc, out)
    result = score(session, row)
    result.data = {**result.data, "spans": [s.to_dict() for s in out.spans]}
    copies.index_scored(client, row)
    campaign = copies.assign_campaign(session, row, result.data["spans"], result.data)
    session.commit()
    return campaign


def test_answered_article_and_indexed_article_are_candidates(
    db_session: Session, client: redis.Redis
) -> None:
    site, _ = make_site(db_session)
    art, _ = articles.upsert(db_session, site, articles.ArticleIn("ext-1", "Parken", ARTICLE))
    db_session.commit()
    copies.index_article(client, site, art)
    text = "Ich bin dagegen.\n" + ARTICLE.split("\n")[2]
    row = letter(db_session, site, "l-1", text, "u1")
    refs = copies.candidate_references(db_session, client, row)
    assert [(r.kind, r.id, r.title, r.external_id) for r in refs] == [
        ("article", art.id, "Parken", "ext-1")
    ]
    # The answered article is compared even when the index does not find it.
    own = letter(
        db_session, site, "l-2", "Kurz und knapp: nein.", "u2", article_external_id="ext-1"
    )
    assert [r.id for r in copies.candidate_references(db_session, client, own)] == [art.id]


def test_near_identical_letters_of_different_authors_form_a_campaign(
    db_session: Session, client: redis.Redis
) -> None:
    site, _ = make_site(db_session)
    first = letter(db_session, site, "l-1", CAMPAIGN_LETTER, "u1")
    assert score_and_record(db_session, client, first) is None
    second = letter(
        db_session,
        site,
        "l-2",
        CAMPAIGN_LETTER.replace("Sehr geehrte Redaktion", "Liebe Leute"),
        "u2",
    )
    campaign = score_and_record(db_session, client, second)
    assert campaign is not None
    third = letter(db_session, site, "l-3", CAMPAIGN_LETTER + " Danke.", "u3")
    assert score_and_record(db_session, client, third) == campaign
    members = copies.campaign_members(db_session, second.id)
    assert [m.id for m in members] == [first.id, second.id, third.id]
    stored = db_session.get(Result, db_session.get(Submission, first.id).result.id)  # type: ignore[union-attr]
    assert stored is not None and stored.data["campaign"]["size"] == 3
    # The same author sending a letter again is a duplicate, not a campaign.
    own = ARTICLE.replace("Stadtrat", "Kreistag")
    score_and_record(db_session, client, letter(db_session, site, "l-4", own, "u4"))
    again = letter(db_session, site, "l-5", own, "u4")
    assert score_and_record(db_session, client, again) is None
    assert copies.campaign_members(db_session, again.id) == []


def test_corpus_group_shares_submissions_between_sites(
    db_session: Session, client: redis.Redis
) -> None:
    a, _ = make_site(db_session, "Tagblatt")
    b, _ = make_site(db_session, "Kurier")
    c, _ = make_site(db_session, "Anzeiger")
    a.corpus_group = b.corpus_group = "gruppe"
    db_session.commit()
    score_and_record(db_session, client, letter(db_session, a, "l-1", CAMPAIGN_LETTER, "u1"))
    in_group = letter(db_session, b, "l-1", CAMPAIGN_LETTER, "u9")
    outside = letter(db_session, c, "l-1", CAMPAIGN_LETTER, "u9")
    assert copies.candidate_references(db_session, client, in_group)
    assert copies.candidate_references(db_session, client, outside) == ()
    assert score_and_record(db_session, client, in_group) is not None
    assert len(copies.campaign_members(db_session, in_group.id, site_id=b.id)) == 1


def test_erased_author_leaves_the_index_and_rebuild_restores_the_rest(
    db_session: Session, client: redis.Redis, engine: Any
) -> None:
    site, _ = make_site(db_session)
    art, _ = articles.upsert(db_session, site, articles.ArticleIn("ext-1", "Parken", ARTICLE))
    db_session.commit()
    kept = letter(db_session, site, "l-1", CAMPAIGN_LETTER, "u1")
    gone = letter(db_session, site, "l-2", "Ganz anders: " + ARTICLE, "u2")
    for row in (kept, gone):
        score_and_record(db_session, client, row)
    erasure = authors.erase(db_session, site, "u2", actor="cms:k")
    assert erasure is not None
    assert copies.forget_author(db_session, client, erasure.author_id) == 1
    db_session.commit()
    probe = letter(db_session, site, "l-3", CAMPAIGN_LETTER + "\n" + ARTICLE, "u3")
    found = {(r.kind, r.id) for r in copies.candidate_references(db_session, client, probe)}
    assert found == {("submission", kept.id)}  # the article was never indexed here

    delete_keys(client, f"{PREFIX}:*")  # Redis wiped
    counts = copywatch.rebuild(client, make_session_factory(engine))
    assert (counts["articles"], counts["submissions"], counts["indexed"]) == (1, 1, 2)
    found = {(r.kind, r.id) for r in copies.candidate_references(db_session, client, probe)}
    assert found == {("submission", kept.id), ("article", art.id)}


def test_campaign_members_needs_an_id(db_session: Session) -> None:
    with pytest.raises(ValueError, match="submission id"):
        copies.campaign_members(db_session, None)
    assert copies.campaign_members(db_session, "no-such-id") == []


def test_replaced_article_is_found_by_its_new_text_only(
    db_session: Session, client: redis.Redis, settings: Settings, engine: Any
) -> None:
    site, _ = make_site(db_session)
    factory = make_session_factory(engine)
    art, _ = articles.upsert(db_session, site, articles.ArticleIn("ext-1", "Parken", ARTICLE))
    db_session.commit()
    copies.index_article_by_id(factory, settings.redis_url, art.id)
    probe_old = letter(db_session, site, "l-1", ARTICLE, "u1")
    probe_new = letter(db_session, site, "l-2", CAMPAIGN_LETTER, "u2")
    assert copies.candidate_references(db_session, client, probe_old)
    articles.upsert(db_session, site, articles.ArticleIn("ext-1", "Wind", CAMPAIGN_LETTER))
    db_session.commit()
    copies.index_article_by_id(factory, settings.redis_url, art.id)
    assert copies.candidate_references(db_session, client, probe_old) == ()
    [ref] = copies.candidate_references(db_session, client, probe_new)
    assert (ref.id, ref.title) == (art.id, "Wind")
    # Without Redis the article stays stored and only the warning tells.
    copies.index_article_by_id(factory, "", art.id)
    assert copies.candidate_references(db_session, None, probe_new) == ()
