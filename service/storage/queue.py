"""Read the moderation queue: keyset pages, filters with counts, claims, notes, author history.

Pages use the (site_id, status, priority, id) and (site_id, status, received_at, id)
indexes: a page is "the next N rows after this cursor", never OFFSET, so page 1000 costs
what page 1 costs. Facet counts are taken within the first `FACET_SCAN_LIMIT` items of each
status (riskiest first) and marked as lower bounds beyond that, so they read a bounded
number of rows whatever the filter, and the queue stays fast at millions of rows.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from service.scoring.types import SIGNALS
from service.storage.models import (
    FAILED,
    QUEUED,
    SCORED,
    STATUSES,
    Decision,
    Note,
    Result,
    Submission,
    User,
)

Order = Literal["priority", "time"]
ORDERS: tuple[Order, ...] = ("priority", "time")
KINDS = ("comment", "letter")
PAGE_SIZE = 50
#: Rows a facet count reads at most; beyond it the count is shown as "at least".
FACET_SCAN_LIMIT = 2_000
#: How long opening an item keeps it for one moderator.
CLAIM_TTL = timedelta(minutes=5)
#: A bulk decision on a filter acts on at most this many items at once.
BULK_LIMIT = 500
NOTE_MAX_CHARS = 5_000


class QueueError(ValueError):
    """A filter or cursor that cannot be used; the message says which part."""


@dataclass(frozen=True)
class QueueFilter:
    """What the moderator asked to see, parsed from the query string."""

    status: str = SCORED
    kind: str | None = None
    language: str | None = None
    article: str | None = None
    # Only items where this signal is flagged.
    signal: str | None = None
    # Only items whose `below_signal` score is strictly below `below_value`
    # ("approve all with toxicity below 0.1").
    below_signal: str | None = None
    below_value: float | None = None
    order: Order = "priority"

    @classmethod
    def parse(cls, args: Any) -> QueueFilter:
        """Build a filter from a mapping of query parameters, refusing unknown values."""

        def pick(name: str) -> str | None:
            value = args.get(name)
            return value.strip() or None if isinstance(value, str) else None

        status = pick("status") or SCORED
        if status not in STATUSES:
            raise QueueError(f"status must be one of {', '.join(STATUSES)}")
        kind = pick("kind")
        if kind is not None and kind not in KINDS:
            raise QueueError("kind must be comment or letter")
        signal = pick("signal")
        if signal is not None and signal not in SIGNALS:
            raise QueueError(f"signal must be one of {', '.join(SIGNALS)}")
        below_signal = pick("below_signal")
        below_raw = pick("below_value")
        below_value: float | None = None
        if below_signal is not None or below_raw is not None:
            if below_signal not in SIGNALS:
                raise QueueError(f"below_signal must be one of {', '.join(SIGNALS)}")
            try:
                below_value = float(below_raw or "")
            except ValueError:
                raise QueueError("below_value must be a number between 0 and 1") from None
            if not 0.0 <= below_value <= 1.0:
                raise QueueError("below_value must be a number between 0 and 1")
        order = pick("order") or "priority"
        if order not in ORDERS:
            raise QueueError("order must be priority or time")
        language = pick("language")
        if language is not None and (len(language) > 8 or not language.isalpha()):
            raise QueueError("language must be a language code such as de or en")
        article = pick("article")
        if article is not None and len(article) > 200:
            raise QueueError("article must be an article id of at most 200 characters")
        return cls(
            status=status,
            kind=kind,
            language=language,
            article=article,
            signal=signal,
            below_signal=below_signal,
            below_value=below_value,
            order=order,
        )

    def as_args(self, **changes: Any) -> dict[str, str]:
        """Return the filter as query parameters (for links), with some fields changed."""
        f = replace(self, **changes)
        out: dict[str, str] = {}
        if f.status != SCORED:
            out["status"] = f.status
        for name in ("kind", "language", "article", "signal", "below_signal"):
            value = getattr(f, name)
            if value is not None:
                out[name] = value
        if f.below_value is not None:
            out["below_value"] = f"{f.below_value:g}"
        if f.order != "priority":
            out["order"] = f.order
        return out

    @property
    def effective_order(self) -> Order:
        # Queued and failed items have no priority yet: they are worked oldest first.
        return "time" if self.status in (QUEUED, FAILED) else self.order


@dataclass(frozen=True)
class QueueRow:
    """One line of the queue list: enough to decide whether to open it, no full text."""

    id: str
    external_id: str
    kind: str
    status: str
    priority: float | None
    language: str | None
    received_at: datetime
    article_title: str | None
    author_name: str | None
    excerpt: str
    flagged: tuple[str, ...]
    scores: dict[str, float]
    claimed_by: str | None
    claimed_by_email: str | None
    claimed_until: datetime | None
    error: str | None


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    next_cursor: str | None


@dataclass(frozen=True)
class Count:
    value: int
    # True when the count stopped at FACET_SCAN_LIMIT: the real number is at least `value`.
    at_least: bool = False

    def __str__(self) -> str:
        return f"{self.value}+" if self.at_least else str(self.value)


@dataclass(frozen=True)
class Facets:
    statuses: dict[str, Count] = field(default_factory=dict)
    kinds: dict[str, Count] = field(default_factory=dict)
    languages: dict[str, Count] = field(default_factory=dict)
    signals: dict[str, Count] = field(default_factory=dict)
    total: Count = Count(0)


def _signal_path(name: str) -> Any:
    return Result.data["signals"][name]


def _conditions(site_id: str, flt: QueueFilter) -> list[Any]:
    conds: list[Any] = [Submission.site_id == site_id, Submission.status == flt.status]
    if flt.kind:
        conds.append(Submission.kind == flt.kind)
    if flt.language:
        conds.append(Submission.language == flt.language)
    if flt.article:
        conds.append(Submission.article_external_id == flt.article)
    if flt.signal:
        conds.append(_signal_path(flt.signal)["flagged"].as_boolean().is_(True))
    if flt.below_signal and flt.below_value is not None:
        conds.append(_signal_path(flt.below_signal)["score"].as_float() < flt.below_value)
    return conds


def _needs_result(flt: QueueFilter) -> bool:
    return bool(flt.signal or flt.below_signal)


def _encode_cursor(row: QueueRow, order: Order) -> str:
    key: Any = row.priority if order == "priority" else row.received_at.isoformat()
    raw = json.dumps([order, key, row.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, order: Order) -> tuple[Any, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        kind, key, ident = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if kind != order or not isinstance(ident, str):
            raise ValueError
        if order == "priority":
            return float(key), ident
        return datetime.fromisoformat(key), ident
    except (ValueError, TypeError, json.JSONDecodeError):
        raise QueueError("the page cursor is not valid for this ordering") from None


def _excerpt(text: str, limit: int = 160) -> str:
    flat = " ".join(text[: limit * 2].split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def list_page(
    session: Session,
    site_id: str,
    flt: QueueFilter,
    *,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
) -> QueuePage:
    """Return one keyset page of a site's queue under a filter, riskiest or oldest first."""
    order = flt.effective_order
    key_col: Any = Submission.priority if order == "priority" else Submission.received_at
    # Highest priority first; oldest first when ordered by time.
    descending = order == "priority"
    stmt = (
        sa.select(
            Submission.id,
            Submission.external_id,
            Submission.kind,
            Submission.status,
            Submission.priority,
            Submission.language,
            Submission.received_at,
            Submission.article_title,
            sa.func.substr(Submission.text, 1, 320).label("head"),
            Submission.claimed_by,
            Submission.claimed_until,
            Submission.error,
            Submission.author_id,
        )
        .where(*_conditions(site_id, flt))
        .limit(limit + 1)
    )
    if _needs_result(flt):
        stmt = stmt.join(Result, Result.submission_id == Submission.id)
    if cursor:
        key, ident = _decode_cursor(cursor, order)
        if descending:
            stmt = stmt.where(sa.tuple_(key_col, Submission.id) < sa.tuple_(key, ident))
        else:
            stmt = stmt.where(sa.tuple_(key_col, Submission.id) > sa.tuple_(key, ident))
    if descending:
        stmt = stmt.order_by(key_col.desc(), Submission.id.desc())
    else:
        stmt = stmt.order_by(key_col.asc(), Submission.id.asc())
    raw = session.execute(stmt).all()
    more = len(raw) > limit
    raw = raw[:limit]
    ids = [r.id for r in raw]
    results: dict[str, dict[str, Any]] = {}
    authors: dict[str, str | None] = {}
    claimers: dict[str, str] = {}
    if ids:
        for sid, data in session.execute(
            sa.select(Result.submission_id, Result.data).where(Result.submission_id.in_(ids))
        ):
            results[sid] = data
        author_ids = {r.author_id for r in raw if r.author_id}
        if author_ids:
            from service.storage.models import Author

            for aid, name in session.execute(
                sa.select(Author.id, Author.name).where(Author.id.in_(author_ids))
            ):
                authors[aid] = name
        claimer_ids = {r.claimed_by for r in raw if r.claimed_by}
        if claimer_ids:
            for uid, email in session.execute(
                sa.select(User.id, User.email).where(User.id.in_(claimer_ids))
            ):
                claimers[uid] = email
    rows = []
    for r in raw:
        signals = (results.get(r.id) or {}).get("signals", {})
        rows.append(
            QueueRow(
                id=r.id,
                external_id=r.external_id,
                kind=r.kind,
                status=r.status,
                priority=r.priority,
                language=r.language,
                received_at=_aware(r.received_at),
                article_title=r.article_title,
                author_name=authors.get(r.author_id) if r.author_id else None,
                excerpt=_excerpt(r.head or ""),
                flagged=tuple(n for n in SIGNALS if signals.get(n, {}).get("flagged")),
                scores={n: float(v.get("score", 0.0)) for n, v in signals.items()},
                claimed_by=r.claimed_by,
                claimed_by_email=claimers.get(r.claimed_by) if r.claimed_by else None,
                claimed_until=_aware(r.claimed_until) if r.claimed_until else None,
                error=r.error,
            )
        )
    next_cursor = _encode_cursor(rows[-1], order) if more and rows else None
    return QueuePage(rows=rows, next_cursor=next_cursor)


def _aware(value: datetime) -> datetime:
    from datetime import UTC

    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _capped_count(session: Session, stmt: sa.Select[Any]) -> Count:
    sub = stmt.limit(FACET_SCAN_LIMIT + 1).subquery()
    n = int(session.execute(sa.select(sa.func.count()).select_from(sub)).scalar_one())
    if n > FACET_SCAN_LIMIT:
        return Count(FACET_SCAN_LIMIT, at_least=True)
    return Count(n)


def _window(site_id: str, status: str) -> Any:
    """Return the first FACET_SCAN_LIMIT rows of a status in queue order, with results.

    Counting inside this window reads a bounded number of rows whatever the filter: a
    signal that no item has would otherwise make the count read every row of the status.
    """
    key: Any = Submission.received_at if status in (QUEUED, FAILED) else Submission.priority
    order = key.asc() if status in (QUEUED, FAILED) else key.desc()
    ids = (
        sa.select(Submission.id)
        .where(Submission.site_id == site_id, Submission.status == status)
        .order_by(order, Submission.id.desc())
        .limit(FACET_SCAN_LIMIT)
        .subquery()
    )
    return (
        sa.select(
            Submission.id,
            Submission.kind,
            Submission.language,
            Submission.article_external_id,
            Result.data,
        )
        .join(ids, ids.c.id == Submission.id)
        .outerjoin(Result, Result.submission_id == Submission.id)
        .subquery()
    )


def _window_conditions(w: Any, flt: QueueFilter) -> Any:
    conds: list[Any] = []
    if flt.kind:
        conds.append(w.c.kind == flt.kind)
    if flt.language:
        conds.append(w.c.language == flt.language)
    if flt.article:
        conds.append(w.c.article_external_id == flt.article)
    if flt.signal:
        conds.append(w.c.data["signals"][flt.signal]["flagged"].as_boolean().is_(True))
    if flt.below_signal and flt.below_value is not None:
        conds.append(w.c.data["signals"][flt.below_signal]["score"].as_float() < flt.below_value)
    return sa.and_(sa.true(), *conds)


def facets(session: Session, site_id: str, flt: QueueFilter) -> Facets:
    """Count what each filter choice would show, given the other choices of `flt`.

    Counts are taken over the first FACET_SCAN_LIMIT items of each status in queue order
    (riskiest first): exact below that, a lower bound ("1000+") when the window is full.
    """

    def counted(value: int, window_rows: int) -> Count:
        return Count(value, at_least=window_rows >= FACET_SCAN_LIMIT)

    statuses: dict[str, Count] = {}
    for status in STATUSES:
        w = _window(site_id, status)
        rows, matching = session.execute(
            sa.select(
                sa.func.count(), sa.func.count().filter(_window_conditions(w, flt))
            ).select_from(w)
        ).one()
        statuses[status] = counted(int(matching), int(rows))

    w = _window(site_id, flt.status)
    languages_seen = sorted(
        lang
        for lang in session.execute(
            sa.select(w.c.language).where(w.c.language.is_not(None)).distinct().limit(20)
        ).scalars()
        if lang
    )
    choices: list[tuple[str, str, QueueFilter]] = [("total", "", flt)]
    choices += [("kind", k, replace(flt, kind=k)) for k in KINDS]
    choices += [("language", lang, replace(flt, language=lang)) for lang in languages_seen]
    choices += [("signal", sig, replace(flt, signal=sig)) for sig in SIGNALS]
    row = session.execute(
        sa.select(
            sa.func.count(),
            *(sa.func.count().filter(_window_conditions(w, f)) for _, _, f in choices),
        ).select_from(w)
    ).one()
    window_rows, values = int(row[0]), [int(v) for v in row[1:]]
    out: dict[str, dict[str, Count]] = {"kind": {}, "language": {}, "signal": {}}
    total = Count(0)
    for (group, name, _), value in zip(choices, values, strict=True):
        if group == "total":
            total = counted(value, window_rows)
        else:
            out[group][name] = counted(value, window_rows)
    return Facets(
        statuses=statuses,
        kinds=out["kind"],
        languages=out["language"],
        signals=out["signal"],
        total=total,
    )


def newer_than(session: Session, site_id: str, since: datetime) -> int:
    """Count a site's scored items received after `since` (the cheap live-update poll)."""
    stmt = (
        sa.select(sa.literal(1))
        .select_from(Submission)
        .where(
            Submission.site_id == site_id,
            Submission.status == SCORED,
            Submission.received_at > since,
        )
    )
    return _capped_count(session, stmt).value


def matching_ids(
    session: Session, site_id: str, flt: QueueFilter, limit: int = BULK_LIMIT
) -> list[str]:
    """Return the ids a bulk decision on a filter acts on, in queue order, at most `limit`."""
    page = list_page(session, site_id, flt, limit=limit)
    return [r.id for r in page.rows]


# --- claims -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """Who holds an item and until when; `mine` tells whether it is the asking user."""

    user_id: str | None
    until: datetime | None
    mine: bool


def claim(
    session: Session, submission_id: str, user_id: str, now: datetime, ttl: timedelta = CLAIM_TTL
) -> Claim:
    """Claim an item for `user_id` unless someone else holds an unexpired claim on it.

    One conditional UPDATE, so two moderators opening the same item at the same moment
    cannot both get it.
    """
    until = now + ttl
    taken = session.execute(
        sa.update(Submission)
        .where(
            Submission.id == submission_id,
            sa.or_(
                Submission.claimed_by.is_(None),
                Submission.claimed_by == user_id,
                Submission.claimed_until.is_(None),
                Submission.claimed_until <= now,
            ),
        )
        .values(claimed_by=user_id, claimed_until=until)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    if taken.rowcount == 1:  # type: ignore[attr-defined]
        return Claim(user_id=user_id, until=until, mine=True)
    holder, holder_until = session.execute(
        sa.select(Submission.claimed_by, Submission.claimed_until).where(
            Submission.id == submission_id
        )
    ).one()
    return Claim(user_id=holder, until=_aware(holder_until) if holder_until else None, mine=False)


def current_claim(sub: Submission, user_id: str, now: datetime) -> Claim:
    """Return the live claim on a loaded submission (an expired one counts as none)."""
    if sub.claimed_by is None or sub.claimed_until is None or sub.claimed_until <= now:
        return Claim(user_id=None, until=None, mine=False)
    return Claim(user_id=sub.claimed_by, until=sub.claimed_until, mine=sub.claimed_by == user_id)


def release(session: Session, submission_id: str, user_id: str) -> None:
    """Give an item back (after deciding it or on leaving it)."""
    session.execute(
        sa.update(Submission)
        .where(Submission.id == submission_id, Submission.claimed_by == user_id)
        .values(claimed_by=None, claimed_until=None)
        .execution_options(synchronize_session=False)
    )


# --- notes and history ------------------------------------------------------------------


@dataclass(frozen=True)
class NoteView:
    id: int
    author_email: str | None
    text: str
    created_at: datetime


def add_note(session: Session, submission_id: str, user_id: str, text: str, now: datetime) -> Note:
    """Store a note between moderators; empty or overlong notes are refused."""
    text = text.strip()
    if not text:
        raise QueueError("a note needs some text")
    if len(text) > NOTE_MAX_CHARS:
        raise QueueError(f"a note may have at most {NOTE_MAX_CHARS} characters")
    note = Note(submission_id=submission_id, user_id=user_id, text=text, created_at=now)
    session.add(note)
    session.flush()
    return note


def notes_for(session: Session, submission_id: str) -> list[NoteView]:
    rows = session.execute(
        sa.select(Note.id, User.email, Note.text, Note.created_at)
        .outerjoin(User, User.id == Note.user_id)
        .where(Note.submission_id == submission_id)
        .order_by(Note.created_at, Note.id)
    ).all()
    return [NoteView(r[0], r[1], r[2], _aware(r[3])) for r in rows]


@dataclass(frozen=True)
class HistoryItem:
    id: str
    kind: str
    status: str
    received_at: datetime
    excerpt: str
    decision: str | None
    reason: str | None


def author_history(session: Session, sub: Submission, limit: int = 10) -> Sequence[HistoryItem]:
    """Return the author's earlier submissions on the same site with their last decision."""
    if sub.author_id is None:
        return []
    rows = session.execute(
        sa.select(
            Submission.id,
            Submission.kind,
            Submission.status,
            Submission.received_at,
            sa.func.substr(Submission.text, 1, 320),
        )
        .where(
            Submission.site_id == sub.site_id,
            Submission.author_id == sub.author_id,
            Submission.id != sub.id,
        )
        .order_by(Submission.received_at.desc())
        .limit(limit)
    ).all()
    ids = [r[0] for r in rows]
    decisions: dict[str, tuple[str, str | None]] = {}
    if ids:
        for sid, decision, reason in session.execute(
            sa.select(Decision.submission_id, Decision.decision, Decision.reason)
            .where(Decision.submission_id.in_(ids), Decision.undone_at.is_(None))
            .order_by(Decision.created_at)
        ):
            decisions[sid] = (decision, reason)
    return [
        HistoryItem(
            id=r[0],
            kind=r[1],
            status=r[2],
            received_at=_aware(r[3]),
            excerpt=_excerpt(r[4] or ""),
            decision=decisions.get(r[0], (None, None))[0],
            reason=decisions.get(r[0], (None, None))[1],
        )
        for r in rows
    ]


def latest_decision(session: Session, submission_id: str) -> Decision | None:
    """Return the last decision on an item that was not undone."""
    return session.execute(
        sa.select(Decision)
        .where(Decision.submission_id == submission_id, Decision.undone_at.is_(None))
        .order_by(Decision.created_at.desc())
        .limit(1)
    ).scalar_one_or_none()
