"""The admin pages in a real browser (Debian chromium, headless).

An admin previews a stricter toxicity threshold on the paper's decided items (figures and
chart), saves it, adds a word-list entry and checks it in the test box; a new submission
scored by the worker's own task then carries the new threshold and shows the new term
highlighted in the moderators' item view. A moderator is refused the admin pages.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import Browser

from service.dispatch import Dispatcher
from service.settings import Settings
from service.storage import decisions
from service.storage.models import Site, Submission, utcnow
from service.storage.submissions import SubmissionIn, ingest
from service.web import create_app
from tests.browser.support import login, serve, stack
from tests.queue_support import add_submission, make_site, make_user, result_data
from worker.tasks import Runtime, score_submission

pytestmark = pytest.mark.browser

# (toxicity score, decision) of the paper's history.
HISTORY = [(0.9, "rejected"), (0.8, "rejected"), (0.7, "approved"), (0.6, "rejected")] + [
    (0.05 * n, "approved") for n in range(1, 9)
]
NEW_TERM = "Schmierfink"


@dataclass
class Paper:
    url: str
    settings: Settings
    sessions: Any
    site_id: str


@pytest.fixture(scope="module")
def paper(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Paper]:
    with stack(tmp_path_factory) as (settings, sessions):
        with sessions() as session:
            site = make_site(session, "Tagblatt", callback_url=None)
            make_user(session, site, "admin@example.org", role="admin")
            make_user(session, site, "mod@example.org")
            at = utcnow() - timedelta(hours=1)
            for n, (score, verdict) in enumerate(HISTORY):
                sub = add_submission(
                    session,
                    site,
                    f"h{n}",
                    f"Früherer Kommentar {n}",
                    data=result_data("x", {"toxicity": score}),
                )
                decisions.record_decision(
                    session, sub, verdict, None, actor="t", now=at + timedelta(seconds=n)
                )
            session.commit()
            site_id = site.id
        with serve(create_app(settings)) as url:
            yield Paper(url, settings, sessions, site_id)


def test_admin_previews_saves_threshold_and_word_list_acts_on_new_submission(
    paper: Paper, browser: Browser
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-US")
    login(page, paper.url, "admin@example.org")
    page.get_by_role("link", name="Admin").click()
    page.wait_for_url(f"**/admin/{paper.site_id}/")

    # No save button before a preview.
    assert page.get_by_role("button", name="Save thresholds").count() == 0
    page.fill("#t_toxicity", "0.75")
    page.get_by_role("button", name="Preview").click()
    page.wait_for_load_state("load")
    new_row = page.locator('tr[data-row="new"]').inner_text()
    # At 0.75: 2 of 12 flagged, both rejected (precision 100 %), 2 of 3 rejected found.
    assert re.findall(r"[\d.]+ %", new_row) == ["16.7 %", "100.0 %", "66.7 %"]
    chart = page.locator("figure svg")
    assert chart.count() == 1 and "recall" in (chart.locator("desc").text_content() or "")
    assert page.get_by_text("Früherer Kommentar 2").is_visible()  # 0.7, approved, moves
    assert page.locator("#t_toxicity").input_value() == "0.75"
    page.get_by_role("button", name="Save thresholds").click()
    page.wait_for_url(f"**/admin/{paper.site_id}/")
    with paper.sessions() as session:
        site = session.get(Site, paper.site_id)
        assert site.settings["thresholds"]["toxicity"] == 0.75

    # A word-list entry: test it on a sample, then add it.
    page.get_by_role("link", name="Word list").click()
    page.fill("#new-term", NEW_TERM)
    page.fill("#sample", f"So ein {NEW_TERM.upper()}! Und nochmal Schmier-fink.")
    page.get_by_role("button", name="Test").click()
    page.wait_for_load_state("load")
    marks = page.locator("#test-result mark")
    assert marks.count() == 2 and marks.first.inner_text() == NEW_TERM.upper()
    assert page.locator("#new-term").input_value() == NEW_TERM  # kept for adding
    page.get_by_role("button", name="Add").click()
    page.wait_for_load_state("load")
    assert page.locator("#entry-0-term").input_value() == NEW_TERM

    # A new submission arrives and the worker scores it: the new settings act at once.
    with paper.sessions() as session:
        site = session.get(Site, paper.site_id)
        row, _ = ingest(
            session,
            site,
            SubmissionIn(
                external_id="new-1", text=f"Der Autor ist ein {NEW_TERM}.", kind="comment"
            ),
        )
        session.commit()
        new_id = row.id
    runtime = Runtime(paper.settings, paper.sessions, Dispatcher(lambda *a: None), now=utcnow)
    assert score_submission(runtime, new_id).outcome == "scored"
    with paper.sessions() as session:
        sub = session.get(Submission, new_id)
        assert sub is not None and sub.result is not None
        assert sub.result.data["signals"]["toxicity"]["threshold"] == 0.75
    page.goto(f"{paper.url}/queue/items/{new_id}")
    highlighted = page.locator("#item-text mark.span")
    assert any(NEW_TERM in text for text in highlighted.all_inner_texts())
    page.close()


def test_moderator_is_refused(paper: Paper, browser: Browser) -> None:
    page = browser.new_page(locale="en-US")
    login(page, paper.url, "mod@example.org")
    assert page.get_by_role("link", name="Admin").count() == 0
    answer = page.goto(f"{paper.url}/admin/{paper.site_id}/")
    assert answer is not None and answer.status == 404
    assert page.locator("#t_toxicity").count() == 0
    page.close()
