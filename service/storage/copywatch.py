"""Notice that Redis lost the copy index, and rebuild it from the database in the background.

The index lives in Redis (by default the broker's). A Redis that restarts empty, or is
replaced, takes the index with it, and copies would go undetected without any error:
look-ups just find nothing. So a marker hash, `STATE_KEY`, records that this Redis holds a
complete index in the current `FORMAT`. It is written when a rebuild finishes; a Redis
without it has lost the index (or never had one: a first start is the same case with an
empty database).

`watch` is called periodically (the worker's beat task `COPY_INDEX_WATCH`). When the
marker is missing or of another format it takes a lock, deletes what is left of the
corpora (texts scored since the loss are in the database and come back), and reindexes
articles and scored submissions of authors not erased, in id order, `CHUNK` texts at a
time, for at most `budget_s` seconds per call. Progress (cursor and counts, never text) is
kept in the marker, so the next call, in this process or another one, goes on where the
last one stopped; every chunk replaces what it indexes, so a chunk done twice (a worker
died after writing, before saving the cursor) costs work, not correctness. Texts scored
or articles stored while the rebuild runs are indexed by the normal path and only
replaced when the cursor passes them. When the cursor has passed everything the marker
says `ready`.

`status` tells /readyz and /metrics what state the index is in.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from service.storage.copyindex import PREFIX, CopyIndex, corpus_name, delete_keys
from service.storage.models import APPROVED, REJECTED, SCORED, Article, Author, Site, Submission

log = logging.getLogger(__name__)

#: The beat task's name (registered by worker.tasks, scheduled by worker.app).
COPY_INDEX_WATCH = "modassist.copy_index_watch"
#: Seconds between two checks: after a loss, copies go unnoticed for at most this long
#: plus the rebuild.
WATCH_INTERVAL_S = 30.0
#: Outside `PREFIX:*`, so deleting the corpora (here or in `modassist copyindex rebuild`)
#: leaves it alone.
STATE_KEY = "modassist:copyindex:state"
LOCK_KEY = "modassist:copyindex:rebuild-lock"
#: Bump when the fingerprints or the layout in Redis change: every Redis then rebuilds.
FORMAT = "copy-1"
#: A rebuilder that stopped renewing its lock for this long is taken over.
LOCK_TTL_S = 120
#: Texts read from the database and indexed per step.
CHUNK = 500
#: Seconds of rebuilding per `watch` call; the caller calls again at once while unfinished.
DEFAULT_BUDGET_S = 10.0

READY = "ready"
REBUILDING = "rebuilding"
MISSING = "missing"
OUTDATED = "outdated"
UNKNOWN = "unknown"

_DONE = (SCORED, APPROVED, REJECTED)

# Delete the lock only while it is still ours.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


@dataclass(frozen=True)
class IndexState:
    """What a check found; `worked` says whether this call rebuilt anything."""

    state: str  # READY | REBUILDING | MISSING | OUTDATED | UNKNOWN (Redis unreachable)
    done: int = 0
    total: int = 0
    worked: bool = False

    @property
    def progress(self) -> float:
        if self.state == READY:
            return 1.0
        return min(1.0, self.done / self.total) if self.total else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "done": self.done,
            "total": self.total,
            "progress": round(self.progress, 4),
        }


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else value


def status(client: redis.Redis) -> IndexState:
    """Read the marker: ready, rebuilding (with progress), missing or outdated."""
    try:
        raw = client.hgetall(STATE_KEY)
    except redis.RedisError:
        return IndexState(UNKNOWN)
    return _state(raw)


def _state(raw: dict[Any, Any]) -> IndexState:
    fields = {_text(k): _text(v) for k, v in raw.items()}
    if not fields:
        return IndexState(MISSING)
    if fields.get("format") != FORMAT:
        return IndexState(OUTDATED)
    done = int(fields.get("articles") or 0) + int(fields.get("submissions") or 0)
    total = int(fields.get("total") or 0)
    return IndexState(fields.get("state") or MISSING, done, total)


def mark_ready(client: redis.Redis, *, texts: int = 0) -> None:
    """Record that this Redis holds a complete index (after a full rebuild)."""
    client.delete(STATE_KEY)
    client.hset(
        STATE_KEY,
        mapping={"format": FORMAT, "state": READY, "total": texts, "finished_at": int(time.time())},
    )


def watch(
    client: redis.Redis,
    sessions: sessionmaker[Session],
    *,
    budget_s: float = DEFAULT_BUDGET_S,
    chunk: int = CHUNK,
    clock: Callable[[], float] = time.monotonic,
) -> IndexState:
    """Check the marker; when the index is lost or outdated, rebuild for up to `budget_s`.

    Returns the state after this call. Another process holding the rebuild lock is left
    to it (`worked` is then False).
    """
    found = status(client)
    if found.state in (READY, UNKNOWN):
        return found
    token = uuid.uuid4().hex
    if not client.set(LOCK_KEY, token, nx=True, ex=LOCK_TTL_S):
        return found
    try:
        if found.state in (MISSING, OUTDATED):
            _start(client, sessions, found.state)
        return _continue(client, sessions, token, clock() + budget_s, chunk, clock)
    finally:
        client.eval(_RELEASE, 1, LOCK_KEY, token)


def _start(client: redis.Redis, sessions: sessionmaker[Session], why: str) -> None:
    if why == MISSING:
        log.warning("copy index: no marker in Redis (data lost or first start); rebuilding")
    else:
        log.warning("copy index: marker of another format; rebuilding in format %s", FORMAT)
    # Leftovers (another format, or texts indexed since the loss) would be duplicates.
    deleted = delete_keys(client, f"{PREFIX}:*")
    with sessions() as session:
        total = int(session.scalar(select(func.count()).select_from(Article)) or 0)
        eligible = _submissions().subquery()
        total += int(session.scalar(select(func.count()).select_from(eligible)) or 0)
    client.delete(STATE_KEY)
    client.hset(
        STATE_KEY,
        mapping={
            "format": FORMAT,
            "state": REBUILDING,
            "phase": "articles",
            "after": "",
            "articles": 0,
            "submissions": 0,
            "total": total,
            "started_at": int(time.time()),
        },
    )
    log.info("copy index rebuild: started, %d texts to index, %d old keys deleted", total, deleted)


def _submissions() -> Any:
    """Scored submissions whose authors are not erased (what the index may show)."""
    return (
        select(Submission.id, Submission.site_id, Submission.text)
        .outerjoin(Author, Submission.author_id == Author.id)
        .where(Submission.status.in_(_DONE), Author.erased_at.is_(None))
    )


def _continue(
    client: redis.Redis,
    sessions: sessionmaker[Session],
    token: str,
    deadline: float,
    chunk: int,
    clock: Callable[[], float],
) -> IndexState:
    fields = {_text(k): _text(v) for k, v in client.hgetall(STATE_KEY).items()}
    phase, after = fields.get("phase", "articles"), fields.get("after", "")
    counts = {"articles": int(fields.get("articles") or 0)}
    counts["submissions"] = int(fields.get("submissions") or 0)
    total = int(fields.get("total") or 0)
    with sessions() as session:
        sites = {s.id: corpus_name(s.id, s.corpus_group) for s in session.scalars(select(Site))}
        while clock() < deadline:
            query = (
                select(Article.id, Article.site_id, Article.text)
                if phase == "articles"
                else _submissions()
            )
            column = Article.id if phase == "articles" else Submission.id
            rows = session.execute(query.where(column > after).order_by(column).limit(chunk)).all()
            kind = "article" if phase == "articles" else "submission"
            by_corpus: dict[str, list[tuple[str, str, str]]] = {}
            for ident, site_id, text in rows:
                by_corpus.setdefault(sites[site_id], []).append((kind, ident, text))
            for corpus, items in by_corpus.items():
                CopyIndex(client, corpus).add_many(items, replace=True)
            counts[phase] += len(rows)
            if len(rows) < chunk:
                phase, after = ("submissions", "") if phase == "articles" else ("", "")
            else:
                after = rows[-1][0]
            if _text(client.get(LOCK_KEY)) != token:  # expired and taken over: stop here
                log.warning("copy index rebuild: lock lost, leaving the rest to its holder")
                return IndexState(REBUILDING, sum(counts.values()), total)
            client.expire(LOCK_KEY, LOCK_TTL_S)
            saved: dict[Any, Any] = {"phase": phase, "after": after, **counts}  # invariant type
            client.hset(STATE_KEY, mapping=saved)
            log.info(
                "copy index rebuild: %d of %d texts (%d articles, %d submissions)",
                sum(counts.values()),
                total,
                counts["articles"],
                counts["submissions"],
            )
            if not phase:
                client.hset(STATE_KEY, mapping={"state": READY, "finished_at": int(time.time())})
                log.info("copy index rebuild: finished, %d texts", sum(counts.values()))
                return IndexState(READY, sum(counts.values()), total, worked=True)
    return IndexState(REBUILDING, sum(counts.values()), total, worked=True)
