"""/healthz, /readyz and /metrics against a real database (both backends) and a real Redis."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

import redis
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from service.settings import Settings
from service.storage.models import (
    CallbackAttempt,
    CallbackDelivery,
    Decision,
    utcnow,
)
from service.web import create_app
from tests.queue_support import add_submission, make_site
from tests.support import free_port


def _value(body: str, name: str, labels: str = "") -> float:
    pattern = re.escape(name) + (re.escape("{" + labels + "}") if labels else "") + r" (\S+)"
    found = re.search(r"^" + pattern + r"$", body, re.MULTILINE)
    assert found, f"{name}{{{labels}}} not in metrics:\n{body}"
    return float(found.group(1))


def test_healthz_and_readyz_answer_without_login(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    answer = client.get("/readyz")
    assert answer.status_code == 200
    assert answer.get_json()["checks"] == {"database": "ok", "broker": "ok"}


def test_readyz_names_the_broker_when_redis_is_down(settings: Settings) -> None:
    app = create_app(replace(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0"))
    try:
        answer = app.test_client().get("/readyz")
    finally:
        app.extensions["modassist"].engine.dispose()
    assert answer.status_code == 503
    checks = answer.get_json()["checks"]
    assert checks["database"] == "ok"
    assert checks["broker"].startswith("down")


def test_readyz_names_the_database_when_it_is_down(settings: Settings) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing"
    app = create_app(replace(settings, database_url=url))
    try:
        answer = app.test_client().get("/readyz")
    finally:
        app.extensions["modassist"].engine.dispose()
    assert answer.status_code == 503
    checks = answer.get_json()["checks"]
    assert checks["database"].startswith("down")
    assert checks["broker"] == "ok"


def test_metrics_count_statuses_queues_latency_and_callbacks(
    client: FlaskClient, db_session: Session, settings: Settings
) -> None:
    site = make_site(db_session, "Tagblatt")
    now = utcnow()
    for index in range(3):
        add_submission(db_session, site, f"q{index}", "Noch nicht bewertet.")
    scored = []
    for index, took_s in enumerate((0.3, 1.5, 40.0)):
        sub = add_submission(
            db_session,
            site,
            f"s{index}",
            "Bewertet.",
            data={"priority": 0.1, "signals": {}, "spans": [], "sentences": []},
            received_at=now - timedelta(seconds=took_s),
        )
        sub.scored_at = now
        scored.append(sub)
    db_session.commit()
    decision = Decision(submission_id=scored[0].id, decision="approved")
    db_session.add(decision)
    db_session.flush()
    delivery = CallbackDelivery(
        decision_id=decision.id, site_id=site.id, url="http://127.0.0.1:9/cb", payload={}
    )
    db_session.add(delivery)
    db_session.flush()
    for code in (None, 503, 200):
        db_session.add(CallbackAttempt(delivery_id=delivery.id, status_code=code, duration_ms=1.0))
    db_session.commit()
    broker = redis.Redis.from_url(settings.redis_url)
    broker.delete("scoring", "delivery", "scoring\x06\x163")
    broker.rpush("scoring", "a", "b")
    broker.rpush("scoring\x06\x163", "c")
    broker.rpush("delivery", "d")
    try:
        body = client.get("/metrics").get_data(as_text=True)
    finally:
        broker.delete("scoring", "delivery", "scoring\x06\x163")
        broker.close()

    assert _value(body, "modassist_submissions", 'status="queued"') == 3
    assert _value(body, "modassist_submissions", 'status="scored"') == 3
    assert _value(body, "modassist_queue_depth", 'queue="scoring"') == 3
    assert _value(body, "modassist_queue_depth", 'queue="delivery"') == 1
    assert _value(body, "modassist_scoring_latency_seconds_bucket", 'le="0.5"') == 1
    assert _value(body, "modassist_scoring_latency_seconds_bucket", 'le="2.0"') == 2
    assert _value(body, "modassist_scoring_latency_seconds_bucket", 'le="+Inf"') == 3
    assert abs(_value(body, "modassist_scoring_latency_seconds_gsum") - 41.8) < 0.01
    assert _value(body, "modassist_callback_deliveries", 'status="pending"') == 1
    for outcome in ("success", "http_error", "error"):
        assert _value(body, "modassist_callback_attempts_total", f'outcome="{outcome}"') == 1
    assert _value(body, "modassist_metrics_source_up", 'source="redis"') == 1
    assert "Bewertet" not in body


def test_metrics_still_answer_when_redis_is_down(settings: Settings) -> None:
    app = create_app(replace(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0"))
    try:
        answer = app.test_client().get("/metrics")
    finally:
        app.extensions["modassist"].engine.dispose()
    body = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert _value(body, "modassist_metrics_source_up", 'source="redis"') == 0
    assert _value(body, "modassist_metrics_source_up", 'source="database"') == 1
