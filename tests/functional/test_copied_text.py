"""Copied text end to end: an article posted through the API, letters scored by a worker."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests
from sqlalchemy.orm import Session

from service.storage.copies import campaign_members
from service.storage.models import SCORED, Submission
from tests.functional.conftest import ServiceProcess, WebServer

pytestmark = pytest.mark.slow

SCORED_WITHIN_S = 90.0

PARAGRAPHS = [
    "Der Kreistag hat am Montag mit großer Mehrheit beschlossen, die Klinik in der "
    "Kreisstadt bis zum Jahr 2028 für rund achtzig Millionen Euro zu erweitern und "
    "die Notaufnahme in einen Neubau auf dem Parkplatz an der Südseite zu verlegen.",
    "Die Geburtsstation im Nachbarort soll dagegen schon im Herbst schließen, weil dort "
    "nach Angaben der Geschäftsführung seit Monaten Hebammen und Kinderärzte fehlen und "
    "die Zahl der Geburten deutlich unter die Mindestmenge gesunken ist.",
    "Bürgermeisterin Petra Sander sprach von einem schwarzen Tag für die Region und "
    "kündigte an, gemeinsam mit anderen Gemeinden rechtlich gegen die Schließung "
    "vorzugehen, sobald der Bescheid des Landes vorliegt.",
    "Der Landrat verteidigte die Entscheidung: Eine kleine Station ohne ausreichend "
    "Personal gefährde Mütter und Kinder, und die erweiterte Klinik sei in einer "
    "halben Stunde aus jedem Ort des Landkreises zu erreichen.",
]
CAMPAIGN = (
    "Als Bürger dieser Region fordere ich den Kreistag auf, die Schließung der "
    "Geburtsstation zurückzunehmen. Eine Fahrt von einer halben Stunde kann für eine "
    "Mutter in den Wehen lebensgefährlich sein, und niemand hat die Familien gefragt, "
    "bevor über ihre Köpfe hinweg entschieden wurde. Wir wollen wohnortnahe Versorgung."
)


def _scored(
    signed_get: Callable[..., requests.Response], url: str, submission_id: str
) -> Callable[[], dict[str, Any] | None]:
    def check() -> dict[str, Any] | None:
        body: dict[str, Any] = signed_get(f"{url}/api/v1/submissions/{submission_id}").json()
        return body["result"] if body["status"] == SCORED else None

    return check


def _letter(external_id: str, text: str, author: str) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "text": text,
        "kind": "letter",
        "author": {"id": author, "name": f"Leser {author}", "location": "Kreisstadt"},
    }


def test_letter_copying_two_paragraphs_of_a_posted_article_shows_both_passages(
    web_server: WebServer,
    start_worker: Callable[..., ServiceProcess],
    signed_post: Callable[..., requests.Response],
    signed_get: Callable[..., requests.Response],
    wait_until: Callable[..., Any],
) -> None:
    start_worker()
    article = {
        "external_id": "klinik-2026",
        "title": "Klinik wird erweitert, Geburtsstation schließt",
        "text": "\n\n".join(PARAGRAPHS),
    }
    posted = signed_post(f"{web_server.url}/api/v1/articles", article)
    assert posted.status_code == 201, posted.text
    article_id = posted.json()["id"]

    first = (
        PARAGRAPHS[1]
        .replace("seit Monaten", "seit vielen Monaten")
        .replace("Geschäftsführung", "unfähigen Geschäftsführung")
    )
    second = PARAGRAPHS[3].replace("verteidigte", "rechtfertigte")
    text = f"Ich bin entsetzt.\n{first}\n{second}\nSo geht man nicht mit uns um!"
    created = signed_post(f"{web_server.url}/api/v1/submissions", _letter("brief-1", text, "r1"))
    assert created.status_code == 202, created.text
    result = wait_until(
        _scored(signed_get, web_server.url, created.json()["id"]), SCORED_WITHIN_S, "scoring"
    )

    assert result["signals"]["copied_text"]["flagged"] is True
    spans = [s for s in result["spans"] if s["signal"] == "copied_text"]
    assert [text[s["start"] : s["end"]] for s in spans] == [first.rstrip("."), second.rstrip(".")]
    for span in spans:
        assert span["source_id"] == article_id
        assert span["source_kind"] == "article"
        assert span["source_external_id"] == "klinik-2026"
        assert "«Klinik wird erweitert, Geburtsstation schließt»" in span["reason"]


def test_near_identical_letters_of_two_authors_are_one_campaign(
    web_server: WebServer,
    start_worker: Callable[..., ServiceProcess],
    signed_post: Callable[..., requests.Response],
    signed_get: Callable[..., requests.Response],
    wait_until: Callable[..., Any],
    functional_sessions: Callable[[], Session],
) -> None:
    start_worker()
    ids = []
    for n, (author, text) in enumerate(
        [("r7", CAMPAIGN), ("r8", CAMPAIGN.replace("Als Bürger", "Als Bürgerin"))]
    ):
        created = signed_post(
            f"{web_server.url}/api/v1/submissions", _letter(f"kampagne-{n}", text, author)
        )
        assert created.status_code == 202, created.text
        ids.append(created.json()["id"])
        # One after the other: a letter joins the corpus once it is scored.
        result = wait_until(
            _scored(signed_get, web_server.url, ids[-1]), SCORED_WITHIN_S, "scoring"
        )

    assert result["signals"]["copied_text"]["flagged"] is True
    with functional_sessions() as session:
        members = campaign_members(session, ids[1])
        assert [m.id for m in members] == ids
        first = session.get(Submission, ids[0])
        assert first is not None and first.result is not None
        assert first.result.data["campaign"]["members"] == ids
