"""The worker's tasks called directly, on SQLite and PostgreSQL, with a real HTTP receiver."""

from __future__ import annotations

import base64
import copy
import json
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from redis import Redis
from sqlalchemy.orm import Session

from service.dispatch import (
    DELIVER_CALLBACK,
    DELIVERY_QUEUE,
    SCORE_SUBMISSION,
    SCORING_QUEUE,
    Dispatcher,
    celery_sender,
)
from service.scoring.document import Builder, Doc
from service.scoring.pipeline import Scorer
from service.scoring.types import SIGNALS
from service.settings import Settings
from service.storage.decisions import delivery_of, record_decision
from service.storage.models import (
    CANCELLED,
    DEAD,
    DELIVERED,
    FAILED,
    PENDING,
    QUEUED,
    SCORED,
    CallbackAttempt,
    CallbackDelivery,
    Result,
    Site,
    Submission,
)
from service.storage.rescoring import requeue_open
from tests.cms import CmsReceiver
from tests.unit.worker.conftest import Clock, SentTasks
from worker import cms_client
from worker.tasks import (
    Runtime,
    callback_schedule,
    deliver_callback,
    score_submission,
    sweep,
)

TEXT = "Die Regierung hat gestern beschlossen, die Steuern zu senken. Das finde ich gut."


def _row(db_session: Session, submission_id: str) -> Submission:
    db_session.expire_all()
    row = db_session.get(Submission, submission_id)
    assert row is not None
    return row


def _results(db_session: Session, submission_id: str) -> list[Result]:
    return list(db_session.scalars(sa.select(Result).where(Result.submission_id == submission_id)))


# --- scoring ------------------------------------------------------------------------------


def test_score_stores_result_and_marks_scored(
    make_runtime: Callable[..., Runtime], add_submission: Callable[..., str], db_session: Session
) -> None:
    submission_id = add_submission(TEXT)

    outcome = score_submission(make_runtime(), submission_id)

    assert outcome.outcome == "scored"
    row = _row(db_session, submission_id)
    assert row.status == SCORED
    assert row.attempts == 1
    assert row.scored_at is not None
    assert row.language == "de"
    [result] = _results(db_session, submission_id)
    assert result.priority == row.priority
    assert result.data["id"] == submission_id
    assert set(SIGNALS) <= set(result.data["signals"])
    assert result.model_version == result.data["model_version"]


def test_score_twice_is_a_no_op(
    make_runtime: Callable[..., Runtime], add_submission: Callable[..., str], db_session: Session
) -> None:
    submission_id = add_submission(TEXT)
    rt = make_runtime()

    first = score_submission(rt, submission_id)
    second = score_submission(rt, submission_id)

    assert (first.outcome, second.outcome) == ("scored", "skipped")
    assert _row(db_session, submission_id).attempts == 1
    assert len(_results(db_session, submission_id)) == 1


def test_unknown_submission_is_reported_missing(make_runtime: Callable[..., Runtime]) -> None:
    assert score_submission(make_runtime(), "0" * 32).outcome == "missing"


def test_racing_workers_store_one_result_each(
    make_runtime: Callable[..., Runtime], add_submission: Callable[..., str], db_session: Session
) -> None:
    ids = [add_submission(f"{TEXT} Nummer {n}.") for n in range(4)]
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def work(rt: Runtime) -> None:
        start.wait()
        for submission_id in ids:
            outcomes.append(score_submission(rt, submission_id).outcome)

    threads = [threading.Thread(target=work, args=(make_runtime(),)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    assert sorted(outcomes) == ["scored"] * 4 + ["skipped"] * 4
    for submission_id in ids:
        assert _row(db_session, submission_id).attempts == 1
        assert len(_results(db_session, submission_id)) == 1


def test_a_stale_claim_is_taken_over(
    make_runtime: Callable[..., Runtime], add_submission: Callable[..., str], db_session: Session
) -> None:
    # A worker claimed the row (attempts 1) and died before storing anything.
    submission_id = add_submission(TEXT)
    db_session.execute(
        sa.update(Submission).where(Submission.id == submission_id).values(attempts=1)
    )
    db_session.commit()

    assert score_submission(make_runtime(), submission_id).outcome == "scored"
    assert _row(db_session, submission_id).attempts == 2


def test_a_submission_under_an_active_lease_is_left_alone(
    make_runtime: Callable[..., Runtime],
    add_submission: Callable[..., str],
    db_session: Session,
    clock: Clock,
    sent: SentTasks,
) -> None:
    # Another worker claimed it a moment ago and is scoring it.
    submission_id = add_submission(TEXT)
    db_session.execute(
        sa.update(Submission)
        .where(Submission.id == submission_id)
        .values(attempts=1, scoring_lease_until=clock() + timedelta(seconds=300))
    )
    db_session.commit()
    rt = make_runtime(score_lease_s=300, stuck_after_s=60)

    assert score_submission(rt, submission_id).outcome == "skipped"
    clock.advance(120)  # stuck by updated_at, but its lease still runs: not swept
    assert sweep(rt).submissions == 0
    assert _row(db_session, submission_id).attempts == 1

    clock.advance(181)  # the lease has lapsed: that worker is gone
    assert sweep(rt).submissions == 1
    assert score_submission(rt, submission_id).outcome == "scored"
    row = _row(db_session, submission_id)
    assert (row.attempts, row.scoring_lease_until) == (2, None)


def test_a_run_that_outlived_its_lease_stores_nothing(
    make_runtime: Callable[..., Runtime], add_submission: Callable[..., str], db_session: Session
) -> None:
    # While this worker scores, its lease lapses and another worker claims the row: the
    # late result must not be stored (on PostgreSQL the store and the result's insert
    # are one statement, which must then insert nothing either).
    submission_id = add_submission(TEXT)
    rt = make_runtime()
    base = rt.scorer()

    def overtaken(doc: Doc, out: Builder) -> None:
        db_session.execute(
            sa.update(Submission)
            .where(Submission.id == submission_id)
            .values(attempts=Submission.attempts + 1)
        )
        db_session.commit()

    slow = copy.copy(base)
    slow.phases = [*base.phases, ("overtaken", overtaken)]
    rt._scorer = slow

    assert score_submission(rt, submission_id).outcome == "skipped"
    row = _row(db_session, submission_id)
    assert (row.status, row.attempts, row.scored_at) == (QUEUED, 2, None)
    assert _results(db_session, submission_id) == []


def test_re_scoring_replaces_the_stored_result(
    make_runtime: Callable[..., Runtime],
    add_submission: Callable[..., str],
    db_session: Session,
    site_with_secret: tuple[Site, str],
) -> None:
    submission_id = add_submission(TEXT)
    rt = make_runtime()
    assert score_submission(rt, submission_id).outcome == "scored"
    [first] = _results(db_session, submission_id)
    db_session.execute(
        sa.update(Result).where(Result.id == first.id).values(priority=-1.0, data={"old": 1})
    )
    assert requeue_open(db_session, site_with_secret[0].id, actor="test") == [submission_id]
    db_session.commit()

    assert score_submission(rt, submission_id).outcome == "scored"
    db_session.expire_all()
    [second] = _results(db_session, submission_id)
    row = _row(db_session, submission_id)
    assert (row.status, row.attempts) == (SCORED, 1)
    assert second.id == first.id and second.priority == row.priority
    assert second.data["id"] == submission_id and "old" not in second.data


class Broken(Exception):
    pass


def _failing_scorer(rt: Runtime, message: str) -> Scorer:
    """The real Scorer with one more phase that raises, as a broken model would."""
    base = rt.scorer()

    def explode(doc: Doc, out: Builder) -> None:
        raise Broken(message)

    broken = copy.copy(base)
    broken.phases = [*base.phases, ("explode", explode)]
    return broken


def test_errors_retry_then_end_as_failed_without_the_text(
    make_runtime: Callable[..., Runtime], add_submission: Callable[..., str], db_session: Session
) -> None:
    submission_id = add_submission(TEXT)
    rt = make_runtime(score_max_retries=2)
    # The message quotes the comment, as careless library errors do.
    rt._scorer = _failing_scorer(rt, f"cannot parse {TEXT[:40]!r}")

    outcomes = [score_submission(rt, submission_id) for _ in range(3)]

    assert [o.outcome for o in outcomes] == ["retry", "retry", "failed"]
    assert outcomes[0].retry_in_s is not None and outcomes[1].retry_in_s is not None
    assert outcomes[1].retry_in_s > outcomes[0].retry_in_s
    row = _row(db_session, submission_id)
    assert row.status == FAILED
    assert row.attempts == 3
    assert row.error is not None and row.error.startswith("Broken:")
    assert "Regierung" not in row.error
    assert _results(db_session, submission_id) == []
    # A later task for it changes nothing.
    assert score_submission(rt, submission_id).outcome == "skipped"


def test_error_message_is_kept_when_it_does_not_quote_the_text(
    make_runtime: Callable[..., Runtime], add_submission: Callable[..., str], db_session: Session
) -> None:
    submission_id = add_submission(TEXT)
    rt = make_runtime(score_max_retries=0)
    rt._scorer = _failing_scorer(rt, "artifact toxicity/model.joblib is missing")

    assert score_submission(rt, submission_id).outcome == "failed"
    assert _row(db_session, submission_id).error == (
        "Broken: artifact toxicity/model.joblib is missing"
    )


def test_claims_that_never_finished_end_as_failed(
    make_runtime: Callable[..., Runtime], add_submission: Callable[..., str], db_session: Session
) -> None:
    # Three workers died on it (killed, out of memory): no fourth try with 2 retries.
    submission_id = add_submission(TEXT)
    db_session.execute(
        sa.update(Submission).where(Submission.id == submission_id).values(attempts=3)
    )
    db_session.commit()

    assert score_submission(make_runtime(score_max_retries=2), submission_id).outcome == "failed"
    row = _row(db_session, submission_id)
    assert row.status == FAILED
    assert row.error is not None and row.error.startswith("WorkerLost")


# --- callbacks ----------------------------------------------------------------------------


@pytest.fixture
def receiver(site_with_secret: tuple[Site, str]) -> Iterator[CmsReceiver]:
    cms = CmsReceiver(secret=site_with_secret[1]).start()
    yield cms
    cms.stop()


@pytest.fixture
def add_delivery(
    db_session: Session,
    site_with_secret: tuple[Site, str],
    add_submission: Callable[..., str],
    receiver: CmsReceiver,
    clock: Clock,
) -> Callable[..., str]:
    """Decide a new submission through the decisions repository; return the delivery id."""
    site = site_with_secret[0]
    site.callback_url = receiver.url
    db_session.commit()

    def add(undo_window_s: float = 0.0) -> str:
        row = _row(db_session, add_submission(TEXT))
        decision = record_decision(
            db_session, row, "rejected", "Beleidigung", actor="test", now=clock(),
            undo_window_s=undo_window_s,
        )  # fmt: skip
        delivery = delivery_of(db_session, decision)
        assert delivery is not None
        db_session.commit()
        return delivery.id

    return add


def _delivery(db_session: Session, delivery_id: str) -> CallbackDelivery:
    db_session.expire_all()
    row = db_session.get(CallbackDelivery, delivery_id)
    assert row is not None
    return row


def _attempts(db_session: Session, delivery_id: str) -> list[CallbackAttempt]:
    return list(
        db_session.scalars(
            sa.select(CallbackAttempt)
            .where(CallbackAttempt.delivery_id == delivery_id)
            .order_by(CallbackAttempt.id)
        )
    )


def test_delivery_sends_signed_callback_and_records_the_attempt(
    make_runtime: Callable[..., Runtime],
    add_delivery: Callable[..., str],
    receiver: CmsReceiver,
    site_with_secret: tuple[Site, str],
    db_session: Session,
) -> None:
    delivery_id = add_delivery()

    assert deliver_callback(make_runtime(), delivery_id) == "delivered"

    [request] = receiver.received
    assert request.signature_valid
    assert request.headers["X-Modassist-Key"] == site_with_secret[0].key_id
    assert request.headers[cms_client.DELIVERY_HEADER] == delivery_id
    body = request.json()
    assert body["event"] == "submission.decided"
    assert body["decision"] == "rejected"
    assert body["reason"] == "Beleidigung"
    delivery = _delivery(db_session, delivery_id)
    assert (delivery.status, delivery.attempts) == (DELIVERED, 1)
    assert delivery.delivered_at is not None
    [attempt] = _attempts(db_session, delivery_id)
    assert attempt.status_code == 200
    assert attempt.error is None
    assert attempt.duration_ms > 0


def test_failing_receiver_is_retried_with_backoff_until_delivered_once(
    make_runtime: Callable[..., Runtime],
    add_delivery: Callable[..., str],
    receiver: CmsReceiver,
    db_session: Session,
    clock: Clock,
    sent: SentTasks,
) -> None:
    receiver.fail_times = 3
    delivery_id = add_delivery()
    rt = make_runtime(callback_backoff_first_s=10.0, callback_max_attempts=8)

    outcomes = []
    for _ in range(6):
        outcomes.append(deliver_callback(rt, delivery_id))
        # Before the backoff is over, a task for it sends nothing.
        if outcomes[-1] == "retry":
            assert deliver_callback(rt, delivery_id) == "not_due"
        clock.advance(3600)

    assert outcomes == ["retry", "retry", "retry", "delivered", "skipped", "skipped"]
    assert len(receiver.received) == 4
    assert len(receiver.accepted) == 1
    assert all(r.signature_valid for r in receiver.received)
    assert [a.status_code for a in _attempts(db_session, delivery_id)] == [503, 503, 503, 200]
    assert [a.error for a in _attempts(db_session, delivery_id)][:3] == ["HTTP 503"] * 3
    # Each failure re-enqueued the delivery with the doubling backoff as countdown.
    countdowns = [args[1] for name, args, queue in sent.calls if name == DELIVER_CALLBACK]
    assert countdowns == [10.0, 20.0, 40.0]
    assert {queue for _n, _a, queue in sent.calls} == {DELIVERY_QUEUE}
    delivery = _delivery(db_session, delivery_id)
    assert (delivery.status, delivery.attempts, delivery.last_error) == (DELIVERED, 4, None)


def test_delivery_is_dead_after_the_last_attempt(
    make_runtime: Callable[..., Runtime],
    add_delivery: Callable[..., str],
    receiver: CmsReceiver,
    db_session: Session,
    clock: Clock,
) -> None:
    receiver.fail_times, receiver.fail_status = 100, 500
    delivery_id = add_delivery()
    rt = make_runtime(callback_max_attempts=3)

    outcomes = []
    for _ in range(4):
        outcomes.append(deliver_callback(rt, delivery_id))
        clock.advance(7200)

    assert outcomes == ["retry", "retry", "dead", "skipped"]
    assert len(receiver.received) == 3
    delivery = _delivery(db_session, delivery_id)
    assert (delivery.status, delivery.attempts, delivery.last_error) == (DEAD, 3, "HTTP 500")
    assert len(_attempts(db_session, delivery_id)) == 3


def test_timeouts_and_refused_connections_are_recorded_attempts(
    make_runtime: Callable[..., Runtime],
    add_delivery: Callable[..., str],
    receiver: CmsReceiver,
    db_session: Session,
    clock: Clock,
) -> None:
    receiver.delay_s = 1.0
    delivery_id = add_delivery()
    rt = make_runtime(callback_timeout_s=0.2)

    assert deliver_callback(rt, delivery_id) == "retry"
    receiver.stop()  # nothing listens on the port any more
    clock.advance(3600)
    assert deliver_callback(rt, delivery_id) == "retry"

    timeout, refused = _attempts(db_session, delivery_id)
    assert timeout.status_code is None and timeout.error is not None
    assert timeout.error.startswith("timeout after 0.2 s")
    assert refused.status_code is None and refused.error is not None
    assert refused.error.startswith("ConnectionError")
    assert _delivery(db_session, delivery_id).status == PENDING


def test_delivery_is_not_sent_before_it_is_due(
    make_runtime: Callable[..., Runtime],
    add_delivery: Callable[..., str],
    receiver: CmsReceiver,
    db_session: Session,
    clock: Clock,
    sent: SentTasks,
) -> None:
    delivery_id = add_delivery(undo_window_s=30)
    rt = make_runtime()

    assert deliver_callback(rt, delivery_id) == "not_due"
    clock.advance(27)  # inside the tolerance: it asks to be woken when due
    assert deliver_callback(rt, delivery_id) == "not_due"
    assert receiver.received == []
    assert _delivery(db_session, delivery_id).attempts == 0
    assert [(name, args) for name, args, _q in sent.calls] == [
        (DELIVER_CALLBACK, [delivery_id, 3.0])
    ]

    clock.advance(3)
    assert deliver_callback(rt, delivery_id) == "delivered"


def test_cancelled_delivery_is_not_sent(
    make_runtime: Callable[..., Runtime],
    add_delivery: Callable[..., str],
    receiver: CmsReceiver,
    db_session: Session,
) -> None:
    delivery_id = add_delivery()
    db_session.execute(
        sa.update(CallbackDelivery)
        .where(CallbackDelivery.id == delivery_id)
        .values(status=CANCELLED)
    )
    db_session.commit()

    assert deliver_callback(make_runtime(), delivery_id) == "skipped"
    assert receiver.received == []
    assert _attempts(db_session, delivery_id) == []


def test_racing_workers_send_each_delivery_once(
    make_runtime: Callable[..., Runtime],
    add_delivery: Callable[..., str],
    receiver: CmsReceiver,
    db_session: Session,
) -> None:
    receiver.delay_s = 0.2  # a slow CMS widens the window for a double send
    ids = [add_delivery() for _ in range(3)]
    outcomes: list[str] = []
    start = threading.Barrier(3)

    def work(rt: Runtime) -> None:
        start.wait()
        for delivery_id in ids:
            outcomes.append(deliver_callback(rt, delivery_id))

    threads = [threading.Thread(target=work, args=(make_runtime(),)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    # The losers either lost the claim or saw the winner's lease as "not due yet".
    assert outcomes.count("delivered") == 3
    assert set(outcomes) - {"delivered"} <= {"skipped", "not_due"}
    assert len(outcomes) == 9
    assert len(receiver.received) == 3
    for delivery_id in ids:
        assert len(_attempts(db_session, delivery_id)) == 1


def test_default_backoff_spans_over_an_hour_in_at_least_eight_attempts() -> None:
    defaults = Settings.from_env({})
    waits = callback_schedule(defaults)

    assert defaults.callback_max_attempts >= 8
    assert len(waits) == defaults.callback_max_attempts - 1
    assert sum(waits, timedelta()) >= timedelta(hours=1)
    assert waits == sorted(waits)


# --- sweep --------------------------------------------------------------------------------


def _age(db_session: Session, submission_id: str, seconds: float, now: Any) -> None:
    db_session.execute(
        sa.update(Submission)
        .where(Submission.id == submission_id)
        .values(updated_at=now - timedelta(seconds=seconds))
    )
    db_session.commit()


def test_sweep_re_enqueues_stuck_submissions_and_due_deliveries(
    make_runtime: Callable[..., Runtime],
    add_submission: Callable[..., str],
    add_delivery: Callable[..., str],
    db_session: Session,
    clock: Clock,
    sent: SentTasks,
) -> None:
    rt = make_runtime(stuck_after_s=60)
    stuck, fresh, scored = (add_submission(f"{TEXT} {n}") for n in range(3))
    assert score_submission(rt, scored).outcome == "scored"
    for submission_id in (stuck, scored):
        _age(db_session, submission_id, 600, clock())
    due = add_delivery()
    later = add_delivery(undo_window_s=600)
    decided = _row(db_session, _delivery(db_session, due).payload["submission"]["id"])
    assert decided.status != QUEUED  # decided items are not swept as stuck

    report = sweep(rt)

    assert (report.submissions, report.deliveries) == (1, 1)
    assert [(name, args[0], queue) for name, args, queue in sent.calls] == [
        (SCORE_SUBMISSION, stuck, SCORING_QUEUE),
        (DELIVER_CALLBACK, due, DELIVERY_QUEUE),
    ]
    assert fresh not in {args[0] for _n, args, _q in sent.calls}
    assert later not in {args[0] for _n, args, _q in sent.calls}
    # The stuck one is marked as re-enqueued and left alone until it is stuck again.
    assert _row(db_session, stuck).enqueued_at is not None
    assert sweep(rt).submissions == 0


def test_sweep_takes_a_bounded_batch(
    make_runtime: Callable[..., Runtime],
    add_submission: Callable[..., str],
    db_session: Session,
    clock: Clock,
) -> None:
    rt = make_runtime(stuck_after_s=60)
    ids = [add_submission(f"{TEXT} {n}") for n in range(5)]
    for submission_id in ids:
        _age(db_session, submission_id, 600, clock())

    assert sweep(rt, batch=3).submissions == 3
    assert sweep(rt, batch=3).submissions == 2


def test_sweep_publishes_to_the_real_broker(
    make_runtime: Callable[..., Runtime],
    add_submission: Callable[..., str],
    db_session: Session,
    clock: Clock,
    settings: Settings,
) -> None:
    redis = Redis.from_url(settings.redis_url)
    redis.delete(SCORING_QUEUE)
    rt = make_runtime(stuck_after_s=60)
    rt.dispatcher = Dispatcher(celery_sender(settings))
    submission_id = add_submission(TEXT)
    _age(db_session, submission_id, 600, clock())

    assert sweep(rt).submissions == 1

    messages = redis.lrange(SCORING_QUEUE, 0, -1)
    redis.delete(SCORING_QUEUE)
    redis.close()
    assert len(messages) == 1
    envelope = json.loads(messages[0])
    assert envelope["headers"]["task"] == SCORE_SUBMISSION
    assert json.loads(base64.b64decode(envelope["body"]))[0] == [submission_id]


def test_scoring_commits_do_not_wait_for_the_disk_on_postgresql(
    make_runtime: Callable[..., Runtime], add_submission: Callable[..., str], db_session: Session
) -> None:
    # Only the scoring task's own writes (recomputed when lost: the sweep re-scores a
    # submission left queued); every other session keeps synchronous commits.
    rt = make_runtime()
    assert score_submission(rt, add_submission(TEXT)).outcome == "scored"
    if db_session.get_bind().dialect.name != "postgresql":
        assert rt.scoring_sessions is None  # SQLite's commits stay as they are
        return
    with rt.scoring_session() as scoring, rt.sessions() as other:
        assert scoring.scalar(sa.text("SHOW synchronous_commit")) == "off"
        assert other.scalar(sa.text("SHOW synchronous_commit")) == "on"
