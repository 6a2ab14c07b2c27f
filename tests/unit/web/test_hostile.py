"""Hostile input on the web app: replays, forged signatures, SQL strings, markup, cookies.

Replays: a signed request sent again within the 300 s window is accepted again, by design
(README "What it holds"): every CMS call is idempotent, so a replay changes nothing twice,
and a CMS retrying after a timeout must not be refused. The tests here prove "nothing twice".
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from service.settings import Settings
from service.signing import signed_headers
from service.storage import sites
from service.storage.models import Article, Author, Decision, Submission
from service.web import create_app
from tests.conftest import TEST_SECRET_KEY
from tests.queue_support import add_submission, make_site, make_user, result_data
from tests.unit.web.queue_fixtures import login
from tests.unit.web.test_api import Cms, _letter, _make_cms, cms

__all__ = ["cms"]  # the signing CMS client fixture of the API tests

SQL = [
    "'; DROP TABLE submissions; --",
    '" OR 1=1 --',
    "1); DELETE FROM authors WHERE (1=1",
    "x' UNION SELECT secret_enc FROM sites --",
    "\\'; TRUNCATE sites CASCADE; --",
    "%' AND pg_sleep(5) --",
]
MARKUP = '<script>alert("zz{0}")</script><img src=x onerror=alert(1)>"\'&'


def _replay(cms: Cms, method: str, path: str, body: Any, times: int = 4) -> list[int]:
    """Send one signed request, then the very same bytes and headers again."""
    raw = b"" if body is None else json.dumps(body).encode()
    headers = signed_headers(cms.key_id, cms.secret, raw, time.time())
    kwargs: dict[str, Any] = {"headers": headers}
    if raw:
        kwargs.update(data=raw, content_type="application/json")
    return [
        cms.client.open(f"/api/v1{path}", method=method, **kwargs).status_code for _ in range(times)
    ]


def test_replayed_requests_change_nothing_twice(cms: Cms) -> None:
    assert _replay(cms, "POST", "/submissions", _letter("r-1")) == [202, 200, 200, 200]
    assert cms.count(Submission) == 1 and cms.count(Author) == 1
    assert len(cms.sent) == 1  # one scoring task, not four
    [submission_id] = [args[0] for _task, args in cms.sent]
    decision = {"decision": "rejected", "reason": "Beleidigung"}
    assert _replay(cms, "POST", f"/submissions/{submission_id}/decision", decision) == [
        201,
        409,
        409,
        409,
    ]
    assert cms.count(Decision) == 1 and len(cms.sent) == 2  # one callback
    article = {"external_id": "a-1", "title": "T", "text": "Artikeltext."}
    assert _replay(cms, "POST", "/articles", article) == [201, 200, 200, 200]
    assert cms.count(Article) == 1
    assert _replay(cms, "DELETE", "/authors/u-1", None) == [200] * 4
    assert cms.count(Author) == 1


def _sig(secret: str, stamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def test_forged_signatures_are_401(cms: Cms, settings: Settings, engine: sa.Engine) -> None:
    other = _make_cms(settings, engine, name="Kurier")
    body = json.dumps(_letter("f-1")).encode()
    now = str(int(time.time()))
    old = str(int(time.time()) - settings.signature_tolerance_s - 5)
    forged = [
        # The other paper's secret under this paper's key id.
        {"X-Modassist-Key": cms.key_id, "X-Modassist-Timestamp": now},
        # A signature made for another timestamp, sent with a fresh one.
        {
            "X-Modassist-Key": cms.key_id,
            "X-Modassist-Timestamp": now,
            "sig": _sig(cms.secret, old, body),
        },
        # A stale timestamp with a correct signature over it.
        {
            "X-Modassist-Key": cms.key_id,
            "X-Modassist-Timestamp": old,
            "sig": _sig(cms.secret, old, body),
        },
        # Bare hex, upper-case prefix, truncated, empty, not a number.
        {
            "X-Modassist-Key": cms.key_id,
            "X-Modassist-Timestamp": now,
            "sig": _sig(cms.secret, now, body)[7:],
        },
        {
            "X-Modassist-Key": cms.key_id,
            "X-Modassist-Timestamp": now,
            "sig": _sig(cms.secret, now, body)[:-2],
        },
        {"X-Modassist-Key": cms.key_id, "X-Modassist-Timestamp": now, "sig": ""},
        {
            "X-Modassist-Key": cms.key_id,
            "X-Modassist-Timestamp": "1e9",
            "sig": _sig(cms.secret, "1e9", body),
        },
        {
            "X-Modassist-Key": cms.key_id,
            "X-Modassist-Timestamp": " " + now,
            "sig": _sig(cms.secret, " " + now, body),
        },
        # The key id of one paper with the other's key id's signature.
        {
            "X-Modassist-Key": other.key_id,
            "X-Modassist-Timestamp": now,
            "sig": _sig(cms.secret, now, body),
        },
    ]
    for headers in forged:
        sig = headers.pop("sig", None) or _sig(other.secret, now, body)
        headers["X-Modassist-Signature"] = sig
        answer = cms.client.post(
            "/api/v1/submissions", data=body, content_type="application/json", headers=headers
        )
        assert answer.status_code == 401, (headers, answer.get_data(as_text=True))
        assert answer.get_json()["error"]["code"]
    assert cms.count(Submission) == 0 and cms.sent == [] and other.sent == []


def test_sql_strings_in_every_field_are_stored_verbatim(cms: Cms) -> None:
    stored = []
    for n, evil in enumerate(SQL):
        body = {
            "external_id": f"{evil}-{n}",
            "text": f"Text {evil}",
            "kind": "comment",
            "title": evil,
            "author": {"id": f"{evil}#{n}", "name": evil, "email": evil, "location": evil},
            "article": {"external_id": evil, "title": evil},
        }
        answer = cms.request("POST", "/submissions", body)
        assert answer.status_code == 202, answer.get_data(as_text=True)
        stored.append((answer.get_json()["id"], n, evil))
    assert cms.count(Submission) == len(SQL)
    with Session(cms.engine) as session:
        for submission_id, n, evil in stored:
            row = session.get(Submission, submission_id)
            assert row is not None and row.author is not None
            assert (row.external_id, row.text, row.title) == (f"{evil}-{n}", f"Text {evil}", evil)
            assert (row.author.name, row.author.email, row.author.location) == (evil,) * 3
            assert row.author.external_id == f"{evil}#{n}"
            assert row.article_external_id == evil and row.article_title == evil
            got = cms.request("GET", f"/submissions/{submission_id}").get_json()
            assert got["external_id"] == f"{evil}-{n}"
    # The author whose id is an SQL string is erased, and only that one.
    evil_id = f"{SQL[2]}#2"
    assert cms.request("DELETE", f"/authors/{evil_id.replace('#', '%23')}").status_code == 200
    with Session(cms.engine) as session:
        names = session.scalars(sa.select(Author.name).order_by(Author.name)).all()
    assert sorted(n for n in names if n) == sorted(e for i, e in enumerate(SQL) if i != 2)


def test_markup_in_every_field_is_text_on_every_page(
    client: FlaskClient, db_session: Session
) -> None:
    site = make_site(db_session, MARKUP.format("site"))
    make_user(db_session, site, "mod@example.org", role="admin")
    text = "Am Anfang " + MARKUP.format("text") + " am Ende."
    author = Author(
        site_id=site.id,
        external_id=MARKUP.format("aid"),
        name=MARKUP.format("name"),
        email=MARKUP.format("mail"),
        location=MARKUP.format("place"),
    )
    db_session.add(author)
    db_session.flush()
    data = result_data(
        text,
        {"toxicity": 0.9, "inflammatory": 0.7},
        spans=[{"start": 10, "end": 40, "signal": "toxicity", "reason": MARKUP.format("reason")}],
        sentences=[
            {"start": 0, "end": len(text), "claim": "attributed", "source": MARKUP.format("src")}
        ],
    )
    sub = add_submission(db_session, site, MARKUP.format("ext"), text, data=data, author=author)
    sub.title = MARKUP.format("title")
    sub.article_title = MARKUP.format("article")
    db_session.commit()
    assert login(client, "mod@example.org") == 302
    pages = {
        "queue": client.get("/queue/"),
        "item": client.get(f"/queue/items/{sub.id}"),
        "admin site": client.get(f"/admin/{site.id}/"),
    }
    for name, page in pages.items():
        assert page.status_code == 200, name
        html = page.get_data(as_text=True)
        assert "<script>alert" not in html, name
        assert "onerror=alert" not in html.replace("onerror=alert(1)&gt;", ""), name
    item = pages["item"].get_data(as_text=True)
    for field in ("text", "name", "reason"):
        assert f"&lt;script&gt;alert(&#34;zz{field}&#34;)" in item or (
            f"&lt;script&gt;alert(&quot;zz{field}&quot;)" in item
        ), field


def test_session_cookie_is_httponly_samesite_and_secure_when_configured(
    settings: Settings, db_session: Session
) -> None:
    site = make_site(db_session, "Tagblatt")
    make_user(db_session, site, "anna@example.org")
    for secure in (False, True):
        app = create_app(replace(settings, secure_cookies=secure, secret_key=TEST_SECRET_KEY))
        app.config["TESTING"] = True
        try:
            client = app.test_client()
            assert login(client, "anna@example.org") == 302
            cookie = client.get_cookie("session")
            assert cookie is not None
            assert cookie.http_only and cookie.same_site == "Lax"
            assert cookie.secure is secure
        finally:
            app.extensions["modassist"].engine.dispose()


def test_other_papers_key_cannot_reach_this_papers_rows(
    cms: Cms, settings: Settings, engine: sa.Engine
) -> None:
    created = cms.request("POST", "/submissions", _letter("mine")).get_json()["id"]
    with Session(engine) as session:
        _site, secret = sites.create_site(session, TEST_SECRET_KEY, "Fremd", None)
        session.commit()
        key_id = _site.key_id
    for method, path, body in [
        ("GET", f"/submissions/{created}", None),
        ("POST", f"/submissions/{created}/decision", {"decision": "approved"}),
    ]:
        answer = cms.request(method, path, body, key_id=key_id, secret=secret)
        assert answer.status_code == 404
    assert cms.count(Decision) == 0
