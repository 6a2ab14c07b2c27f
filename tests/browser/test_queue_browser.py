"""The queue in a real browser (Debian chromium, headless), driven by the keyboard alone.

A moderator logs in, finds the reference letter on top of a queue of civil comments (all
scored by the real Scorer), opens it, sees its highlighted spans and claim marks, rejects
it with a reason, and the CMS on loopback receives the signed callback once the undo
window is over (delivered by the worker's own task function). Markup in texts and author
names stays text; another paper's item is a 404.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, Page
from sqlalchemy.orm import Session

from service.dispatch import celery_sender
from service.scoring.pipeline import Scorer
from service.scoring.types import Submission as ScoringInput
from service.settings import Settings
from service.storage.models import Author, CallbackDelivery, Decision, Site, utcnow
from service.storage.site_config import parse_site_config
from service.web import create_app
from tests.browser.support import login, serve, stack
from tests.cms import CmsReceiver
from tests.conftest import TEST_SECRET_KEY
from tests.queue_support import add_submission, make_site, make_user, result_data
from tests.support import SEED_LETTER, SHARED
from worker.tasks import Runtime, deliver_callback

pytestmark = pytest.mark.browser

CIVIL_COMMENTS = 12
POLL_INTERVAL_MS = 300
#: Long enough that an undo by keyboard is always in time, however busy the machine.
UNDO_WINDOW_S = 60


@dataclass
class Newsroom:
    url: str
    settings: Settings
    sessions: Any
    cms: CmsReceiver
    letter_id: str
    hostile_id: str
    foreign_id: str


def civil_comments(n: int) -> list[str]:
    """Return `n` civil, neutral reader comments from the One Million Posts corpus."""
    path = SHARED / "data" / "omp_one_million_posts" / "train_wide.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    # Annotated as neither inappropriate nor discriminating nor negative.
    calm = frame[
        (frame["Inappropriate"] == "0")
        & (frame["Discriminating"] == "0")
        & (frame["SentimentNegative"] == "0")
        & frame["Body"].str.len().between(80, 400)
    ]
    texts = list(calm["Body"].head(n))
    assert len(texts) == n, "not enough civil comments in the corpus"
    return texts


def _score_and_store(
    session: Session,
    scorer: Scorer,
    site: Site,
    external_id: str,
    text: str,
    *,
    kind: str = "comment",
    author_name: str | None = None,
) -> str:
    author = None
    if author_name is not None:
        author = Author(site_id=site.id, external_id=f"a-{external_id}", name=author_name)
        session.add(author)
        session.flush()
    result = scorer.score(
        ScoringInput(id=external_id, text=text, kind=kind, author_name=author_name),  # type: ignore[arg-type]
        parse_site_config(site.settings or {}),
        (),
    )
    sub = add_submission(
        session, site, external_id, text, data=result.to_dict(), kind=kind, author=author
    )
    return sub.id


@pytest.fixture(scope="module")
def newsroom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Newsroom]:
    cms = CmsReceiver(secret="").start()
    try:
        with stack(tmp_path_factory, undo_window_s=UNDO_WINDOW_S) as (settings, sessions):
            scorer = Scorer(settings.models_dir)
            with sessions() as session:
                tagblatt = make_site(session, "Tagblatt", callback_url=cms.url)
                kurier = make_site(session, "Kurier")
                from service.storage.sites import secret_of

                cms.secret = secret_of(tagblatt, TEST_SECRET_KEY)
                make_user(session, tagblatt, "anna@example.org")
                make_user(session, kurier, "kai@example.org")
                for i, text in enumerate(civil_comments(CIVIL_COMMENTS)):
                    _score_and_store(session, scorer, tagblatt, f"omp-{i}", text)
                letter = SEED_LETTER.read_text(encoding="utf-8")
                letter_id = _score_and_store(
                    session,
                    scorer,
                    tagblatt,
                    "leserbrief-2025-07-23",
                    letter,
                    kind="letter",
                    author_name=letter.splitlines()[0].strip(),
                )
                hostile_id = _score_and_store(
                    session,
                    scorer,
                    tagblatt,
                    "hostile",
                    "Guter Artikel. <script>window.__pwned = 1</script> <b>fett</b>",
                    author_name='<img src=x onerror="window.__pwned = 2">',
                )
                foreign_id = _score_and_store(
                    session, scorer, kurier, "kurier-1", "Ein Kommentar beim Kurier."
                )
            app = create_app(settings)
            app.config["QUEUE_POLL_INTERVAL_MS"] = POLL_INTERVAL_MS
            with serve(app) as url:
                yield Newsroom(
                    url=url,
                    settings=settings,
                    sessions=sessions,
                    cms=cms,
                    letter_id=letter_id,
                    hostile_id=hostile_id,
                    foreign_id=foreign_id,
                )
    finally:
        cms.stop()


def _screenshot(page: Page, name: str) -> None:
    folder = os.environ.get("MODASSIST_SCREENSHOT_DIR")
    if folder:
        page.screenshot(path=str(Path(folder) / name), full_page=False)


def test_reject_the_reference_letter_by_keyboard(newsroom: Newsroom, browser: Browser) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-US")
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    login(page, newsroom.url, "anna@example.org")

    rows = page.locator("#rows .row")
    assert rows.count() == CIVIL_COMMENTS + 2
    assert rows.first.get_attribute("data-id") == newsroom.letter_id, "letter not on top"
    # Focus starts on the top row; j/k move it.
    page.keyboard.press("j")
    assert page.evaluate("document.activeElement.dataset.id") != newsroom.letter_id
    page.keyboard.press("k")
    assert page.evaluate("document.activeElement.dataset.id") == newsroom.letter_id
    _screenshot(page, "queue.png")

    page.keyboard.press("o")
    page.wait_for_url(f"**/queue/items/{newsroom.letter_id}**")
    marks = page.locator("#item-text mark.span")
    assert marks.count() >= 1, "no highlighted spans on the reference letter"
    assert page.locator("#item-text mark.span .sig-tag").count() >= 1, "spans need text labels"
    assert page.locator("#item-text .claim-unsourced, #item-text .claim-attributed").count() >= 1
    # A span's reason shows on keyboard focus, not only on hover.
    marks.first.focus()
    assert marks.first.locator(".span-reason").is_visible()
    _screenshot(page, "item.png")

    # Reject: r opens the reasons, 1 picks the first template, Enter sends.
    page.locator("body").focus()
    page.keyboard.press("r")
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    page.wait_for_load_state("load")
    page.wait_for_function(f"!location.pathname.endsWith('{newsroom.letter_id}')")
    with newsroom.sessions() as session:
        decision = session.execute(
            sa.select(Decision).where(Decision.submission_id == newsroom.letter_id)
        ).scalar_one()
        assert decision.decision == "rejected" and decision.reason
        assert decision.signals, "the scores shown must be recorded with the decision"
        delivery = session.execute(
            sa.select(CallbackDelivery).where(CallbackDelivery.decision_id == decision.id)
        ).scalar_one()
        delivery_id = delivery.id

    # Within the undo window the worker's delivery task sends nothing; after it (the
    # worker's clock moved past the window) it sends the signed callback.
    runtime = Runtime.build(newsroom.settings, celery_sender(newsroom.settings))
    assert deliver_callback(runtime, delivery_id) == "not_due"
    assert newsroom.cms.received == []
    runtime.now = lambda: utcnow() + timedelta(seconds=UNDO_WINDOW_S + 1)
    assert deliver_callback(runtime, delivery_id) == "delivered"
    if runtime.engine is not None:
        runtime.engine.dispose()
    got = newsroom.cms.accepted
    assert len(got) == 1 and got[0].signature_valid
    body = got[0].json()
    assert body["event"] == "submission.decided" and body["decision"] == "rejected"
    assert body["submission"] == {"id": newsroom.letter_id, "external_id": "leserbrief-2025-07-23"}
    assert body["reason"] == decision.reason
    assert dialogs == []
    page.close()


def test_markup_is_text_and_other_papers_are_404(newsroom: Newsroom, browser: Browser) -> None:
    page = browser.new_page(locale="de-DE")
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    login(page, newsroom.url, "anna@example.org")
    page.goto(f"{newsroom.url}/queue/items/{newsroom.hostile_id}")
    assert "<script>window.__pwned = 1</script>" in page.locator("#item-text").inner_text()
    assert '<img src=x onerror="window.__pwned = 2">' in page.locator(".author-name").inner_text()
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#item-text b").count() == 0
    assert dialogs == []
    answer = page.goto(f"{newsroom.url}/queue/items/{newsroom.foreign_id}")
    assert answer is not None and answer.status == 404
    page.close()


def test_select_approve_and_undo_by_keyboard(newsroom: Newsroom, browser: Browser) -> None:
    page = browser.new_page(locale="en-US")
    login(page, newsroom.url, "anna@example.org")
    rows = page.locator("#rows .row")
    # Select the last two rows (civil comments, the lowest priority).
    for _ in range(rows.count() - 2):
        page.keyboard.press("j")
    page.keyboard.press("x")
    page.keyboard.press("j")
    page.keyboard.press("x")
    chosen = set(
        page.eval_on_selector_all("#rows input[name=ids]:checked", "els => els.map(e => e.value)")
    )
    assert len(chosen) == 2 and newsroom.letter_id not in chosen
    page.keyboard.press("a")
    page.wait_for_selector("text=Approve 2 items?")
    page.keyboard.press("Enter")  # the confirm button has the focus
    page.wait_for_selector("#undo-form")
    with newsroom.sessions() as session:
        decided = session.execute(
            sa.select(Decision.submission_id).where(Decision.undone_at.is_(None))
        ).scalars()
        assert chosen <= set(decided)
    page.keyboard.press("u")
    page.wait_for_selector("text=Undone: 2 decision(s).")
    with newsroom.sessions() as session:
        standing = session.execute(
            sa.select(Decision.submission_id).where(
                Decision.submission_id.in_(chosen), Decision.undone_at.is_(None)
            )
        ).all()
        assert standing == []
    page.close()


def test_new_items_appear_without_losing_the_place(newsroom: Newsroom, browser: Browser) -> None:
    page = browser.new_page(locale="en-US")
    login(page, newsroom.url, "anna@example.org")
    rows = page.locator("#rows .row")
    before = rows.count()
    page.keyboard.press("j")
    page.keyboard.press("j")
    place = page.evaluate("document.activeElement.dataset.id")
    with newsroom.sessions() as session:
        site = session.execute(sa.select(Site).where(Site.name == "Tagblatt")).scalar_one()
        late = add_submission(
            session,
            site,
            "late-1",
            "Ein später Kommentar, der nach dem Laden der Seite eintrifft.",
            data=result_data("x", {"toxicity": 0.95}, priority=0.97),
        )
    page.wait_for_selector("#live:not([hidden])")
    assert page.locator("#live-link").inner_text().startswith("1 new submission")
    # The list itself did not move: same rows, same focus.
    assert rows.count() == before
    assert page.evaluate("document.activeElement.dataset.id") == place
    page.keyboard.press(".")
    page.wait_for_function(f"document.querySelectorAll('#rows .row').length === {before + 1}")
    assert rows.first.get_attribute("data-id") == late.id
    assert page.evaluate("document.activeElement.dataset.id") == place
    page.close()
