"""The queue's queries on both backends: keyset pages, filters, counts, claims, notes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from service.storage import queue as store
from service.storage.models import Submission, utcnow
from tests.queue_support import add_submission, make_site, make_user, result_data


def _fill(db_session: Session) -> tuple[str, list[Submission]]:
    site = make_site(db_session, "Tagblatt")
    other = make_site(db_session, "Kurier")
    start = utcnow() - timedelta(hours=1)
    subs = []
    for i in range(7):
        tox = round(0.1 + 0.12 * i, 2)
        subs.append(
            add_submission(
                db_session,
                site,
                f"c-{i}",
                f"Kommentar Nummer {i}",
                data=result_data("x", {"toxicity": tox, "policy": 0.0}),
                kind="letter" if i % 3 == 0 else "comment",
                received_at=start + timedelta(minutes=i),
                article="art-1" if i < 3 else "art-2",
                language="en" if i == 6 else "de",
            )
        )
    # Another paper's riskiest item must never show up in this site's queue.
    add_submission(db_session, other, "c-x", "fremd", data=result_data("x", {"toxicity": 0.99}))
    add_submission(db_session, site, "q-1", "wartet", received_at=start)
    return site.id, subs


def test_pages_walk_by_priority_without_gaps_or_repeats(db_session: Session) -> None:
    site_id, _ = _fill(db_session)
    seen: list[str] = []
    cursor = None
    while True:
        page = store.list_page(db_session, site_id, store.QueueFilter(), cursor=cursor, limit=3)
        seen.extend(r.external_id for r in page.rows)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [f"c-{i}" for i in range(6, -1, -1)]


def test_time_order_is_oldest_first_and_pages_continue(db_session: Session) -> None:
    site_id, _ = _fill(db_session)
    flt = store.QueueFilter(order="time")
    first = store.list_page(db_session, site_id, flt, limit=4)
    second = store.list_page(db_session, site_id, flt, cursor=first.next_cursor, limit=4)
    ids = [r.external_id for r in first.rows + second.rows]
    assert ids == [f"c-{i}" for i in range(7)]
    assert second.next_cursor is None


def test_filters_by_signal_kind_article_language_and_score(db_session: Session) -> None:
    site_id, _ = _fill(db_session)

    def ids(**kw: object) -> set[str]:
        page = store.list_page(db_session, site_id, store.QueueFilter(**kw))  # type: ignore[arg-type]
        return {r.external_id for r in page.rows}

    assert ids(signal="toxicity") == {"c-4", "c-5", "c-6"}
    assert ids(kind="letter") == {"c-0", "c-3", "c-6"}
    assert ids(article="art-1") == {"c-0", "c-1", "c-2"}
    assert ids(language="en") == {"c-6"}
    assert ids(below_signal="toxicity", below_value=0.3) == {"c-0", "c-1"}
    assert ids(status="queued") == {"q-1"}


def test_facets_count_each_choice(db_session: Session) -> None:
    site_id, _ = _fill(db_session)
    f = store.facets(db_session, site_id, store.QueueFilter())
    assert f.total.value == 7
    assert f.statuses["scored"].value == 7
    assert f.statuses["queued"].value == 1
    assert f.kinds["letter"].value == 3
    assert f.signals["toxicity"].value == 3
    assert f.signals["policy"].value == 0
    assert {k: v.value for k, v in f.languages.items()} == {"de": 6, "en": 1}


def test_counts_stop_at_the_scan_limit(
    db_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    site_id, _ = _fill(db_session)
    monkeypatch.setattr(store, "FACET_SCAN_LIMIT", 5)
    f = store.facets(db_session, site_id, store.QueueFilter())
    # Counted among the 5 riskiest: the 3 toxic ones are all there, the rest is "at least".
    assert str(f.total) == "5+"
    assert str(f.signals["toxicity"]) == "3+"
    assert str(f.statuses["queued"]) == "1"


def test_bad_filter_and_cursor_are_refused() -> None:
    with pytest.raises(store.QueueError, match="status"):
        store.QueueFilter.parse({"status": "deleted"})
    with pytest.raises(store.QueueError, match="below_value"):
        store.QueueFilter.parse({"below_signal": "toxicity", "below_value": "lots"})
    with pytest.raises(store.QueueError, match="signal"):
        store.QueueFilter.parse({"signal": "nonsense"})
    flt = store.QueueFilter.parse({"signal": "toxicity", "order": "time", "kind": "letter"})
    assert store.QueueFilter.parse(flt.as_args()) == flt


def test_bad_cursor_is_refused(db_session: Session) -> None:
    site_id, _ = _fill(db_session)
    with pytest.raises(store.QueueError, match="cursor"):
        store.list_page(db_session, site_id, store.QueueFilter(), cursor="bm9wZQ")


def test_newer_than_counts_recent_scored_items(db_session: Session) -> None:
    site_id, subs = _fill(db_session)
    assert store.newer_than(db_session, site_id, subs[4].received_at) == 2


def test_claims_are_exclusive_and_expire(db_session: Session) -> None:
    site = make_site(db_session, "Tagblatt")
    anna = make_user(db_session, site, "anna@example.org")
    ben = make_user(db_session, site, "ben@example.org")
    sub = add_submission(db_session, site, "c-1", "Text", data=result_data("x", {"toxicity": 0.2}))
    now = utcnow()
    first = store.claim(db_session, sub.id, anna.id, now)
    db_session.commit()
    assert first.mine
    taken = store.claim(db_session, sub.id, ben.id, now + timedelta(minutes=1))
    assert not taken.mine and taken.user_id == anna.id
    # Anna may renew her own claim.
    assert store.claim(db_session, sub.id, anna.id, now + timedelta(minutes=2)).mine
    later = now + timedelta(minutes=2) + store.CLAIM_TTL + timedelta(seconds=1)
    assert store.claim(db_session, sub.id, ben.id, later).mine
    db_session.commit()
    store.release(db_session, sub.id, anna.id)  # not hers any more: no effect
    db_session.commit()
    db_session.refresh(sub)
    assert sub.claimed_by == ben.id
    store.release(db_session, sub.id, ben.id)
    db_session.commit()
    db_session.refresh(sub)
    assert sub.claimed_by is None


def test_notes_and_author_history(db_session: Session) -> None:
    site = make_site(db_session, "Tagblatt")
    anna = make_user(db_session, site, "anna@example.org")
    first = add_submission(
        db_session,
        site,
        "c-1",
        "Früher",
        data=result_data("x", {"toxicity": 0.1}),
        author_name="Erika",
        received_at=utcnow() - timedelta(days=2),
    )
    later = add_submission(
        db_session,
        site,
        "c-2",
        "Jetzt",
        data=result_data("x", {"toxicity": 0.1}),
        author=first.author,
    )
    with pytest.raises(store.QueueError):
        store.add_note(db_session, later.id, anna.id, "   ", utcnow())
    store.add_note(db_session, later.id, anna.id, "Bitte Quelle prüfen", utcnow())
    db_session.commit()
    notes = store.notes_for(db_session, later.id)
    assert [(n.author_email, n.text) for n in notes] == [
        ("anna@example.org", "Bitte Quelle prüfen")
    ]
    history = store.author_history(db_session, later)
    assert [h.id for h in history] == [first.id]
    assert store.author_history(db_session, first)[0].id == later.id
