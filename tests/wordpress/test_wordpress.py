"""WordPress with the modassist plugin against a running modassist, end to end.

WordPress 6.1 from Debian's package, MariaDB and PHP's built-in server on loopback; modassist
as `modassist serve` + `modassist worker` with a private Redis and a throwaway PostgreSQL.
Comments go in through wp-comments-post.php like a reader's, decisions go through the
signed decision API like a moderator's, and what WordPress shows is read back from it.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests

from service.signing import signed_headers
from tests.wordpress.conftest import ModassistService
from tests.wordpress.site import PLUGIN_DIR, WordPressSite

pytestmark = [pytest.mark.wordpress, pytest.mark.slow]

WAIT_S = 120.0
T = TypeVar("T")


def wait_for(probe: Callable[[], T | None], what: str, timeout_s: float = WAIT_S) -> T:
    """Call `probe` until it returns something other than None; fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = probe()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.3)


def api(
    service: ModassistService, method: str, path: str, payload: Any = None
) -> requests.Response:
    """Send a request to modassist signed with the WordPress site's key, as a CMS does."""
    body = b"" if payload is None else json.dumps(payload).encode()
    headers = signed_headers(service.key_id, service.secret, body, time.time())
    if payload is not None:
        headers["Content-Type"] = "application/json"
    return requests.request(method, service.url + path, data=body, headers=headers, timeout=30)


def sent_comment(site: WordPressSite, comment_id: int) -> dict[str, Any]:
    """Run WP-Cron until the comment has been sent; return its state."""

    def probe() -> dict[str, Any] | None:
        site.run_cron()
        state = site.comment(comment_id)
        return state if state["meta"].get("_modassist_state") == "sent" else None

    return wait_for(probe, f"comment {comment_id} to be sent")


def scored(service: ModassistService, submission_id: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        answer = api(service, "GET", f"/api/v1/submissions/{submission_id}")
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        assert body["status"] != "failed", body
        return body if body["status"] == "scored" else None

    return wait_for(probe, f"submission {submission_id} to be scored")


def comment_status(site: WordPressSite, comment_id: int, wanted: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        state = site.comment(comment_id)
        return state if state["status"] == wanted else None

    return wait_for(probe, f"comment {comment_id} to become {wanted}", timeout_s=60)


@pytest.fixture(scope="module")
def article(wordpress_site: WordPressSite, modassist_service: ModassistService) -> dict[str, Any]:
    return wordpress_site.helper(
        "create-post",
        title="Stadtrat beschließt neuen Radweg",
        content="Der Stadtrat hat am Dienstag mit knapper Mehrheit einen neuen Radweg "
        "entlang der Hauptstraße beschlossen. Die Bauarbeiten sollen im Frühjahr beginnen.",
    )


def test_published_post_is_sent_as_article(
    wordpress_site: WordPressSite, modassist_service: ModassistService, article: dict[str, Any]
) -> None:
    assert article["state"] == "pending_send"

    def probe() -> dict[str, Any] | None:
        wordpress_site.run_cron()
        state = wordpress_site.helper("post-state", id=article["id"])
        return state if state["state"] != "pending_send" else None

    state = wait_for(probe, "the article to be sent")
    assert state == {"state": "sent", "error": ""}
    assert modassist_service.article_titles() == ["Stadtrat beschließt neuen Radweg"]


def test_connection_check_accepts_the_site_key(
    wordpress_site: WordPressSite, modassist_service: ModassistService
) -> None:
    assert wordpress_site.helper("check-connection")["outcome"] == "ok"


def test_approved_comment_is_published(
    wordpress_site: WordPressSite, modassist_service: ModassistService, article: dict[str, Any]
) -> None:
    comment_id = wordpress_site.post_comment(
        article["id"],
        "Endlich ein Radweg! Ich fahre dort jeden Morgen zur Arbeit und freue mich darauf.",
        "Anna Leserin",
        "anna@example.org",
    )
    held = wordpress_site.comment(comment_id)
    assert held["status"] == "unapproved"
    assert held["meta"]["_modassist_state"] == "pending_send"

    state = sent_comment(wordpress_site, comment_id)
    submission_id = state["meta"]["_modassist_id"]
    body = scored(modassist_service, submission_id)
    assert body["external_id"] == f"wp-comment-{comment_id}"
    assert wordpress_site.comment(comment_id)["status"] == "unapproved"
    assert "jeden Morgen zur Arbeit" not in requests.get(article["url"], timeout=30).text

    decided = api(
        modassist_service,
        "POST",
        f"/api/v1/submissions/{submission_id}/decision",
        {"decision": "approved"},
    )
    assert decided.status_code in (200, 201, 202), decided.text
    state = comment_status(wordpress_site, comment_id, "approved")
    assert state["meta"]["_modassist_decision"] == "approved"
    assert state["meta"]["_modassist_decided_via"] == "callback"
    assert "jeden Morgen zur Arbeit" in requests.get(article["url"], timeout=30).text

    column = wordpress_site.helper("column", id=comment_id)["html"]
    assert f"{modassist_service.url}/queue/{submission_id}" in column
    assert "approved" in column

    # The same cell on the real comments screen, and the settings page, as an admin sees them.
    admin = wordpress_site.admin_session()
    screen = admin.get(wordpress_site.url + "/wp-admin/edit-comments.php", timeout=60)
    assert screen.status_code == 200
    assert "manage-column column-modassist" in screen.text
    assert f'href="{modassist_service.url}/queue/{submission_id}"' in screen.text
    page = admin.get(
        wordpress_site.url + "/wp-admin/options-general.php?page=modassist", timeout=60
    )
    assert page.status_code == 200
    shows_callback_url = f"<code>{wordpress_site.callback_url}</code>" in page.text
    assert shows_callback_url, "the settings page must show the URL to register as callback"
    shows_secret = modassist_service.secret in page.text
    assert not shows_secret, "the settings page must never show the secret"

    # The "Test connection" button: a signed request whose answer comes back as a notice.
    nonce = re.search(
        r'name="_wpnonce" value="([0-9a-f]+)"', page.text.split("modassist_test_connection", 1)[1]
    )
    assert nonce, "the test connection form has no nonce"
    checked = admin.post(
        wordpress_site.url + "/wp-admin/admin-post.php",
        data={"action": "modassist_test_connection", "_wpnonce": nonce.group(1)},
        timeout=60,
    )
    assert checked.status_code == 200
    assert "Connected: modassist accepted the signature." in checked.text


def test_rejected_comment_ends_in_spam(
    wordpress_site: WordPressSite, modassist_service: ModassistService, article: dict[str, Any]
) -> None:
    comment_id = wordpress_site.post_comment(
        article["id"],
        "Der Bürgermeister ist ein korrupter Idiot und lügt, sobald er den Mund aufmacht!",
        "Wütender Leser",
        "wut@example.org",
    )
    submission_id = sent_comment(wordpress_site, comment_id)["meta"]["_modassist_id"]
    body = scored(modassist_service, submission_id)

    # The recurring cron event fetches the result, so the comments screen shows what
    # modassist found before anybody decided: status, priority, the top flagged signals.
    def refreshed() -> str | None:
        wordpress_site.run_cron()
        html: str = wordpress_site.helper("column", id=comment_id)["html"]
        return html if "scored, awaiting decision" in html else None

    column = wait_for(refreshed, "the comments column to show the result", timeout_s=30)
    shown = re.search(r"Priority (\d+\.\d\d)", column)
    assert shown, column
    assert abs(float(shown.group(1)) - body["result"]["priority"]) <= 0.005 + 1e-9
    flagged = [s for s in body["result"]["signals"].values() if s["flagged"]]
    assert column.count("<li>") == min(3, len(flagged))

    decided = api(
        modassist_service,
        "POST",
        f"/api/v1/submissions/{submission_id}/decision",
        {"decision": "rejected", "reason": "Beleidigung"},
    )
    assert decided.status_code in (200, 201, 202), decided.text
    state = comment_status(wordpress_site, comment_id, "spam")
    assert state["meta"]["_modassist_decision"] == "rejected"


def _callback(
    site: WordPressSite, secret: str, key_id: str, payload: dict[str, Any], timestamp: float
) -> requests.Response:
    body = json.dumps(payload).encode()
    headers = signed_headers(key_id, secret, body, timestamp)
    headers["Content-Type"] = "application/json"
    return requests.post(site.callback_url, data=body, headers=headers, timeout=30)


def test_callback_with_bad_signature_changes_nothing(
    wordpress_site: WordPressSite, modassist_service: ModassistService, article: dict[str, Any]
) -> None:
    comment_id = wordpress_site.post_comment(
        article["id"],
        "Wer bezahlt das eigentlich? Die Kosten wurden im Artikel nicht genannt.",
        "Karl Fragesteller",
        "karl@example.org",
    )
    submission_id = sent_comment(wordpress_site, comment_id)["meta"]["_modassist_id"]
    event = {
        "event": "submission.decided",
        "submission": {"id": submission_id, "external_id": f"wp-comment-{comment_id}"},
        "decision": "approved",
        "decided_at": "2026-11-24T12:00:00Z",
    }
    key_id, secret = modassist_service.key_id, modassist_service.secret
    now = time.time()

    refused = [
        _callback(wordpress_site, "not-the-secret", key_id, event, now),
        _callback(wordpress_site, secret, key_id, event, now - 600),  # stale
        _callback(wordpress_site, secret, "another-key", event, now),
    ]
    # Signed correctly but the body changed on the way.
    tampered = dict(event, decision="rejected")
    headers = signed_headers(key_id, secret, json.dumps(event).encode(), now)
    headers["Content-Type"] = "application/json"
    refused.append(
        requests.post(
            wordpress_site.callback_url,
            data=json.dumps(tampered).encode(),
            headers=headers,
            timeout=30,
        )
    )
    assert [r.status_code for r in refused] == [401, 401, 401, 401]
    state = wordpress_site.comment(comment_id)
    assert state["status"] == "unapproved"
    assert "_modassist_decision" not in state["meta"]

    # The same event signed with the site's secret is accepted, and a repeat is harmless.
    for _ in range(2):
        accepted = _callback(wordpress_site, secret, key_id, event, time.time())
        assert accepted.status_code == 200, accepted.text
        assert accepted.json() == {"comment_id": comment_id, "status": "approved"}


def test_comments_wait_while_modassist_is_down(
    wordpress_site: WordPressSite, modassist_service: ModassistService, article: dict[str, Any]
) -> None:
    modassist_service.stop_web()
    try:
        comment_ids = [
            wordpress_site.post_comment(article["id"], text, f"Leser {n}", f"leser{n}@example.org")
            for n, text in enumerate(
                [
                    "Ich wohne an der Hauptstraße und habe Bedenken wegen der Parkplätze.",
                    "Good decision, cities need safe bike lanes.",
                ]
            )
        ]
        for _ in range(2):
            wordpress_site.run_cron()
        for comment_id in comment_ids:
            state = wordpress_site.comment(comment_id)
            assert state["status"] == "unapproved"
            assert state["meta"]["_modassist_state"] == "pending_send"
            assert int(state["meta"]["_modassist_attempts"]) >= 1
            assert "_modassist_id" not in state["meta"]
    finally:
        modassist_service.start_web()

    for comment_id in comment_ids:
        submission_id = sent_comment(wordpress_site, comment_id)["meta"]["_modassist_id"]
        scored(modassist_service, submission_id)
        assert wordpress_site.comment(comment_id)["status"] == "unapproved"


def test_letter_from_the_form_is_sent_as_letter(
    wordpress_site: WordPressSite, modassist_service: ModassistService, article: dict[str, Any]
) -> None:
    page = wordpress_site.helper(
        "create-post", type="page", title="Leserbriefe", content="[modassist_letter]"
    )
    form = requests.get(page["url"], timeout=30)
    assert form.status_code == 200
    nonce = re.search(r'name="modassist_letter_nonce" value="([0-9a-f]+)"', form.text)
    assert nonce, form.text[:2000]
    assert f'<option value="{article["id"]}"' in form.text

    sent = requests.post(
        wordpress_site.url + "/wp-admin/admin-post.php",
        data={
            "action": "modassist_letter",
            "modassist_letter_nonce": nonce.group(1),
            "page_id": str(page["id"]),
            "letter_name": "Erika Mustermann",
            "letter_place": "Ulm",
            "letter_email": "erika@example.org",
            "letter_article": str(article["id"]),
            "letter_text": "Sehr geehrte Redaktion, der Radweg ist überfällig. Seit Jahren "
            "warten wir darauf, dass die Stadt etwas für Radfahrer tut.",
        },
        allow_redirects=False,
        timeout=30,
    )
    assert sent.status_code == 302
    assert "modassist_letter=thanks" in sent.headers["Location"]

    letters = [
        c for c in wordpress_site.helper("comments")["comments"] if c["type"] == "modassist_letter"
    ]
    assert len(letters) == 1
    assert letters[0]["status"] == "unapproved"
    assert letters[0]["post"] == article["id"]
    assert letters[0]["meta"]["_modassist_kind"] == "letter"
    assert letters[0]["meta"]["_modassist_place"] == "Ulm"

    comment_id = letters[0]["id"]
    submission_id = sent_comment(wordpress_site, comment_id)["meta"]["_modassist_id"]
    scored(modassist_service, submission_id)
    stored = modassist_service.submission_row(f"wp-comment-{comment_id}")
    assert stored == {"kind": "letter", "article_external_id": f"wp-post-{article['id']}"}

    # Tools → Erase Personal Data in WordPress erases the author at modassist too.
    erased = wordpress_site.helper("erase", email="erika@example.org")
    (author_id,) = erased["author_ids"]
    assert erased["result"]["items_removed"] is True
    assert erased["result"]["items_retained"] is False
    assert modassist_service.author_row(author_id) == {
        "name": None,
        "email": None,
        "location": None,
        "erased": True,
    }


def test_reader_request_spawns_the_send_with_wordpress_cron(
    wordpress_site: WordPressSite, modassist_service: ModassistService, article: dict[str, Any]
) -> None:
    """With WordPress's own cron, page views start the send in the background.

    Nobody requests wp-cron.php: the comment post and readers' page views spawn it, as on a
    site without a system cron job; each page view answers without waiting for the send.
    """
    wordpress_site.wordpress_cron(on=True)
    try:
        comment_id = wordpress_site.post_comment(
            article["id"],
            "Schön, dass die Stadt endlich handelt. Hoffentlich wird es auch beleuchtet.",
            "Greta Nachtfahrerin",
            "greta@example.org",
        )

        def probe() -> dict[str, Any] | None:
            state = wordpress_site.comment(comment_id)
            # Another reader opens the article: WordPress spawns a cron run if one is due.
            assert requests.get(article["url"], timeout=30).status_code == 200
            return state if state["meta"].get("_modassist_state") == "sent" else None

        state = wait_for(probe, "the spawned cron run to send the comment", timeout_s=60)
    finally:
        wordpress_site.wordpress_cron(on=False)
    assert state["status"] == "unapproved"
    scored(modassist_service, state["meta"]["_modassist_id"])


def test_plugin_speaks_german_and_english(
    wordpress_site: WordPressSite, modassist_service: ModassistService
) -> None:
    assert wordpress_site.helper("labels", locale="de_DE") == {
        "queued": "in der Warteschlange",
        "inflammatory": "aufhetzende Sprache",
    }
    assert wordpress_site.helper("labels", locale="en_US") == {
        "queued": "queued",
        "inflammatory": "inflammatory wording",
    }


def test_plugin_caused_no_php_notices(wordpress_site: WordPressSite) -> None:
    """Run last: every request above went through the plugin with WP_DEBUG on."""
    log = wordpress_site.workdir / "debug.log"
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    assert [line for line in lines if "plugins/modassist/" in line] == []


def test_every_php_file_passes_php_lint(wordpress_available: None) -> None:
    files = sorted(PLUGIN_DIR.rglob("*.php")) + sorted(Path(__file__).parent.rglob("*.php"))
    assert len(files) >= 9
    for path in files:
        done = subprocess.run(["php", "-l", str(path)], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
