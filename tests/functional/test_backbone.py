"""The whole path on real parts: signed webhook → PostgreSQL → Redis → Celery worker →
result → decision → signed callback to a CMS on loopback; and what happens when a worker
dies, Redis is down or the CMS fails.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from sqlalchemy.orm import Session

from service.dispatch import Dispatcher, celery_sender
from service.scoring.types import SIGNALS
from service.settings import Settings
from service.storage.models import (
    DELIVERED,
    QUEUED,
    SCORED,
    CallbackAttempt,
    CallbackDelivery,
    Result,
    Site,
    Submission,
)
from service.storage.submissions import AuthorIn, SubmissionIn, ingest
from tests.cms import CmsReceiver
from tests.functional.conftest import DemoSite, ServiceProcess, WebServer, count_rows
from tests.support import SEED_LETTER, RedisServer

pytestmark = pytest.mark.slow

SCORED_WITHIN_S = 90.0


def _letter_payload(external_id: str) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "text": SEED_LETTER.read_text(encoding="utf-8"),
        "kind": "letter",
        "author": {"id": "reader-1", "name": "Jürgen Meyer", "location": "Itzehoe"},
        "article": {"external_id": "a-1", "title": "China und der Krieg"},
    }


def test_reference_letter_is_scored_and_its_decision_reaches_the_cms(
    web_server: WebServer,
    start_worker: Callable[..., ServiceProcess],
    signed_post: Callable[..., requests.Response],
    signed_get: Callable[..., requests.Response],
    cms: CmsReceiver,
    demo_site: DemoSite,
    wait_until: Callable[..., Any],
) -> None:
    start_worker()
    created = signed_post(f"{web_server.url}/api/v1/submissions", _letter_payload("leser-1"))
    assert created.status_code == 202, created.text
    submission_id = created.json()["id"]
    assert created.json()["status"] == QUEUED

    def scored() -> dict[str, Any] | None:
        body: dict[str, Any] = signed_get(
            f"{web_server.url}/api/v1/submissions/{submission_id}"
        ).json()
        return body if body["status"] == SCORED else None

    body = wait_until(scored, SCORED_WITHIN_S, "the letter to be scored")
    result = body["result"]
    assert result["id"] == submission_id
    assert set(SIGNALS) <= set(result["signals"])
    assert result["language"] == "de"
    assert 0.0 <= result["priority"] <= 1.0

    decided = signed_post(
        f"{web_server.url}/api/v1/submissions/{submission_id}/decision",
        {"decision": "rejected", "reason": "Zu lang"},
    )
    assert decided.status_code == 201, decided.text

    [callback] = wait_until(lambda: cms.accepted, 30, "the callback")
    assert callback.signature_valid
    assert callback.headers["X-Modassist-Key"] == demo_site.key_id
    sent = callback.json()
    assert sent["event"] == "submission.decided"
    assert sent["submission"] == {"id": submission_id, "external_id": "leser-1"}
    assert sent["decision"] == "rejected"
    assert sent["reason"] == "Zu lang"

    def delivered() -> bool:
        body = signed_get(f"{web_server.url}/api/v1/submissions/{submission_id}").json()
        return bool(body["decision"]["delivery"]["status"] == DELIVERED)

    wait_until(delivered, 10, "the delivery to be recorded")


def _seed(
    sessions: Callable[[], Session], settings: Settings, site_id: str, count: int, prefix: str
) -> list[str]:
    """Store submissions as the API does and enqueue them on the real broker."""
    ids = []
    with sessions() as session:
        site = session.get(Site, site_id)
        assert site is not None
        for n in range(count):
            row, _created = ingest(
                session,
                site,
                SubmissionIn(
                    external_id=f"{prefix}-{n}",
                    text=f"Leserbrief {n}: Die Stadt hat die Gebühren erhöht, das ist falsch.",
                    kind="letter",
                    author=AuthorIn(external_id=f"r{n}", name="Erika Muster", location="Kiel"),
                ),
            )
            ids.append(row.id)
        session.commit()
    dispatcher = Dispatcher(celery_sender(settings))
    for submission_id in ids:
        assert dispatcher.enqueue_score(submission_id)
    return ids


def _count(sessions: Callable[[], Session], ids: list[str], status: str) -> int:
    return count_rows(
        sessions,
        sa.select(sa.func.count())
        .select_from(Submission)
        .where(Submission.id.in_(ids), Submission.status == status),
    )


def _claimed(sessions: Callable[[], Session], ids: list[str]) -> list[str]:
    """Ids claimed by a worker and not finished: being scored right now."""
    with sessions() as session:
        return list(
            session.scalars(
                sa.select(Submission.id).where(
                    Submission.id.in_(ids),
                    Submission.status == QUEUED,
                    Submission.attempts > 0,
                )
            )
        )


def test_submissions_of_a_killed_worker_are_scored_by_another(
    start_worker: Callable[..., ServiceProcess],
    start_beat: Callable[[], ServiceProcess],
    functional_sessions: Callable[[], Session],
    functional_settings: Settings,
    demo_site: DemoSite,
    wait_until: Callable[..., Any],
) -> None:
    ids = _seed(functional_sessions, functional_settings, demo_site.id, 40, "batch")
    doomed = start_worker()
    # Killed as soon as it has claimed a submission, most likely while scoring it.
    wait_until(lambda: _claimed(functional_sessions, ids), 90, "the first claim", 0.02)
    doomed.kill()
    in_progress = _claimed(functional_sessions, ids)
    assert _count(functional_sessions, ids, QUEUED) > len(ids) // 2, "killed too late"

    # The killed worker's task is not acknowledged; the sweep hands it to the new worker.
    start_worker()
    start_beat()
    wait_until(
        lambda: _count(functional_sessions, ids, SCORED) == len(ids), 120, "every submission"
    )
    results = count_rows(
        functional_sessions,
        sa.select(sa.func.count()).select_from(Result).where(Result.submission_id.in_(ids)),
    )
    assert results == len(ids)
    with functional_sessions() as session:
        for submission_id in in_progress:  # the killed claim, then the new worker's
            row = session.get(Submission, submission_id)
            assert row is not None and row.attempts == 2


def test_submissions_sent_while_redis_is_down_are_scored_when_it_is_back(
    web_server: WebServer,
    start_worker: Callable[..., ServiceProcess],
    start_beat: Callable[[], ServiceProcess],
    signed_post: Callable[..., requests.Response],
    functional_sessions: Callable[[], Session],
    redis_server: RedisServer,
    wait_until: Callable[..., Any],
) -> None:
    worker = start_worker()
    start_beat()
    wait_until(lambda: worker.ready, 90, "the worker to be ready")
    redis_server.stop()
    try:
        answers = [
            signed_post(
                f"{web_server.url}/api/v1/submissions",
                {
                    "external_id": f"down-{n}",
                    "text": f"Kommentar {n} zur Sache.",
                    "kind": "comment",
                },
            )
            for n in range(5)
        ]
    finally:
        redis_server.start()
    assert [a.status_code for a in answers] == [202] * 5, [a.text for a in answers]
    ids = [a.json()["id"] for a in answers]

    wait_until(
        lambda: _count(functional_sessions, ids, SCORED) == len(ids),
        120,
        "the submissions accepted during the outage to be scored",
    )


def test_a_failing_cms_gets_the_callback_once_with_every_attempt_recorded(
    web_server: WebServer,
    start_worker: Callable[..., ServiceProcess],
    start_beat: Callable[[], ServiceProcess],
    signed_post: Callable[..., requests.Response],
    cms: CmsReceiver,
    functional_sessions: Callable[[], Session],
    wait_until: Callable[..., Any],
) -> None:
    cms.fail_times, cms.fail_status = 3, 502
    # A delivery-only worker, as deploy/README.md suggests: it never loads the models.
    worker = start_worker(queues="delivery")
    start_beat()  # its sweep also enqueues due deliveries: still one send per attempt
    created = signed_post(
        f"{web_server.url}/api/v1/submissions",
        {"external_id": "cb-1", "text": "Ein Kommentar.", "kind": "comment"},
    )
    assert created.status_code == 202, created.text
    submission_id = created.json()["id"]
    decided = signed_post(
        f"{web_server.url}/api/v1/submissions/{submission_id}/decision",
        {"decision": "approved"},
    )
    assert decided.status_code == 201, decided.text
    delivery_id = decided.json()["delivery"]["id"]

    def delivery() -> CallbackDelivery:
        with functional_sessions() as session:
            row = session.get(CallbackDelivery, delivery_id)
            assert row is not None
            return row

    wait_until(lambda: delivery().status == DELIVERED, 60, "the delivery")
    # Two more sweeps run to the end: nothing may send it again.
    sweeps = _sweeps_done(worker)
    wait_until(lambda: _sweeps_done(worker) >= sweeps + 2, 30, "two more sweeps")
    with functional_sessions() as session:
        attempts = list(
            session.scalars(
                sa.select(CallbackAttempt)
                .where(CallbackAttempt.delivery_id == delivery_id)
                .order_by(CallbackAttempt.id)
            )
        )
    assert [a.status_code for a in attempts] == [502, 502, 502, 200]
    assert all(a.duration_ms >= 0 for a in attempts)
    assert delivery().attempts == 4
    assert len(cms.received) == 4
    assert len(cms.accepted) == 1
    assert all(r.signature_valid for r in cms.received)


def _sweeps_done(worker: ServiceProcess) -> int:
    log = worker.log_path.read_text(errors="replace")
    return sum(1 for line in log.splitlines() if "modassist.sweep[" in line and "succeeded" in line)


def test_a_submission_that_cannot_be_scored_ends_as_failed_with_its_error(
    web_server: WebServer,
    start_worker: Callable[..., ServiceProcess],
    service_env: dict[str, str],
    signed_post: Callable[..., requests.Response],
    signed_get: Callable[..., requests.Response],
    tmp_path: Path,
    wait_until: Callable[..., Any],
) -> None:
    # A worker deployed without its model artifacts: every try raises.
    empty = tmp_path / "no-models"
    empty.mkdir()
    start_worker(
        {**service_env, "MODASSIST_MODELS_DIR": str(empty), "MODASSIST_SCORE_MAX_RETRIES": "2"}
    )
    created = signed_post(
        f"{web_server.url}/api/v1/submissions",
        {"external_id": "nomodel-1", "text": "Ein Kommentar ohne Modelle.", "kind": "comment"},
    )
    assert created.status_code == 202, created.text
    url = f"{web_server.url}/api/v1/submissions/{created.json()['id']}"

    body = wait_until(
        lambda: (b := signed_get(url).json())["status"] == "failed" and b,
        60,
        "the submission to fail after its retries",
    )
    assert body["error"].startswith("ArtifactError:")
    assert "Modelle" not in body["error"]
    assert "result" not in body
