"""A copy index lost with Redis is noticed and rebuilt from the database (real Redis, both DBs)."""

from __future__ import annotations

import itertools
import json
import random
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import redis
from click.testing import CliRunner
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from service.cli import main
from service.settings import Settings
from service.storage import articles, authors, copies, copywatch, submissions
from service.storage.copyindex import PREFIX, CopyIndex
from service.storage.db import make_session_factory
from service.storage.models import Site, Submission
from service.web import create_app
from tests.support import RedisServer
from tests.unit.storage.factories import make_site, payload, score

ARTICLE = (
    "Der Stadtrat hat am Dienstagabend mit knapper Mehrheit beschlossen, die Gebühren für "
    "das Parken in der Innenstadt ab dem kommenden Frühjahr deutlich zu erhöhen, um den "
    "Ausbau der Buslinien im Norden der Stadt zu finanzieren. Die Opposition kritisierte "
    "den Beschluss scharf und kündigte an, ein Bürgerbegehren zu unterstützen, falls die "
    "Verwaltung die Einnahmen nicht vollständig in den öffentlichen Nahverkehr investiere."
)
# Letters that share no word 3-gram: each is its own draw from a vocabulary.
WORDS = (
    "Rat Stadt Bürger Geld Schule Halle Bad Markt Weg Straße Platz Park Haus Kirche Bahn Bus "
    "Auto Rad Brücke Turm Feld Wald Fluss See Berg Tal Dorf Kreis Land Amt Gericht Polizei "
    "Feuerwehr Klinik Arzt Lehrer Kind Eltern Familie Nachbar Verein Sport Musik Theater Kino "
    "Museum Bibliothek Zeitung Radio Fernsehen Internet Strom Wasser Gas Heizung Miete Steuer "
    "Gebühr Kosten Preis Lohn Rente Arbeit Firma Handel Laden Bäcker Metzger Bauer Ernte Wetter "
    "Regen Sturm Schnee Sommer Winter Frühling Herbst Morgen Abend Nacht Woche Monat Jahr "
    "laut leise schnell langsam teuer billig neu alt gut schlecht groß klein hell dunkel warm "
    "kalt nass trocken voll leer offen geschlossen früh spät nah fern hoch tief breit schmal"
)
VOCABULARY = WORDS.split()


def letter_text(k: int) -> str:
    return " ".join(random.Random(k).choices(VOCABULARY, k=45)) + "."


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis of this test alone, which it restarts (empty: it never saves)."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def client(own_redis: RedisServer) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(own_redis.url)
    yield c
    c.close()


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


def one_step_clock() -> Callable[[], float]:
    """A clock under which `watch` does exactly one chunk: deadline 1.0, then time 10."""
    return itertools.chain([0.0, 0.0], itertools.repeat(10.0)).__next__


def scored_letter(session: Session, site: Site, k: int, author: str) -> Submission:
    person = submissions.AuthorIn(external_id=author, name=f"Name {author}")
    row, _ = submissions.ingest(session, site, payload(f"l-{k}", letter_text(k), author=person))
    session.commit()
    score(session, row)
    return row


def candidates(session: Session, client: redis.Redis, site: Site, text: str) -> set[str]:
    probe, _ = submissions.ingest(session, site, payload(f"probe-{len(text)}-{hash(text)}", text))
    session.commit()
    return {r.id for r in copies.candidate_references(session, client, probe)}


def test_a_redis_that_restarts_empty_is_noticed_and_rebuilt_in_steps(
    db_session: Session,
    factory: sessionmaker[Session],
    client: redis.Redis,
    own_redis: RedisServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    site, _ = make_site(db_session)
    art, _ = articles.upsert(db_session, site, articles.ArticleIn("ext-1", "Parken", ARTICLE))
    db_session.commit()
    letters = [scored_letter(db_session, site, k, f"u{k}") for k in range(7)]
    erased = letters[3]
    assert authors.erase(db_session, site, "u3", actor="test") is not None
    db_session.commit()

    # First start: no marker, so the index is built (here from an already filled database).
    first = copywatch.watch(client, factory)
    assert (first.state, first.done, first.total) == (copywatch.READY, 7, 7)
    assert copywatch.status(client).state == copywatch.READY
    assert candidates(db_session, client, site, ARTICLE) == {art.id}
    assert candidates(db_session, client, site, letter_text(5)) == {letters[5].id}

    own_redis.stop()
    own_redis.start()  # empty: the private server never saves
    # What goes wrong unnoticed without the watch: a verbatim copy finds no source.
    assert candidates(db_session, client, site, letter_text(5)) == set()
    assert copywatch.status(client).state == copywatch.MISSING

    caplog.set_level("INFO", logger="service.storage.copywatch")
    steps = []
    while True:
        state = copywatch.watch(client, factory, chunk=2, clock=one_step_clock())
        steps.append((state.state, state.done))
        if state.state == copywatch.READY:
            break
        assert copywatch.status(client).state == copywatch.REBUILDING
        assert len(steps) < 20
    # One article, then 6 letters two at a time, then a step that finds none left.
    assert steps == [
        ("rebuilding", 1),
        ("rebuilding", 3),
        ("rebuilding", 5),
        ("rebuilding", 7),
        ("ready", 7),
    ]
    assert copywatch.status(client).progress == 1.0
    for k, row in enumerate(letters):
        expected = set() if row is erased else {row.id}
        assert candidates(db_session, client, site, letter_text(k)) == expected
    assert candidates(db_session, client, site, ARTICLE) == {art.id}
    # Progress is logged with counts only: no text of any letter or article.
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "7 of 7 texts" in logged
    assert not re.search(r"Leserbrief|Stadtrat|Bürger", logged)


def test_a_repeated_chunk_after_a_crash_leaves_no_duplicates(
    db_session: Session, factory: sessionmaker[Session], client: redis.Redis
) -> None:
    site, _ = make_site(db_session)
    letters = [scored_letter(db_session, site, k, f"u{k}") for k in range(5)]
    assert copywatch.watch(client, factory, chunk=2, clock=one_step_clock()).done == 0
    assert copywatch.watch(client, factory, chunk=2, clock=one_step_clock()).done == 2
    # The rebuilder died after indexing its next chunk but before saving the cursor.
    index = CopyIndex(client, f"site:{site.id}")
    assert index.add_many([("submission", r.id, r.text) for r in letters[2:4]]) == 2
    client.delete(copywatch.LOCK_KEY)  # its lock expired
    done = copywatch.watch(client, factory)
    assert done.state == copywatch.READY
    assert len(index) == 5
    for k, row in enumerate(letters):
        found = index.query(letter_text(k))
        assert [c.id for c in found] == [row.id]


def test_a_second_watcher_leaves_the_rebuild_to_the_lock_holder(
    db_session: Session, factory: sessionmaker[Session], client: redis.Redis
) -> None:
    site, _ = make_site(db_session)
    scored_letter(db_session, site, 0, "u0")
    client.set(copywatch.LOCK_KEY, "another-worker")
    state = copywatch.watch(client, factory)
    assert (state.state, state.worked) == (copywatch.MISSING, False)
    assert client.get(copywatch.LOCK_KEY) == b"another-worker"
    client.delete(copywatch.LOCK_KEY)
    assert copywatch.watch(client, factory).state == copywatch.READY
    assert client.get(copywatch.LOCK_KEY) is None


def test_an_index_of_another_format_is_replaced(
    db_session: Session, factory: sessionmaker[Session], client: redis.Redis
) -> None:
    site, _ = make_site(db_session)
    row = scored_letter(db_session, site, 0, "u0")
    stale = CopyIndex(client, f"site:{site.id}")
    stale.add("submission", "gone-from-the-database", letter_text(0))
    client.hset(copywatch.STATE_KEY, mapping={"format": "copy-0", "state": "ready"})
    assert copywatch.status(client).state == copywatch.OUTDATED
    assert copywatch.watch(client, factory).state == copywatch.READY
    assert [c.id for c in stale.query(letter_text(0))] == [row.id]
    assert client.hget(copywatch.STATE_KEY, "format") == copywatch.FORMAT.encode()


def test_a_ready_index_is_left_alone_and_an_unreachable_redis_is_unknown(
    db_session: Session, factory: sessionmaker[Session], client: redis.Redis
) -> None:
    assert copywatch.rebuild(client, factory)["state"] == copywatch.READY  # empty database
    site, _ = make_site(db_session)
    scored_letter(db_session, site, 0, "u0")  # scored but (here) never indexed
    assert copywatch.watch(client, factory).state == copywatch.READY
    assert not client.keys(f"{PREFIX}:*")
    dead = redis.Redis(port=1, socket_connect_timeout=0.2)
    assert copywatch.status(dead).state == copywatch.UNKNOWN
    assert copywatch.watch(dead, factory).state == copywatch.UNKNOWN


def test_readyz_and_metrics_show_the_copy_index_state(
    db_session: Session,
    settings: Settings,
    factory: sessionmaker[Session],
    client: redis.Redis,
    own_redis: RedisServer,
) -> None:
    from dataclasses import replace

    app = create_app(replace(settings, redis_url=own_redis.url))
    web = app.test_client()
    answer = web.get("/readyz")
    assert answer.status_code == 200  # a lost copy index does not stop the intake
    assert answer.get_json()["copy_index"]["state"] == "missing"
    body = web.get("/metrics").get_data(as_text=True)
    assert re.search(r"^modassist_copy_index_ready 0\.0$", body, re.MULTILINE)
    copywatch.rebuild(client, factory)
    assert web.get("/readyz").get_json()["copy_index"]["state"] == "ready"
    body = web.get("/metrics").get_data(as_text=True)
    assert re.search(r"^modassist_copy_index_ready 1\.0$", body, re.MULTILINE)
    assert re.search(r"^modassist_copy_index_rebuild_progress 1\.0$", body, re.MULTILINE)


def index_content(client: redis.Redis) -> dict[str, dict[str, frozenset[bytes]]]:
    """Return what the index holds, apart from its document numbers: per corpus, the band
    values of every live text. Tombstones (numbers no text holds) are left out."""
    content = {}
    for key in client.scan_iter(match=f"{PREFIX}:*:ref"):
        prefix = key.decode().removesuffix(":ref")
        refs = {int(num): ref.decode() for num, ref in client.hgetall(key).items()}
        bands: dict[str, set[bytes]] = {ref: set() for ref in refs.values()}
        for bucket in client.scan_iter(match=f"{prefix}:b:*"):
            for value, docs in client.hgetall(bucket).items():
                for num in np.frombuffer(docs, dtype="<u4"):
                    if int(num) in refs:
                        bands[refs[int(num)]].add(value)
        content[prefix.removeprefix(f"{PREFIX}:")] = {r: frozenset(b) for r, b in bands.items()}
    return content


def postings(client: redis.Redis) -> int:
    """Count the document numbers in all band entries, tombstones included."""
    return sum(
        len(docs) // 4
        for bucket in client.scan_iter(match=f"{PREFIX}:*:b:*")
        for docs in client.hvals(bucket)
    )


@pytest.fixture
def cli(
    settings: Settings, own_redis: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., tuple[int, str, str]]:
    """Run `modassist copyindex rebuild ARGS` on this test's database and Redis."""
    for name, value in {
        "MODASSIST_DATABASE_URL": settings.database_url,
        "MODASSIST_REDIS_URL": own_redis.url,
        "MODASSIST_DATA_DIR": str(settings.data_dir),
    }.items():
        monkeypatch.setenv(name, value)

    def run(*args: str) -> tuple[int, str, str]:
        answer = CliRunner().invoke(main, ["copyindex", "rebuild", *args])
        return answer.exit_code, answer.stdout, answer.stderr

    return run


def test_the_cli_and_the_beat_rebuild_give_the_same_index(
    db_session: Session,
    factory: sessionmaker[Session],
    client: redis.Redis,
    cli: Callable[..., tuple[int, str, str]],
) -> None:
    site, _ = make_site(db_session)
    other, _ = make_site(db_session, "Kurier")
    articles.upsert(db_session, site, articles.ArticleIn("ext-1", "Parken", ARTICLE))
    articles.upsert(db_session, other, articles.ArticleIn("ext-1", "Parken", ARTICLE))
    db_session.commit()
    for k in range(5):
        scored_letter(db_session, site if k % 2 else other, k, f"u{k}")
    assert authors.erase(db_session, site, "u1", actor="test") is not None
    db_session.commit()
    short, _ = submissions.ingest(db_session, site, payload("l-short", "Ja."))
    db_session.commit()
    score(db_session, short)  # too short to fingerprint: read, skipped

    while copywatch.watch(client, factory, chunk=2, clock=one_step_clock()).state != "ready":
        pass
    by_beat, beat_counts = index_content(client), copywatch.summary(client)
    site_corpus, other_corpus = f"site:{site.id}", f"site:{other.id}"
    assert {corpus: len(texts) for corpus, texts in by_beat.items()} == {
        site_corpus: 2,  # the article and letter 3 (letter 1's author is erased)
        other_corpus: 4,  # the article and letters 0, 2, 4
    }
    # A replaced article leaves its old band entries behind as tombstones.
    replaced = "Ganz anders: " + letter_text(99)
    art, _ = articles.upsert(db_session, site, articles.ArticleIn("ext-1", "Neu", replaced))
    db_session.commit()
    copies.index_article(client, site, art)
    tombstones = postings(client)
    articles.upsert(db_session, site, articles.ArticleIn("ext-1", "Parken", ARTICLE))
    db_session.commit()  # the database as the beat rebuilt it

    code, out, err = cli()
    assert code == 0, err
    by_cli = index_content(client)
    assert by_cli == by_beat
    assert postings(client) < tombstones  # the tombstones are gone
    counts = json.loads(out.strip().splitlines()[-1])
    assert counts == beat_counts
    assert counts == {
        "state": "ready",
        "articles": 2,
        "submissions": 5,  # letters 0, 2, 3, 4 and the short one
        "skipped": 1,
        "indexed": 6,
        "corpora": {site_corpus: 2, other_corpus: 4},
    }
    # The workers' watch sees a complete index and does not rebuild it again.
    assert copywatch.status(client).state == copywatch.READY
    assert not copywatch.watch(client, factory).worked


def test_the_cli_waits_for_the_lock_and_then_gives_up_clearly(
    db_session: Session,
    factory: sessionmaker[Session],
    client: redis.Redis,
    cli: Callable[..., tuple[int, str, str]],
) -> None:
    site, _ = make_site(db_session)
    scored_letter(db_session, site, 0, "u0")
    client.set(copywatch.LOCK_KEY, "a-beat-step")
    code, out, err = cli("--wait-seconds", "0")
    assert code == 1 and out == ""
    assert "another process holds the copy index rebuild lock" in err
    assert client.get(copywatch.LOCK_KEY) == b"a-beat-step"
    assert copywatch.status(client).state == copywatch.MISSING

    waits: list[float] = []

    def step_ends(seconds: float) -> None:  # the beat step finishes while the CLI waits
        waits.append(seconds)
        client.delete(copywatch.LOCK_KEY)

    assert copywatch.rebuild(client, factory, sleep=step_ends)["indexed"] == 1
    assert waits == [copywatch.LOCK_POLL_S]
    assert copywatch.status(client).state == copywatch.READY
    assert client.get(copywatch.LOCK_KEY) is None


def test_a_rebuild_by_hand_continues_the_one_under_way(
    db_session: Session, factory: sessionmaker[Session], client: redis.Redis
) -> None:
    site, _ = make_site(db_session)
    letters = [scored_letter(db_session, site, k, f"u{k}") for k in range(5)]
    copywatch.watch(client, factory, chunk=2, clock=one_step_clock())  # starts
    assert copywatch.watch(client, factory, chunk=2, clock=one_step_clock()).done == 2
    index = CopyIndex(client, f"site:{site.id}")
    assert len(index) == 2
    shown: list[tuple[str, int]] = []
    counts = copywatch.rebuild(
        client, factory, chunk=2, progress=lambda s: shown.append((s.state, s.done))
    )
    # Not started again: the two letters indexed by the beat step were not read twice.
    assert shown == [("rebuilding", 4), ("ready", 5)]
    assert (counts["submissions"], counts["indexed"]) == (5, 5)
    assert len(index) == 5
    for k, row in enumerate(letters):
        assert [c.id for c in index.query(letter_text(k))] == [row.id]
