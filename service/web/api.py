"""The CMS API (CONTRACT.md §2): signed JSON requests under /api/v1, thin views.

Each view: check the signature and the rate limit, parse the body, call a storage
repository, commit, and only then hand ids to the workers. Logs carry request ids,
site ids, submission ids and statuses, never texts or author data.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request
from sqlalchemy.orm import Session

from service.storage import articles, authors, copies, decisions, submissions
from service.storage.db import session_scope
from service.storage.models import FAILED, Decision, Submission, utcnow
from service.storage.sites import SiteKey
from service.web import cms_auth, errors, payloads
from service.web.context import services
from service.web.errors import ApiError
from service.web.ratelimit import RateLimiter

log = logging.getLogger(__name__)

bp = Blueprint("api", __name__, url_prefix="/api/v1")
errors.install(bp)

OPENAPI_PATH = Path(__file__).with_name("openapi.json")
LIMITER_KEY = "modassist.rate_limiter"
REQUEST_ID_HEADER = "X-Request-Id"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_limiter_lock = threading.Lock()


@bp.before_app_request
def _start_request() -> None:
    if not request.path.startswith(errors.API_PREFIX):
        return
    given = request.headers.get(REQUEST_ID_HEADER, "")
    # Only a harmless id from the caller goes into our logs; anything else gets a new one.
    g.request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
    g.started = time.monotonic()


@bp.after_app_request
def _finish_request(response: Response) -> Response:
    if not request.path.startswith(errors.API_PREFIX) or "request_id" not in g:
        return response
    response.headers[REQUEST_ID_HEADER] = g.request_id
    log.info(
        "api %s %s -> %s",
        request.method,
        request.endpoint or "-",
        response.status_code,
        extra={
            "request_id": g.request_id,
            "status": response.status_code,
            "site_id": g.get("site_id"),
            "submission_id": g.get("submission_id"),
            "duration_ms": round((time.monotonic() - g.started) * 1000, 1),
        },
    )
    return response


def rate_limiter() -> RateLimiter:
    """Return the app's rate limiter, built on first use from the settings."""
    limiter: RateLimiter | None = current_app.extensions.get(LIMITER_KEY)
    if limiter is None:
        with _limiter_lock:
            limiter = current_app.extensions.get(LIMITER_KEY)
            if limiter is None:
                settings = services().settings
                limiter = RateLimiter(settings.redis_url, settings.rate_limit_per_minute)
                current_app.extensions[LIMITER_KEY] = limiter
    return limiter


def _signed(session: Session, *, json_body: bool) -> SiteKey:
    """Check content type, signature and rate limit, in that order; return the site's key."""
    if json_body and request.mimetype != "application/json":
        raise ApiError(415, "unsupported_media_type", "the body must be application/json")
    svc = services()
    key = cms_auth.authenticate(session, svc.settings, cache=svc.key_cache)
    g.site_id = key.site.id
    verdict = rate_limiter().hit(key.site.id)
    if not verdict.allowed:
        raise ApiError(
            429,
            "rate_limited",
            f"more than {rate_limiter().limit} requests this minute; retry later",
            headers={"Retry-After": str(verdict.retry_after_s)},
        )
    return key


def _json(body: dict[str, Any], status: int, headers: dict[str, str] | None = None) -> Response:
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


@bp.post("/submissions")
def create_submission() -> Response:
    """Store a submission (202 new, 200 same again, 409 different text) and queue scoring."""
    svc = services()
    with session_scope(svc.sessions) as session:
        key = _signed(session, json_body=True)
        data = payloads.parse_json_object(request.get_data(cache=True))
        payload = payloads.submission_in(data, svc.settings.max_text_chars)
        try:
            sub, created = submissions.ingest(session, key.site, payload)
        except submissions.ConflictingSubmission as exc:
            g.submission_id = exc.existing.id
            raise ApiError(
                409,
                "conflict",
                "this external_id was sent before with a different text",
                id=exc.existing.id,
            ) from None
        sub_id, status = sub.id, sub.status
    g.submission_id = sub_id
    location = {"Location": f"{bp.url_prefix}/submissions/{sub_id}"}
    if not created:
        return _json({"id": sub_id, "status": status}, 200, location)
    # Committed above: the worker can never be handed an id that is not stored.
    svc.dispatcher.enqueue_score(sub_id)
    return _json({"id": sub_id, "status": status}, 202, location)


@bp.get("/submissions/<submission_id>")
def get_submission(submission_id: str) -> Response:
    """Return a submission of the signing site with its result and decision when present."""
    svc = services()
    with session_scope(svc.sessions) as session:
        key = _signed(session, json_body=False)
        sub = submissions.get_for_site(session, key.site.id, submission_id)
        if sub is None:
            raise ApiError(404, "not_found", "no such submission for this site")
        g.submission_id = sub.id
        body = submission_view(session, sub)
    return _json(body, 200)


def submission_view(session: Session, sub: Submission) -> dict[str, Any]:
    """Render a submission for the CMS: status, result, decision, error."""
    body: dict[str, Any] = {"id": sub.id, "external_id": sub.external_id, "status": sub.status}
    if sub.result is not None:
        body["result"] = sub.result.data
    decision = decisions.current_decision(session, sub.id)
    if decision is not None:
        body["decision"] = decision_view(session, decision)
    if sub.status == FAILED:
        body["error"] = sub.error or "scoring failed"
    return body


def decision_view(session: Session, decision: Decision) -> dict[str, Any]:
    """Render a decision with the state of its callback delivery."""
    delivery = decisions.delivery_of(session, decision)
    return {
        "id": decision.id,
        "decision": decision.decision,
        "reason": decision.reason,
        "decided_at": decision.created_at.isoformat().replace("+00:00", "Z"),
        "delivery": (
            None
            if delivery is None
            else {"id": delivery.id, "status": delivery.status, "attempts": delivery.attempts}
        ),
    }


@bp.post("/submissions/<submission_id>/decision")
def decide_submission(submission_id: str) -> Response:
    """Record a moderator's decision taken in the CMS (201) and queue its callback."""
    svc = services()
    with session_scope(svc.sessions) as session:
        key = _signed(session, json_body=True)
        data = payloads.parse_json_object(request.get_data(cache=True))
        decision, reason, moderator = payloads.decision_in(data)
        sub = submissions.get_for_site(session, key.site.id, submission_id)
        if sub is None:
            raise ApiError(404, "not_found", "no such submission for this site")
        g.submission_id = sub.id
        actor = f"cms:{key.key_id}" + (f"/{moderator}" if moderator else "")
        try:
            row = decisions.record_decision(
                session, sub, decision, reason, actor=actor[:200], now=utcnow()
            )
        except decisions.AlreadyDecided:
            raise ApiError(409, "already_decided", "this submission is decided already") from None
        body = decision_view(session, row)
        body["submission_id"] = sub.id
    delivery = body["delivery"]
    if delivery is not None:
        svc.dispatcher.enqueue_delivery(delivery["id"])
    return _json(body, 201)


@bp.post("/articles")
def put_article() -> Response:
    """Store a published article (201), or replace one with the same external_id (200)."""
    svc = services()
    with session_scope(svc.sessions) as session:
        key = _signed(session, json_body=True)
        data = payloads.parse_json_object(request.get_data(cache=True))
        article, created = articles.upsert(session, key.site, payloads.article_in(data))
        body = {"id": article.id, "external_id": article.external_id}
    # Copy detection: (re-)index the article's text, after the commit.
    copies.index_article_by_id(svc.sessions, svc.settings.redis_url, body["id"])
    return _json(body, 201 if created else 200)


@bp.delete("/authors/<author_id>")
def erase_author(author_id: str) -> Response:
    """Erase the author's personal data (GDPR); their submissions stay without it."""
    svc = services()
    with session_scope(svc.sessions) as session:
        key = _signed(session, json_body=False)
        erased = authors.erase(session, key.site, author_id, actor=f"cms:{key.key_id}")
        if erased is None:
            raise ApiError(404, "not_found", "no such author for this site")
        body = {
            "author_id": author_id,
            "erased_at": erased.erased_at.isoformat().replace("+00:00", "Z"),
            "submissions": erased.submissions,
        }
    # Copy detection: the erased author's texts leave the copy index, after the commit.
    copies.forget_author_by_id(svc.sessions, svc.settings.redis_url, erased.author_id)
    return _json(body, 200)


@bp.get("/openapi.json")
def openapi() -> Response:
    """Serve the OpenAPI document of this API (unsigned)."""
    document = json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))
    return _json(document, 200)
