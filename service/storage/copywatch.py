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

`rebuild` is the same work done at once, in one process: `modassist copyindex rebuild`
runs it after a restore from an old snapshot, or to drop the tombstones of replaced and
removed texts. It waits for the lock (a beat step holds it for `budget_s` plus one chunk),
then continues a rebuild under way or starts one, whatever the marker says, and runs it to
the end. The marker also counts the texts that were too short to fingerprint (`skipped`)
and the texts indexed per corpus (`indexed:<corpus>`); `summary` reads them.

`status` tells /readyz and /metrics what state the index is in.
"""

from __future__ import annotations

import logging
import math
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
#: Seconds `rebuild` waits for the lock: a beat step releases it within its budget, and the
#: lock of a rebuilder that died expires after `LOCK_TTL_S`.
LOCK_WAIT_S = float(LOCK_TTL_S)
#: Seconds between two attempts to take the lock while `rebuild` waits.
LOCK_POLL_S = 0.5
#: Marker fields counting the texts indexed into each corpus: `indexed:<corpus>`.
_INDEXED = "indexed:"

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


class RebuildBusy(RuntimeError):
    """Another process holds the rebuild lock (or took it over during the rebuild)."""


def rebuild(
    client: redis.Redis,
    sessions: sessionmaker[Session],
    *,
    progress: Callable[[IndexState], None] | None = None,
    wait_s: float = LOCK_WAIT_S,
    chunk: int = CHUNK,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Rebuild the whole index now, with the watch's steps and lock; return `summary`.

    Waits up to `wait_s` for the lock, then raises `RebuildBusy`. A rebuild under way
    (marker `rebuilding`, left by the beat task between two steps or by a rebuilder that
    died) is continued: it began by deleting the corpora too. Otherwise the corpora are
    deleted and rebuilt, also when the marker says `ready`. `progress` gets the state
    after every chunk (instead of a log line per chunk, as the watch writes). Raises
    redis.RedisError when Redis is unreachable.
    """
    token = uuid.uuid4().hex
    give_up = clock() + wait_s
    while not client.set(LOCK_KEY, token, nx=True, ex=LOCK_TTL_S):
        if clock() >= give_up:
            found = status(client)
            raise RebuildBusy(
                f"another process holds the copy index rebuild lock ({LOCK_KEY}) after "
                f"{wait_s:.0f} s of waiting; its rebuild is {found.state}, "
                f"{found.done} of {found.total} texts"
            )
        sleep(LOCK_POLL_S)
    try:
        found = status(client)
        if found.state == REBUILDING:
            log.info("copy index rebuild: continuing at %d of %d texts", found.done, found.total)
        else:
            _start(client, sessions, found.state)
        state = _continue(client, sessions, token, math.inf, chunk, clock, progress)
    finally:
        client.eval(_RELEASE, 1, LOCK_KEY, token)
    if state.state != READY:
        raise RebuildBusy("the copy index rebuild lock expired and another process took over")
    return summary(client)


def summary(client: redis.Redis) -> dict[str, Any]:
    """Return the counts the marker keeps: texts read, skipped, and indexed per corpus.

    `articles` and `submissions` are the texts read from the database; `skipped` those
    of them too short to fingerprint (not indexed); `corpora` the texts indexed per corpus.
    """
    fields = {_text(k): _text(v) for k, v in client.hgetall(STATE_KEY).items()}
    corpora = {
        name[len(_INDEXED) :]: int(value)
        for name, value in sorted(fields.items())
        if name.startswith(_INDEXED)
    }
    return {
        "state": fields.get("state") or MISSING,
        "articles": int(fields.get("articles") or 0),
        "submissions": int(fields.get("submissions") or 0),
        "skipped": int(fields.get("skipped") or 0),
        "indexed": sum(corpora.values()),
        "corpora": corpora,
    }


def _start(client: redis.Redis, sessions: sessionmaker[Session], why: str) -> None:
    if why == MISSING:
        log.warning("copy index: no marker in Redis (data lost or first start); rebuilding")
    elif why == OUTDATED:
        log.warning("copy index: marker of another format; rebuilding in format %s", FORMAT)
    else:
        log.info("copy index: rebuild requested (the index was %s)", why)
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
            "skipped": 0,
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
    progress: Callable[[IndexState], None] | None = None,
) -> IndexState:
    """Index chunks until done or `deadline`; after each, log progress or tell `progress`."""
    fields = {_text(k): _text(v) for k, v in client.hgetall(STATE_KEY).items()}
    phase, after = fields.get("phase", "articles"), fields.get("after", "")
    # Texts read per phase (the progress), texts skipped, texts indexed per corpus: saved
    # with the cursor in one write, so they count a chunk done twice once.
    counts = {name: int(fields.get(name) or 0) for name in ("articles", "submissions", "skipped")}
    counts.update({name: int(value) for name, value in fields.items() if name.startswith(_INDEXED)})
    total = int(fields.get("total") or 0)

    def done() -> int:
        return counts["articles"] + counts["submissions"]

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
                added = CopyIndex(client, corpus).add_many(items, replace=True)
                counts[_INDEXED + corpus] = counts.get(_INDEXED + corpus, 0) + added
                counts["skipped"] += len(items) - added
            counts[phase] += len(rows)
            if len(rows) < chunk:
                phase, after = ("submissions", "") if phase == "articles" else ("", "")
            else:
                after = rows[-1][0]
            if _text(client.get(LOCK_KEY)) != token:  # expired and taken over: stop here
                log.warning("copy index rebuild: lock lost, leaving the rest to its holder")
                return IndexState(REBUILDING, done(), total)
            client.expire(LOCK_KEY, LOCK_TTL_S)
            saved: dict[Any, Any] = {"phase": phase, "after": after, **counts}  # invariant type
            client.hset(STATE_KEY, mapping=saved)
            if not phase:
                client.hset(STATE_KEY, mapping={"state": READY, "finished_at": int(time.time())})
            state = IndexState(REBUILDING if phase else READY, done(), total, worked=True)
            if progress is None:
                log.info(
                    "copy index rebuild: %d of %d texts (%d articles, %d submissions)",
                    done(),
                    total,
                    counts["articles"],
                    counts["submissions"],
                )
            else:
                progress(state)
            if not phase:
                log.info("copy index rebuild: finished, %d texts", done())
                return state
    return IndexState(REBUILDING, done(), total, worked=True)
