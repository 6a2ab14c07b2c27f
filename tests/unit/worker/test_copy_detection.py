"""The worker's copy detection: candidates from the index before scoring, indexing after."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import update
from sqlalchemy.orm import Session

from service.storage import articles
from service.storage.copies import campaign_members
from service.storage.models import Result, Site, Submission
from service.storage.submissions import AuthorIn, SubmissionIn, ingest
from worker.tasks import Runtime, score_submission

ARTICLE = [
    "Der Kreistag hat am Montag mit großer Mehrheit beschlossen, die Klinik in der "
    "Kreisstadt bis zum Jahr 2028 für rund achtzig Millionen Euro zu erweitern und die "
    "Notaufnahme in einen Neubau auf dem Parkplatz an der Südseite zu verlegen.",
    "Die Geburtsstation im Nachbarort soll dagegen schon im Herbst schließen, weil dort "
    "nach Angaben der Geschäftsführung seit Monaten Hebammen und Kinderärzte fehlen und "
    "die Zahl der Geburten deutlich unter die Mindestmenge gesunken ist.",
]
LETTER = (
    "Als Bürger dieser Region fordere ich den Kreistag auf, die Schließung der "
    "Geburtsstation zurückzunehmen. Eine Fahrt von einer halben Stunde kann für eine "
    "Mutter in den Wehen lebensgefährlich sein, und niemand hat die Familien gefragt."
)


def _letter(session: Session, site: Site, ext: str, text: str, author: str) -> str:
    row, _ = ingest(
        session,
        site,
        SubmissionIn(
            external_id=ext,
            text=text,
            kind="letter",
            author=AuthorIn(external_id=author, name=f"Leser {author}"),
            article_external_id="klinik",
        ),
    )
    session.commit()
    return row.id


def _result(session: Session, submission_id: str) -> Result:
    session.expire_all()
    row = session.get(Submission, submission_id)
    assert row is not None and row.result is not None
    return row.result


def test_answered_article_is_compared_and_campaigns_are_formed(
    make_runtime: Callable[..., Runtime],
    site_with_secret: tuple[Site, str],
    db_session: Session,
) -> None:
    site = site_with_secret[0]
    articles.upsert(
        db_session, site, articles.ArticleIn("klinik", "Klinik wächst", "\n".join(ARTICLE))
    )
    db_session.commit()
    rt = make_runtime()

    copy = _letter(db_session, site, "l-1", f"Unglaublich!\n{ARTICLE[1]}", "r1")
    assert score_submission(rt, copy).outcome == "scored"
    data = _result(db_session, copy).data
    assert data["signals"]["copied_text"]["flagged"] is True
    [span] = [s for s in data["spans"] if s["signal"] == "copied_text"]
    assert span["source_external_id"] == "klinik" and "«Klinik wächst»" in span["reason"]

    first = _letter(db_session, site, "l-2", LETTER, "r2")
    second = _letter(db_session, site, "l-3", LETTER.replace("Bürger", "Bürgerin"), "r3")
    for submission_id in (first, second):
        assert score_submission(rt, submission_id).outcome == "scored"
    assert [m.id for m in campaign_members(db_session, second)] == [first, second]
    assert _result(db_session, second).data["campaign"]["members"] == [first, second]
    assert "campaign" not in _result(db_session, copy).data


def test_a_new_campaign_member_costs_the_same_however_big_the_campaign(
    make_runtime: Callable[..., Runtime],
    site_with_secret: tuple[Site, str],
    db_session: Session,
) -> None:
    # A campaign of thousands of letters: joining it must not rewrite every member
    # (that made each letter slower than the one before). Members the new letter did
    # not match are left alone; the size is still the whole campaign's.
    site = site_with_secret[0]
    rt = make_runtime()
    first = _letter(db_session, site, "k-1", LETTER, "r1")
    second = _letter(db_session, site, "k-2", LETTER.replace("Bürger", "Bürgerin"), "r2")
    for submission_id in (first, second):
        assert score_submission(rt, submission_id).outcome == "scored"
    campaign = _row(db_session, first).campaign_id
    assert campaign is not None
    # Earlier members that the index will not hand to the next letter as candidates.
    others = [
        _letter(db_session, site, f"k-old-{n}", f"Anderer Text {n}.", f"o{n}") for n in range(3)
    ]
    db_session.execute(
        update(Submission).where(Submission.id.in_(others)).values(campaign_id=campaign)
    )
    db_session.commit()
    before = {sid: _row(db_session, sid).updated_at for sid in others}

    third = _letter(db_session, site, "k-3", LETTER + " Danke.", "r3")
    assert score_submission(rt, third).outcome == "scored"

    assert _row(db_session, third).campaign_id == campaign
    assert {sid: _row(db_session, sid).updated_at for sid in others} == before
    info = _result(db_session, third).data["campaign"]
    assert info["size"] == 6 and info["members"][:2] == [first, second]
    # The matched members' results show the new size too.
    assert _result(db_session, first).data["campaign"]["size"] == 6


def _row(session: Session, submission_id: str) -> Submission:
    session.expire_all()
    row = session.get(Submission, submission_id)
    assert row is not None
    return row
