"""The worker's tasks: score a submission, deliver a callback, sweep what is stuck.

Each task is a plain function over a `Runtime` (settings, database sessions, scorer,
dispatcher), so tests call it directly; `register` wraps them as Celery tasks under the
names in service.dispatch. Every task takes an id, is idempotent and claims its row with a
conditional UPDATE before doing work, so two workers never both store a score or both
send a callback. Logs carry ids, statuses, durations and scores only, never text or author
data.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, cast

import redis
from sqlalchemy import (
    CursorResult,
    Engine,
    Table,
    bindparam,
    event,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from service.dispatch import (
    DELIVER_CALLBACK,
    RETENTION,
    RETRAIN_SITE_MODELS,
    SCORE_SUBMISSION,
    SCORING_QUEUE,
    SWEEP,
    Dispatcher,
    Sender,
)
from service.scoring.pipeline import Scorer
from service.scoring.types import Reference, SiteConfig
from service.scoring.types import Submission as ScoringInput
from service.settings import Settings
from service.storage import copies, retention
from service.storage.crypto import decrypt
from service.storage.db import make_engine, make_session_factory
from service.storage.models import (
    DEAD,
    DELIVERED,
    FAILED,
    PENDING,
    QUEUED,
    SCORED,
    Author,
    CallbackAttempt,
    CallbackDelivery,
    Result,
    Site,
    Submission,
    new_id,
    utcnow,
)
from service.storage.site_config import site_config_for
from worker import cms_client, learning
from worker import rules as site_rules

log = logging.getLogger(__name__)

#: Scoring retries wait 2, 4, 8, ... seconds, at most this long.
SCORE_RETRY_BACKOFF_FIRST_S = 2.0
SCORE_RETRY_BACKOFF_MAX_S = 300.0
#: Callback retries double from settings.callback_backoff_first_s up to this step.
CALLBACK_BACKOFF_MAX = timedelta(hours=1)
#: A claimed delivery whose worker died is due again after the HTTP timeout plus this.
CALLBACK_LEASE_MARGIN = timedelta(seconds=60)
#: A delivery task that arrives this close before its due time waits for it.
EARLY_ARRIVAL_TOLERANCE = timedelta(seconds=5)
#: Rows the sweep re-enqueues per run and kind; the next run takes the rest.
SWEEP_BATCH = 500
#: Longest exception message stored on a failed submission.
ERROR_MESSAGE_MAX_CHARS = 300

Outcome = Literal["scored", "retry", "failed", "skipped", "missing", "delivered", "dead", "not_due"]
Post = Callable[..., cms_client.CallbackAnswer]


@dataclass
class Runtime:
    """What the tasks of one worker process share: settings, database, scorer, dispatcher."""

    settings: Settings
    sessions: sessionmaker[Session]
    dispatcher: Dispatcher
    engine: Engine | None = None
    now: Callable[[], datetime] = utcnow
    post: Post = cms_client.post_callback
    #: Sessions for the scoring task's own writes (see `scoring_session_factory`); None:
    #: `sessions`.
    scoring_sessions: sessionmaker[Session] | None = None
    _scorer: Scorer | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def build(cls, settings: Settings, send: Sender) -> Runtime:
        settings = settings.with_secret_key()
        engine = make_engine(settings)
        return cls(
            settings,
            make_session_factory(engine),
            Dispatcher(send),
            engine=engine,
            scoring_sessions=scoring_session_factory(settings),
        )

    def scoring_session(self) -> Session:
        return (self.scoring_sessions or self.sessions)()

    def scorer(self) -> Scorer:
        """Return the process's scorer, loading the models on first use."""
        with self._lock:
            if self._scorer is None:
                started = time.perf_counter()
                self._scorer = Scorer(self.settings.models_dir)
                log.info("scorer loaded in %.0f ms", (time.perf_counter() - started) * 1000)
            return self._scorer


def scoring_session_factory(settings: Settings) -> sessionmaker[Session] | None:
    """Sessions whose commits do not wait for the disk (PostgreSQL), for scoring only.

    A scoring task writes only what is recomputed when lost: its claim, its result, its
    campaign link. If the database crashes within the moment (a few hundred ms) before
    such a commit reaches the disk, the submission is back to `queued` and the sweep
    scores it again; a crash never leaves half a transaction. Everything else (the
    webhook's INSERT, decisions, callbacks) keeps synchronous commits. This saves the
    WAL flush (several ms on a busy disk) on both commits of every scoring task, and
    the row locks of the store transaction are held that much shorter.
    None on SQLite (one writer at a time; its commits stay as they are).
    """
    if not settings.database_url.startswith("postgresql"):
        return None
    engine = make_engine(settings)

    @event.listens_for(engine, "connect")
    def _asynchronous_commit(dbapi_conn: Any, _record: Any) -> None:
        with dbapi_conn.cursor() as cur:
            cur.execute("SET synchronous_commit TO OFF")
        dbapi_conn.commit()

    return make_session_factory(engine)


@dataclass(frozen=True)
class ScoreOutcome:
    outcome: Outcome
    retry_in_s: float | None = None


# --- scoring ------------------------------------------------------------------------------


def score_submission(rt: Runtime, submission_id: str) -> ScoreOutcome:
    """Score one queued submission and store its result; skip it when it is not queued.

    Three database transactions in the common case: read and claim (everything scoring
    needs is read before the claim commits: row, author, site, candidate texts, the
    learned model's version), store (score, likely_rejected, rules' priority cap, copy
    index and campaign, in one), and only when a rule decides, the decision.
    """
    limit = rt.settings.score_max_retries + 1  # the first try plus the retries
    client = _copy_client(rt)
    with rt.scoring_session() as session:
        # Core statements go through the session's connection: the ORM's execute layer
        # costs ~0.09 CPU ms per statement and adds nothing to plain table statements.
        read = session.connection().execute(_SCORING_READ, {"sid": submission_id}).one_or_none()
        if read is None:
            log.warning("score: submission %s does not exist", submission_id)
            return ScoreOutcome("missing")
        if read.status != QUEUED:
            log.info("score: submission %s is %s, skipped", submission_id, read.status)
            return ScoreOutcome("skipped")
        now = rt.now()
        lease_until = read.scoring_lease_until
        if lease_until is not None and lease_until > now:
            log.info("score: submission %s is being scored by another worker", submission_id)
            return ScoreOutcome("skipped")
        seen = read.attempts
        if seen >= limit:
            # Earlier attempts were claimed but never finished: the worker died each time
            # (out of memory, killed). Give the item to a human instead of trying forever.
            error = f"WorkerLost: scoring did not finish in {seen} attempts"
            _finish_failed(session, submission_id, seen, error)
            return ScoreOutcome("failed")
        prepared: _Prepared | Exception
        try:
            prepared = _prepare(rt, session, client, read)
        except Exception as exc:  # a broken site setting fails this attempt like the scorer
            session.rollback()
            prepared = exc
        lease = timedelta(seconds=rt.settings.score_lease_s)
        if not _claim_submission(session, submission_id, seen, now, lease):
            log.info("score: submission %s claimed by another worker", submission_id)
            return ScoreOutcome("skipped")
        attempt = seen + 1
        text = read.text

    started = time.perf_counter()
    try:
        if isinstance(prepared, Exception):
            raise prepared
        result = rt.scorer().score(prepared.scoring_input, prepared.config, prepared.references)
    except Exception as exc:
        # Any error of the scorer or its models; the text never goes into the message.
        if attempt >= limit:
            with rt.scoring_session() as session:
                _finish_failed(session, submission_id, attempt, _error_text(exc, text))
            return ScoreOutcome("failed")
        with rt.scoring_session() as session:
            _release(session, submission_id, attempt)
        delay = min(SCORE_RETRY_BACKOFF_FIRST_S * 2 ** (attempt - 1), SCORE_RETRY_BACKOFF_MAX_S)
        log.warning(
            "score: submission %s attempt %d failed (%s), retry in %.0f s",
            submission_id,
            attempt,
            type(exc).__name__,
            delay,
        )
        return ScoreOutcome("retry", retry_in_s=delay)
    duration_ms = (time.perf_counter() - started) * 1000

    data = result.to_dict()
    result_priority = result.priority
    # The learned signal likely_rejected (the site's own model, else the general one),
    # then the site's rules (auto-approve, low priority): steps after scoring whose
    # failure never costs the score.
    try:
        signal = prepared.learned.signal(text, prepared.site_settings) if prepared.learned else None
        if signal is not None:
            data, result_priority = learning.with_signal(data, signal)
    except Exception:
        log.exception("likely_rejected: submission %s keeps its result without it", submission_id)
    row_priority = result_priority
    decides = False
    try:
        ruled = site_rules.outcome_for(prepared.site_id, prepared.site_settings, data["signals"])
        cap = None if ruled is None else ruled.priority_cap
        if ruled is not None and ruled.decision is not None:
            decides = True
        elif cap is not None and row_priority > cap:
            row_priority = cap
            log.info("rules: submission %s set to low priority", submission_id)
    except Exception:
        log.exception("rules: submission %s left open for a human", submission_id)

    # Into the copy index first: no network call while the store transaction holds locks.
    copies.index_scored(client, prepared.row)
    with rt.scoring_session() as session, session.begin():
        conn = session.connection()
        scored_at = rt.now()
        store = {
            "sid": submission_id,
            "attempt": attempt,
            "priority": row_priority,
            "language": result.language,
            "scored_at": scored_at,
        }
        values = {
            "model_version": result.model_version,
            "priority": result_priority,
            "data": data,
        }
        if not prepared.had_result and conn.dialect.name == "postgresql":
            # The common case in one round trip: the result row exists only if the
            # submission's row was still this attempt's to store. ("priority" is the
            # row's, capped by the rules; the result keeps its own.)
            new_result = {
                "result_id": new_id(),
                "result_model_version": result.model_version,
                "result_priority": result_priority,
                "result_data": data,
                "result_created_at": scored_at,
                "updated_at": scored_at,
            }
            inserted = conn.execute(_STORE_NEW_RESULT, {**store, **new_result}).first()
            stored = inserted is not None
        else:
            stored = _rowcount(conn.execute(_STORE, store))
            if stored and prepared.had_result:  # re-scoring: the new one replaces the old
                conn.execute(_REPLACE_RESULT.values(**values), {"sid": submission_id})
            elif stored:
                conn.execute(_INSERT_RESULT, {"submission_id": submission_id, **values})
        if not stored:
            # A later claim owns the row (this run outlived its lease); its result counts.
            log.info("score: submission %s was re-claimed, result dropped", submission_id)
            return ScoreOutcome("skipped")
        # Copy detection: join near-identical earlier submissions into a campaign, in the
        # same transaction. Last before the commit: it rewrites the matched submissions'
        # results (this one's too), and their row locks are held only until the commit.
        copies.assign_campaign(session, prepared.row, data.get("spans", ()), data)
    log.info(
        "score: submission %s scored in %.0f ms, priority %.3f, flagged %s",
        submission_id,
        duration_ms,
        row_priority,
        ",".join(name for name, s in data["signals"].items() if s.get("flagged")) or "-",
    )
    if decides:
        try:
            site_rules.apply_rules(rt.sessions, rt.dispatcher, submission_id, rt.now)
        except Exception:
            log.exception("rules: submission %s left open for a human", submission_id)
    return ScoreOutcome("scored")


# The scoring task's reads and writes, built once: Core on the tables (no ORM loading or
# bulk-update machinery), bound per call. `updated_at` still gets its onupdate value.
_SUBMISSIONS = cast(Table, Submission.__table__)
_RESULTS = cast(Table, Result.__table__)
_SITES = cast(Table, Site.__table__)
_AUTHORS = cast(Table, Author.__table__)
#: Everything scoring reads, in one SELECT: the submission, what it needs of its site and
#: author, whether it has a result, and the site's active likely_rejected model version.
_SCORING_READ = (
    select(
        *_SUBMISSIONS.c,
        _SITES.c.settings.label("site_settings"),
        _SITES.c.corpus_group.label("site_corpus_group"),
        _AUTHORS.c.id.label("author_row_id"),
        _AUTHORS.c.external_id.label("author_external_id"),
        _AUTHORS.c.name.label("author_name"),
        _AUTHORS.c.location.label("author_location"),
        _AUTHORS.c.erased_at.label("author_erased_at"),
        _RESULTS.c.id.label("result_id"),
        learning.active_version(_SUBMISSIONS.c.site_id).label("model_version"),
    )
    .join(_SITES, _SITES.c.id == _SUBMISSIONS.c.site_id)
    .outerjoin(_AUTHORS, _AUTHORS.c.id == _SUBMISSIONS.c.author_id)
    .outerjoin(_RESULTS, _RESULTS.c.submission_id == _SUBMISSIONS.c.id)
    .where(_SUBMISSIONS.c.id == bindparam("sid"))
)
_SUBMISSION_COLUMNS = tuple(c.key for c in _SUBMISSIONS.c)


@dataclass(frozen=True)
class _Prepared:
    """What scoring a submission needs, read before the claim commits."""

    row: Submission  # transient, built from the read: id, text, author, site are set
    scoring_input: ScoringInput
    config: SiteConfig
    references: tuple[Reference, ...]
    learned: learning.Learned | None
    site_id: str
    site_settings: dict[str, Any]
    had_result: bool


def _prepare(rt: Runtime, session: Session, client: redis.Redis | None, read: Any) -> _Prepared:
    row = _submission_of(read)
    learned: learning.Learned | None = None
    try:
        learned = learning.Learned.for_site(
            session, row.site_id, rt.settings.models_dir, read.model_version
        )
    except Exception:
        log.exception("likely_rejected: no model for submission %s", row.id)
        session.rollback()
    settings = read.site_settings or {}
    return _Prepared(
        row=row,
        scoring_input=_scoring_input(row),
        config=site_config_for(row.site_id, settings),
        references=copies.candidate_references(session, client, row),
        learned=learned,
        site_id=row.site_id,
        site_settings=dict(settings),
        had_result=read.result_id is not None,
    )


def _submission_of(read: Any) -> Submission:
    """Build the submission, its site and its author as plain (transient) ORM objects.

    What the copy-detection helpers take, without the ORM's loading machinery (a joined
    `session.get` cost about twice the CPU of this read). They are never added to a
    session; relationships are set as loaded values, so no event or lazy load fires.
    """
    values = read._mapping
    row = Submission(**{key: values[key] for key in _SUBMISSION_COLUMNS})
    site = Site(id=read.site_id, settings=read.site_settings, corpus_group=read.site_corpus_group)
    set_committed_value(row, "site", site)
    author = None
    if read.author_row_id is not None:
        author = Author(
            id=read.author_row_id,
            site_id=read.site_id,
            external_id=read.author_external_id,
            name=read.author_name,
            location=read.author_location,
            erased_at=read.author_erased_at,
        )
    set_committed_value(row, "author", author)
    return row


def _claim_submission(
    session: Session, submission_id: str, seen: int, now: datetime, lease: timedelta
) -> bool:
    # The compare-and-set on `attempts` is the claim: of two workers that read the same
    # count, only one UPDATE matches. On PostgreSQL the second waits for the first's row
    # lock and then re-checks the condition; SQLite serialises writers. The lease keeps
    # later tasks for the same id away while this one scores; a dead worker's lease lapses.
    claimed = _rowcount(
        session.connection().execute(
            _CLAIM,
            {
                "sid": submission_id,
                "seen": seen,
                "now": now,
                "next": seen + 1,
                "until": now + lease,
            },
        )
    )
    session.commit()
    return claimed


_CLAIM = (
    update(_SUBMISSIONS)
    .where(
        _SUBMISSIONS.c.id == bindparam("sid"),
        _SUBMISSIONS.c.status == QUEUED,
        _SUBMISSIONS.c.attempts == bindparam("seen"),
        or_(
            _SUBMISSIONS.c.scoring_lease_until.is_(None),
            _SUBMISSIONS.c.scoring_lease_until <= bindparam("now"),
        ),
    )
    .values(attempts=bindparam("next"), scoring_lease_until=bindparam("until"))
)
_STORE = (
    update(_SUBMISSIONS)
    .where(
        _SUBMISSIONS.c.id == bindparam("sid"),
        _SUBMISSIONS.c.status == QUEUED,
        _SUBMISSIONS.c.attempts == bindparam("attempt"),
    )
    .values(
        status=SCORED,
        priority=bindparam("priority"),
        language=bindparam("language"),
        scored_at=bindparam("scored_at"),
        error=None,
        scoring_lease_until=None,
    )
)
_INSERT_RESULT = insert(_RESULTS)
#: PostgreSQL: `_STORE` and `_INSERT_RESULT` as one statement (a data-modifying CTE).
# Column defaults do not fire inside a CTE: `updated_at` is bound explicitly. The result's
# parameters are named `result_*`: a parameter named like a column of `submissions` (id)
# would be added to the UPDATE's SET clause.
_STORED = (
    _STORE.values(updated_at=bindparam("updated_at", type_=_SUBMISSIONS.c.updated_at.type))
    .returning(_SUBMISSIONS.c.id)
    .cte("stored")
)
_STORE_NEW_RESULT = (
    insert(_RESULTS)
    .from_select(
        ["id", "submission_id", "model_version", "priority", "data", "created_at"],
        select(
            bindparam("result_id", type_=_RESULTS.c.id.type),
            _STORED.c.id,
            bindparam("result_model_version", type_=_RESULTS.c.model_version.type),
            bindparam("result_priority", type_=_RESULTS.c.priority.type),
            bindparam("result_data", type_=_RESULTS.c.data.type),
            bindparam("result_created_at", type_=_RESULTS.c.created_at.type),
        ),
    )
    .returning(_RESULTS.c.id)
)  # (rowcount reads -1 for this statement: a row says it)
_REPLACE_RESULT = update(_RESULTS).where(_RESULTS.c.submission_id == bindparam("sid"))


def _finish_failed(session: Session, submission_id: str, attempts: int, error: str) -> None:
    failed = _rowcount(
        session.execute(
            update(Submission)
            .where(
                Submission.id == submission_id,
                Submission.status == QUEUED,
                Submission.attempts == attempts,
            )
            .values(status=FAILED, error=error, scoring_lease_until=None)
            .execution_options(synchronize_session=False)
        )
    )
    session.commit()
    if failed:
        log.error("score: submission %s failed after %d attempts", submission_id, attempts)


def _release(session: Session, submission_id: str, attempts: int) -> None:
    """End this worker's claim after a failed try, so that its retry can claim again."""
    session.execute(
        update(Submission)
        .where(Submission.id == submission_id, Submission.attempts == attempts)
        .values(scoring_lease_until=None)
        .execution_options(synchronize_session=False)
    )
    session.commit()


def _scoring_input(row: Submission) -> ScoringInput:
    author = row.author
    erased = author is None or author.erased_at is not None
    return ScoringInput(
        id=row.id,
        text=row.text,
        kind="letter" if row.kind == "letter" else "comment",
        language=row.language,
        title=row.title,
        author_name=None if erased or author is None else author.name,
        author_location=None if erased or author is None else author.location,
        article_id=row.article_external_id,
    )


def _copy_client(rt: Runtime) -> redis.Redis | None:
    return copies.client_or_none(rt.settings.redis_url)


def _error_text(exc: BaseException, text: str) -> str:
    """Describe an exception for moderators without ever repeating the submission's text."""
    message = str(exc)[:ERROR_MESSAGE_MAX_CHARS]
    window = 12
    quotes_text = any(
        message[i : i + window] in text for i in range(max(0, len(message) - window + 1))
    )
    if quotes_text and len(message) >= window:
        message = "(message withheld: it quotes the submission)"
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


# --- callbacks ----------------------------------------------------------------------------


def callback_backoff(settings: Settings, attempt: int) -> timedelta:
    """Return the wait after failed attempt number `attempt` (1-based): doubling, capped."""
    step = timedelta(seconds=settings.callback_backoff_first_s * 2 ** (attempt - 1))
    return min(step, CALLBACK_BACKOFF_MAX)


def callback_schedule(settings: Settings) -> list[timedelta]:
    """Return the waits between all attempts of one delivery, for docs and checks."""
    return [callback_backoff(settings, n) for n in range(1, settings.callback_max_attempts)]


def deliver_callback(rt: Runtime, delivery_id: str) -> Outcome:
    """Send one pending, due callback; record the attempt; reschedule, finish or give up."""
    settings = rt.settings
    now = rt.now()
    with rt.sessions() as session:
        delivery = session.get(CallbackDelivery, delivery_id)
        if delivery is None:
            log.warning("deliver: delivery %s does not exist", delivery_id)
            return "missing"
        if delivery.status != PENDING:
            log.info("deliver: delivery %s is %s, skipped", delivery_id, delivery.status)
            return "skipped"
        if delivery.next_attempt_at > now:
            # Not due (the undo window, or a backoff): its own countdown or the sweep brings
            # it back. One that came a moment early (clocks of two hosts) waits here.
            early = delivery.next_attempt_at - now
            if early <= EARLY_ARRIVAL_TOLERANCE:
                rt.dispatcher.enqueue_delivery(delivery_id, early.total_seconds())
            return "not_due"
        seen = delivery.attempts
        lease = timedelta(seconds=settings.callback_timeout_s) + CALLBACK_LEASE_MARGIN
        claimed = _rowcount(
            session.execute(
                update(CallbackDelivery)
                .where(
                    CallbackDelivery.id == delivery_id,
                    CallbackDelivery.status == PENDING,
                    CallbackDelivery.attempts == seen,
                    CallbackDelivery.next_attempt_at <= now,
                )
                # The lease: if this worker dies mid-send the delivery is due again later.
                .values(attempts=seen + 1, next_attempt_at=now + lease)
                .execution_options(synchronize_session=False)
            )
        )
        session.commit()
        if not claimed:
            log.info("deliver: delivery %s claimed by another worker", delivery_id)
            return "skipped"
        attempt = seen + 1
        url, payload, site_id = delivery.url, dict(delivery.payload), delivery.site_id

    attempted_at = rt.now()
    status_code: int | None = None
    duration_ms = 0.0
    error: str | None = None
    try:
        key_id, secret = _site_key(rt, site_id)
        answer = rt.post(
            url,
            payload,
            key_id=key_id,
            secret=secret,
            timeout_s=settings.callback_timeout_s,
            delivery_id=delivery_id,
        )
        status_code, duration_ms = answer.status_code, answer.duration_ms
    except cms_client.CallbackError as exc:
        status_code, duration_ms, error = exc.status_code, exc.duration_ms, str(exc)
    except Exception as exc:  # a broken site key or URL is a failed attempt like any other
        error = f"{type(exc).__name__}: {str(exc)[:ERROR_MESSAGE_MAX_CHARS]}"

    finished_at = rt.now()
    outcome: Outcome
    retry_at: datetime | None = None
    with rt.sessions() as session, session.begin():
        session.add(
            CallbackAttempt(
                delivery_id=delivery_id,
                attempted_at=attempted_at,
                status_code=status_code,
                duration_ms=duration_ms,
                error=error,
            )
        )
        mine = (CallbackDelivery.id == delivery_id, CallbackDelivery.attempts == attempt)
        if error is None:
            # Recorded as delivered even if cancelled meanwhile: the CMS did get it.
            values: dict[str, Any] = {
                "status": DELIVERED,
                "delivered_at": finished_at,
                "last_error": None,
            }
            outcome = "delivered"
        elif attempt >= settings.callback_max_attempts:
            values = {"status": DEAD, "last_error": error}
            outcome = "dead"
        else:
            retry_at = finished_at + callback_backoff(settings, attempt)
            values = {"next_attempt_at": retry_at, "last_error": error}
            outcome = "retry"
        condition = mine if error is None else (*mine, CallbackDelivery.status == PENDING)
        session.execute(
            update(CallbackDelivery)
            .where(*condition)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    log.info(
        "deliver: delivery %s attempt %d %s (HTTP %s, %.0f ms)",
        delivery_id,
        attempt,
        outcome,
        status_code,
        duration_ms,
    )
    if retry_at is not None:
        rt.dispatcher.enqueue_delivery(delivery_id, (retry_at - finished_at).total_seconds())
    return outcome


def _site_key(rt: Runtime, site_id: str) -> tuple[str, str]:
    with rt.sessions() as session:
        site = session.get(Site, site_id)
        if site is None:
            raise LookupError(f"site {site_id} does not exist")
        return site.key_id, decrypt(rt.settings.secret_key, site.secret_enc)


# --- sweep --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepReport:
    submissions: int
    deliveries: int


def sweep(rt: Runtime, batch: int = SWEEP_BATCH) -> SweepReport:
    """Re-enqueue submissions stuck in `queued` and pending deliveries that are due."""
    now = rt.now()
    cutoff = now - timedelta(seconds=rt.settings.stuck_after_s)
    with rt.sessions() as session, session.begin():
        stuck = list(
            session.scalars(
                select(Submission.id)
                .where(
                    Submission.status == QUEUED,
                    Submission.updated_at < cutoff,
                    or_(
                        Submission.scoring_lease_until.is_(None),
                        Submission.scoring_lease_until <= now,
                    ),
                )
                .order_by(Submission.updated_at)
                .limit(batch)
            )
        )
        if stuck:
            # Marks them re-enqueued (and bumps updated_at), so the next sweep leaves them
            # alone for another stuck_after_s.
            session.execute(
                update(Submission)
                .where(Submission.id.in_(stuck), Submission.status == QUEUED)
                .values(enqueued_at=now)
                .execution_options(synchronize_session=False)
            )
        due = list(
            session.scalars(
                select(CallbackDelivery.id)
                .where(CallbackDelivery.status == PENDING, CallbackDelivery.next_attempt_at <= now)
                .order_by(CallbackDelivery.next_attempt_at)
                .limit(batch)
            )
        )
    for submission_id in stuck:
        rt.dispatcher.enqueue_score(submission_id)
    for delivery_id in due:
        rt.dispatcher.enqueue_delivery(delivery_id)
    if stuck or due:
        log.info("sweep: re-enqueued %d submissions, %d deliveries", len(stuck), len(due))
    return SweepReport(submissions=len(stuck), deliveries=len(due))


def _rowcount(result: Any) -> bool:
    return cast(CursorResult[Any], result).rowcount == 1


# --- retention ----------------------------------------------------------------------------


def expire_personal_data(rt: Runtime) -> int:
    """Erase authors' personal data past their site's `retention_days`; return how many."""
    with rt.sessions() as session:
        expired = retention.expire_personal_data(session, rt.now())
        session.commit()
    for item in expired:  # after the commit, as the erasure API does
        copies.forget_author_by_id(rt.sessions, rt.settings.redis_url, item.author_id)
    if expired:
        log.info("retention: personal data of %d authors erased", len(expired))
    return len(expired)


# --- Celery -------------------------------------------------------------------------------

_runtime: Runtime | None = None
_runtime_lock = threading.Lock()


def runtime(settings: Settings, send: Sender) -> Runtime:
    """Return this process's Runtime, building it on first use (after any fork)."""
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            _runtime = Runtime.build(settings, send)
        return _runtime


def register(app: Any, settings: Settings) -> None:
    """Register the tasks on a Celery app under the names in service.dispatch."""
    from celery.signals import worker_process_init

    def send(name: str, args: list[Any], queue: str) -> None:
        countdown = args[1] if name == DELIVER_CALLBACK and len(args) > 1 else None
        app.send_task(name, args=args[:1], queue=queue, countdown=countdown)

    def current() -> Runtime:
        return runtime(settings, send)

    @worker_process_init.connect(weak=False)  # type: ignore[untyped-decorator]
    def _warm_up(**_kwargs: Any) -> None:
        # Each pool process loads the models before its first task; a worker that only
        # delivers callbacks (-Q delivery) never needs them.
        if SCORING_QUEUE in app.amqp.queues.consume_from:
            current().scorer()

    @app.task(name=SCORE_SUBMISSION, bind=True, max_retries=None, soft_time_limit=120, shared=False)  # type: ignore[untyped-decorator]
    def score_task(self: Any, submission_id: str) -> str:
        result = score_submission(current(), submission_id)
        if result.retry_in_s is not None:
            raise self.retry(countdown=result.retry_in_s)
        return result.outcome

    @app.task(name=DELIVER_CALLBACK, shared=False)  # type: ignore[untyped-decorator]
    def deliver_task(delivery_id: str) -> str:
        return deliver_callback(current(), delivery_id)

    @app.task(name=RETENTION, shared=False)  # type: ignore[untyped-decorator]
    def retention_task() -> int:
        return expire_personal_data(current())

    @app.task(name=RETRAIN_SITE_MODELS, shared=False)  # type: ignore[untyped-decorator]
    def retrain_task() -> dict[str, str]:
        rt = current()
        return learning.retrain_all(rt.sessions, rt.settings.models_dir, rt.now)

    @app.task(name=SWEEP, shared=False)  # type: ignore[untyped-decorator]
    def sweep_task() -> dict[str, int]:
        report = sweep(current())
        return {"submissions": report.submissions, "deliveries": report.deliveries}
