"""The CMS API through Flask's test client, on a real database and a real Redis."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from service.dispatch import DELIVER_CALLBACK, SCORE_SUBMISSION, Dispatcher
from service.settings import Settings
from service.signing import signed_headers
from service.storage import sites
from service.storage.db import make_session_factory
from service.storage.models import (
    Article,
    AuditEvent,
    Author,
    CallbackDelivery,
    Decision,
    Submission,
)
from service.web import create_app
from service.web.api import LIMITER_KEY
from service.web.context import Services
from service.web.ratelimit import RateLimiter
from tests.conftest import TEST_SECRET_KEY
from tests.support import RedisServer
from tests.unit.storage.factories import score


@dataclass
class Cms:
    """A signing CMS client for one site, plus what the app handed to the workers."""

    client: FlaskClient
    app: Flask
    engine: sa.Engine
    key_id: str
    secret: str
    site_id: str
    sent: list[tuple[str, list[Any]]]
    # Row counts at the moment each task was sent: proves the commit came first.
    rows_at_send: list[int]

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        content_type: str = "application/json",
        now: float | None = None,
        secret: str | None = None,
        key_id: str | None = None,
    ) -> Any:
        data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        headers = signed_headers(
            key_id or self.key_id, secret or self.secret, data, time.time() if now is None else now
        )
        kwargs: dict[str, Any] = {"headers": headers}
        if method not in ("GET", "DELETE") or data:
            kwargs.update(data=data, content_type=content_type)
        return self.client.open(f"/api/v1{path}", method=method, **kwargs)

    def count(self, model: Any) -> int:
        with self.engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(model)) or 0)


def _letter(external_id: str = "c-1", text: str = "Sehr geehrte Redaktion, ...") -> dict[str, Any]:
    return {
        "external_id": external_id,
        "text": text,
        "kind": "letter",
        "title": "Zum Artikel",
        "author": {"id": "u-1", "name": "Anna Muster", "email": "a@m.de", "location": "Ulm"},
        "article": {"external_id": "a-9", "url": "https://zeitung.example/a-9", "title": "A"},
        "submitted_at": "2025-07-23T08:15:00+02:00",
    }


def _make_cms(settings: Settings, engine: sa.Engine, name: str = "Tagblatt") -> Cms:
    sessions = make_session_factory(engine)
    with sessions() as session:
        site, secret = sites.create_site(
            session, TEST_SECRET_KEY, name, "http://127.0.0.1:9/callback"
        )
        session.commit()
    sent: list[tuple[str, list[Any]]] = []
    rows_at_send: list[int] = []

    def send(task: str, args: list[Any], _queue: str) -> None:
        with engine.connect() as conn:
            rows_at_send.append(int(conn.scalar(select(func.count()).select_from(Submission)) or 0))
        sent.append((task, args))

    services = Services(settings, engine, sessions, Dispatcher(send))
    app = create_app(settings, services)
    app.config["TESTING"] = True
    return Cms(app.test_client(), app, engine, site.key_id, secret, site.id, sent, rows_at_send)


@pytest.fixture
def cms(settings: Settings, engine: sa.Engine) -> Iterator[Cms]:
    yield _make_cms(settings, engine)


def _error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    error: dict[str, Any] = response.get_json()["error"]
    assert isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code
    return error


def test_new_submission_is_stored_then_queued(cms: Cms) -> None:
    response = cms.request("POST", "/submissions", _letter())
    assert response.status_code == 202
    body = response.get_json()
    assert body["status"] == "queued" and len(body["id"]) == 32
    assert cms.sent == [(SCORE_SUBMISSION, [body["id"]])]
    # The row was committed (visible on another connection) before the task was sent.
    assert cms.rows_at_send == [1]
    with cms.engine.connect() as conn:
        row = conn.execute(select(Submission)).one()
        assert (row.kind, row.article_external_id, row.title) == ("letter", "a-9", "Zum Artikel")
        assert row.submitted_at is not None and row.submitted_at.hour in (6, 8)
        author = conn.execute(select(Author)).one()
        assert (author.external_id, author.location) == ("u-1", "Ulm")


def test_same_again_is_200_with_the_same_id_and_no_second_task(cms: Cms) -> None:
    first = cms.request("POST", "/submissions", _letter()).get_json()
    again = cms.request("POST", "/submissions", _letter())
    assert again.status_code == 200 and again.get_json() == first
    assert len(cms.sent) == 1 and cms.count(Submission) == 1


def test_concurrent_identical_posts_store_one_row_and_queue_once(cms: Cms) -> None:
    body = json.dumps(_letter("c-race")).encode()
    answers: list[tuple[int, str]] = []
    barrier = threading.Barrier(4)

    def post() -> None:
        client = cms.app.test_client()
        headers = signed_headers(cms.key_id, cms.secret, body, time.time())
        barrier.wait()
        response = client.post(
            "/api/v1/submissions", data=body, headers=headers, content_type="application/json"
        )
        answers.append((response.status_code, response.get_json()["id"]))

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(status for status, _ in answers) == [200, 200, 200, 202]
    assert len({ident for _, ident in answers}) == 1
    assert cms.count(Submission) == 1 and len(cms.sent) == 1


def test_same_external_id_with_another_text_is_409(cms: Cms) -> None:
    first = cms.request("POST", "/submissions", _letter()).get_json()
    response = cms.request("POST", "/submissions", _letter(text="Ganz anders."))
    error = _error(response, 409, "conflict")
    assert error["id"] == first["id"]
    assert cms.count(Submission) == 1 and len(cms.sent) == 1


UNAUTHORIZED: list[tuple[dict[str, Any], str]] = [
    ({"secret": "wrong-secret"}, "bad_signature"),
    ({"key_id": "mk_nobody"}, "bad_signature"),
    ({"now": -301.0}, "stale_timestamp"),
    ({"now": 400.0}, "stale_timestamp"),
]


def test_bad_signature_unknown_key_and_stale_timestamp_are_401(cms: Cms) -> None:
    for change, code in UNAUTHORIZED:
        if "now" in change:
            change = {"now": time.time() + change["now"]}
        response = cms.request("POST", "/submissions", _letter(), **change)
        _error(response, 401, code)
    assert cms.count(Submission) == 0 and cms.count(Author) == 0 and cms.sent == []


def test_missing_headers_and_tampered_body_are_401(cms: Cms) -> None:
    body = json.dumps(_letter()).encode()
    response = cms.client.post("/api/v1/submissions", data=body, content_type="application/json")
    _error(response, 401, "missing_signature")
    headers = signed_headers(cms.key_id, cms.secret, body, time.time())
    tampered = body.replace(b"Redaktion", b"Redaktiom")
    response = cms.client.post(
        "/api/v1/submissions", data=tampered, content_type="application/json", headers=headers
    )
    _error(response, 401, "bad_signature")
    assert cms.count(Submission) == 0


def test_oversized_text_and_body_are_413(cms: Cms, settings: Settings) -> None:
    too_long = "x" * (settings.max_text_chars + 1)
    response = cms.request("POST", "/submissions", _letter(text=too_long))
    _error(response, 413, "text_too_large")
    huge = b'{"pad": "' + b"y" * settings.max_body_bytes + b'"}'
    response = cms.request("POST", "/submissions", raw=huge)
    _error(response, 413, "body_too_large")
    assert cms.count(Submission) == 0 and cms.count(Author) == 0


def test_text_exactly_at_the_limit_is_accepted(cms: Cms, settings: Settings) -> None:
    # Umlauts travel as \u00e4 escapes: the body is about six bytes per character.
    response = cms.request("POST", "/submissions", _letter(text="ä" * settings.max_text_chars))
    assert response.status_code == 202


def test_wrong_content_type_is_415(cms: Cms) -> None:
    body = json.dumps(_letter()).encode()
    response = cms.request("POST", "/submissions", raw=body, content_type="text/plain")
    _error(response, 415, "unsupported_media_type")
    response = cms.request(
        "POST",
        "/submissions",
        raw=b"external_id=1",
        content_type="application/x-www-form-urlencoded",
    )
    _error(response, 415)
    assert cms.count(Submission) == 0


MALFORMED: list[tuple[bytes, str | None]] = [
    (b'{"external_id": "c-1", "text": ', "malformed_json"),
    (b"\xff\xfe{}", "invalid_encoding"),
    (b'["a list"]', "not_an_object"),
    (b'{"a": NaN}', "malformed_json"),
    (b"", "malformed_json"),
    (b'{"a": ' * 40 + b"1" + b"}" * 40, "too_deep"),
    (b"[" * 100_000 + b"]" * 100_000, None),
]


def test_malformed_bodies_are_400(cms: Cms) -> None:
    for raw, code in MALFORMED:
        _error(cms.request("POST", "/submissions", raw=raw), 400, code)
    assert cms.count(Submission) == 0


INVALID: list[tuple[dict[str, Any], str]] = [
    ({"external_id": None}, "external_id"),
    ({"external_id": ""}, "external_id"),
    ({"external_id": "x" * 201}, "external_id"),
    ({"external_id": ["c-1"]}, "external_id"),
    ({"text": None}, "text"),
    ({"text": 42}, "text"),
    ({"text": "   "}, "text"),
    ({"text": "NUL \x00 im Text"}, "text"),
    ({"text": "lone \ud800 surrogate"}, "text"),
    ({"kind": "tweet"}, "kind"),
    ({"kind": None}, "kind"),
    ({"title": 5}, "title"),
    ({"author": "Anna"}, "author"),
    ({"author": {"name": ["A"]}}, "author.name"),
    ({"author": {"email": "x" * 501}}, "author.email"),
    ({"article": {"url": "javascript:alert(1)"}}, "article.url"),
    ({"submitted_at": "gestern"}, "submitted_at"),
    ({"submitted_at": 1690000000}, "submitted_at"),
]


def test_invalid_fields_are_422_naming_the_field(cms: Cms) -> None:
    for change, field in INVALID:
        error = _error(cms.request("POST", "/submissions", {**_letter(), **change}), 422)
        assert error["code"] == "invalid_field" and error["field"] == field, change
        assert field in error["message"]
    assert cms.count(Submission) == 0 and cms.count(Author) == 0


def test_unknown_fields_are_ignored_and_integer_ids_accepted(cms: Cms) -> None:
    body = {**_letter(), "external_id": 1234, "color": "blue", "author": {"id": 7}}
    response = cms.request("POST", "/submissions", body)
    assert response.status_code == 202
    again = cms.request("POST", "/submissions", {**body, "external_id": "1234"})
    assert again.status_code == 200


def test_rate_limit_is_429_with_retry_after(
    settings: Settings, engine: sa.Engine, redis_server: RedisServer
) -> None:
    cms = _make_cms(replace(settings, rate_limit_per_minute=3), engine)
    fixed = 1_800_000_000.0 + 20  # 40 s before the window ends, whatever the wall clock
    cms.app.extensions[LIMITER_KEY] = RateLimiter(redis_server.url, 3, clock=lambda: fixed)
    statuses = [
        cms.request("POST", "/submissions", _letter(f"c-{i}")).status_code for i in range(4)
    ]
    assert statuses == [202, 202, 202, 429]
    response = cms.request("POST", "/submissions", _letter("c-9"))
    _error(response, 429, "rate_limited")
    assert response.headers["Retry-After"] == "40"
    assert cms.count(Submission) == 3
    # Another site has its own budget.
    other = _make_cms(replace(settings, rate_limit_per_minute=3), engine, "Kurier")
    other.app.extensions[LIMITER_KEY] = cms.app.extensions[LIMITER_KEY]
    assert other.request("POST", "/submissions", _letter("c-0")).status_code == 202


def test_ingest_fails_open_when_redis_is_down(
    settings: Settings, engine: sa.Engine, redis_server: RedisServer
) -> None:
    cms = _make_cms(settings, engine)
    assert cms.request("POST", "/submissions", _letter("c-1")).status_code == 202
    redis_server.stop()
    try:
        for i in range(2, 5):
            assert cms.request("POST", "/submissions", _letter(f"c-{i}")).status_code == 202
        verdict = cms.app.extensions[LIMITER_KEY].hit(cms.site_id)
        assert verdict.backend == "local"
    finally:
        redis_server.start()
    assert cms.count(Submission) == 4


def test_local_window_still_limits_when_redis_is_down(settings: Settings) -> None:
    limiter = RateLimiter("redis://127.0.0.1:1/0", 2, clock=lambda: 1_800_000_000.0)
    verdicts = [limiter.hit("site") for _ in range(3)]
    assert [v.allowed for v in verdicts] == [True, True, False]
    assert {v.backend for v in verdicts} == {"local"}


def test_get_returns_status_result_and_decision(cms: Cms) -> None:
    created = cms.request("POST", "/submissions", _letter()).get_json()
    response = cms.request("GET", f"/submissions/{created['id']}")
    assert response.status_code == 200
    assert response.get_json() == {"id": created["id"], "external_id": "c-1", "status": "queued"}
    sessions = make_session_factory(cms.engine)
    with sessions() as session:
        sub = session.get(Submission, created["id"])
        assert sub is not None
        score(session, sub, toxicity=0.9)
    body = cms.request("GET", f"/submissions/{created['id']}").get_json()
    assert body["status"] == "scored"
    assert body["result"]["signals"]["toxicity"] == {
        "score": 0.9,
        "flagged": True,
        "threshold": 0.5,
    }
    decided = cms.request(
        "POST", f"/submissions/{created['id']}/decision", {"decision": "rejected", "reason": "Ton"}
    )
    assert decided.status_code == 201
    body = cms.request("GET", f"/submissions/{created['id']}").get_json()
    assert body["status"] == "rejected"
    assert body["decision"]["decision"] == "rejected" and body["decision"]["reason"] == "Ton"
    assert body["decision"]["delivery"]["status"] == "pending"


def test_failed_submission_shows_its_error(cms: Cms) -> None:
    created = cms.request("POST", "/submissions", _letter()).get_json()
    with cms.engine.begin() as conn:
        conn.execute(
            sa.update(Submission)
            .where(Submission.id == created["id"])
            .values(status="failed", error="scoring timed out")
        )
    body = cms.request("GET", f"/submissions/{created['id']}").get_json()
    assert body["status"] == "failed" and body["error"] == "scoring timed out"


def test_another_sites_submission_is_404(cms: Cms, settings: Settings, engine: sa.Engine) -> None:
    created = cms.request("POST", "/submissions", _letter()).get_json()
    other = _make_cms(settings, engine, "Kurier")
    _error(other.request("GET", f"/submissions/{created['id']}"), 404, "not_found")
    decide = other.request(
        "POST", f"/submissions/{created['id']}/decision", {"decision": "approved"}
    )
    _error(decide, 404, "not_found")
    _error(other.request("GET", "/submissions/nonexistent"), 404)
    assert cms.count(Decision) == 0


def test_decision_api_records_once_and_queues_the_callback(cms: Cms) -> None:
    created = cms.request("POST", "/submissions", _letter()).get_json()
    response = cms.request(
        "POST",
        f"/submissions/{created['id']}/decision",
        {"decision": "approved", "moderator": "redaktion-3"},
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["decision"] == "approved" and body["submission_id"] == created["id"]
    delivery_id = body["delivery"]["id"]
    assert cms.sent[-1] == (DELIVER_CALLBACK, [delivery_id, 0.0])
    with cms.engine.connect() as conn:
        delivery = conn.execute(select(CallbackDelivery)).one()
        assert delivery.payload["submission"] == {"id": created["id"], "external_id": "c-1"}
        assert delivery.payload["decision"] == "approved"
        actors = conn.scalars(
            select(AuditEvent.actor).where(AuditEvent.action == "submission.decided")
        ).all()
        assert actors == [f"cms:{cms.key_id}/redaktion-3"]
    again = cms.request("POST", f"/submissions/{created['id']}/decision", {"decision": "rejected"})
    _error(again, 409, "already_decided")
    assert cms.count(Decision) == 1 and cms.count(CallbackDelivery) == 1
    invalid = cms.request("POST", f"/submissions/{created['id']}/decision", {"decision": "maybe"})
    assert _error(invalid, 422)["field"] == "decision"


def test_delete_author_erases_personal_data(cms: Cms) -> None:
    cms.request("POST", "/submissions", _letter("c-1"))
    cms.request("POST", "/submissions", _letter("c-2", text="Noch ein Brief."))
    response = cms.request("DELETE", "/authors/u-1")
    assert response.status_code == 200
    assert response.get_json()["submissions"] == 2
    with cms.engine.connect() as conn:
        author = conn.execute(select(Author)).one()
        assert (author.name, author.email, author.location) == (None, None, None)
    assert cms.count(Submission) == 2
    _error(cms.request("DELETE", "/authors/nobody"), 404, "not_found")


def test_articles_201_then_200(cms: Cms) -> None:
    article = {
        "external_id": "a-1",
        "title": "Titel",
        "text": "Der Artikeltext.",
        "url": "https://z.de/a",
    }
    first = cms.request("POST", "/articles", article)
    assert first.status_code == 201
    second = cms.request(
        "POST", "/articles", {**article, "text": "Neu.", "published_at": "2025-07-23"}
    )
    assert second.status_code == 200 and second.get_json()["id"] == first.get_json()["id"]
    assert cms.count(Article) == 1
    missing = cms.request("POST", "/articles", {"external_id": "a-2", "text": "x"})
    assert _error(missing, 422)["field"] == "title"


def test_unknown_route_and_wrong_method_are_json(cms: Cms) -> None:
    _error(cms.client.get("/api/v1/nothing-here"), 404, "not_found")
    response = cms.client.put("/api/v1/submissions")
    _error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


def test_unexpected_error_is_a_generic_500(cms: Cms, caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> str:
        raise RuntimeError("secret detail: Anna Muster wrote this")

    # A fresh app: routes can only be added before the first request.
    cms.app = create_app(cms.app.extensions["modassist"].settings, cms.app.extensions["modassist"])
    cms.app.config["PROPAGATE_EXCEPTIONS"] = False
    cms.app.add_url_rule("/api/v1/broken", view_func=broken)
    cms.app.add_url_rule("/broken-page", view_func=broken)
    cms.client = cms.app.test_client()
    response = cms.client.get("/api/v1/broken")
    error = _error(response, 500, "internal_error")
    assert "Anna" not in response.get_data(as_text=True) and "secret" not in error["message"]
    # Outside the API the pages keep their own error handling.
    page = cms.client.get("/broken-page")
    assert page.status_code == 500 and page.mimetype != "application/json"
    # The log names the error and where it happened, not what it said (texts, names).
    logged = [r for r in caplog.records if r.name == "service.web.errors"]
    assert logged and all("Anna" not in r.getMessage() for r in logged)
    assert all(r.exc_info is None for r in logged)


def test_responses_carry_a_request_id(cms: Cms) -> None:
    response = cms.request("GET", "/submissions/x")
    assert len(response.headers["X-Request-Id"]) == 32
    given = cms.client.get("/api/v1/openapi.json", headers={"X-Request-Id": "cms-42"})
    assert given.headers["X-Request-Id"] == "cms-42"


def test_logs_carry_ids_and_statuses_never_text_or_author_data(
    cms: Cms, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    created = cms.request("POST", "/submissions", _letter()).get_json()
    cms.request("POST", "/submissions", _letter(text="Sehr geehrte Damen, anders."))
    cms.request("DELETE", "/authors/u-1")
    logged = " ".join(f"{r.getMessage()} {sorted(vars(r).items())}" for r in caplog.records)
    assert created["id"] in logged and "202" in logged and "409" in logged
    for private in ("Sehr geehrte", "Anna Muster", "a@m.de", "Ulm"):
        assert private not in logged
