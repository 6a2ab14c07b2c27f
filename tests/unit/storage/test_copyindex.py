from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis

from service.storage import copyindex
from service.storage.copyindex import CopyIndex, corpus_name, delete_keys
from tests.support import RedisServer

ARTICLE = (
    "Der Stadtrat hat am Dienstagabend mit knapper Mehrheit beschlossen, die Gebühren für "
    "das Parken in der Innenstadt ab dem kommenden Frühjahr deutlich zu erhöhen, um den "
    "Ausbau der Buslinien im Norden der Stadt zu finanzieren. Die Opposition kritisierte "
    "den Beschluss scharf und kündigte an, ein Bürgerbegehren zu unterstützen, falls die "
    "Verwaltung die Einnahmen nicht vollständig in den öffentlichen Nahverkehr investiere. "
    "Nach Angaben der Verwaltung sollen die zusätzlichen Einnahmen rund zwei Millionen Euro "
    "im Jahr betragen und vor allem in neue Elektrobusse sowie in dichtere Takte auf den "
    "Linien zwischen Bahnhof, Klinikum und Gewerbegebiet fließen. Der Einzelhandel zeigte "
    "sich besorgt, weil viele Kunden aus dem Umland mit dem Auto kommen und höhere Gebühren "
    "dazu führen könnten, dass sie künftig lieber am Stadtrand einkaufen."
)
OTHER = (
    "Im Freibad an der Lindenstraße beginnt die Saison in diesem Jahr zwei Wochen später, "
    "weil die Sanierung der Becken länger dauert als geplant. Der Bäderbetrieb bittet um "
    "Verständnis und verweist auf das Hallenbad im Süden, das bis Ende Juni geöffnet "
    "bleibt und seine Öffnungszeiten am Wochenende verlängert hat, damit Schulklassen und "
    "Vereine weiter trainieren können, bis das Freibad wieder öffnet."
)
LETTER = (
    "Ich bin empört. Nach Angaben der unfähigen Verwaltung sollen die zusätzlichen "
    "Einnahmen rund zwei Millionen Euro im Jahr betragen und vor allem in neue teure "
    "Elektrobusse sowie in dichtere Takte auf den Linien zwischen Bahnhof, Klinikum und "
    "Gewerbegebiet fließen. Der Einzelhandel zeigte sich besorgt, weil viele Kunden aus "
    "dem Umland mit dem Auto kommen. Das sollte man bedenken."
)


@pytest.fixture
def client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(redis_server.url)
    yield c
    c.close()


@pytest.fixture
def index(client: redis.Redis) -> Iterator[CopyIndex]:
    idx = CopyIndex(client, f"site:{uuid.uuid4().hex}")
    yield idx
    idx.clear()


def test_letter_copying_part_of_an_article_finds_the_article(index: CopyIndex) -> None:
    assert index.add("article", "a1", ARTICLE)
    index.add("article", "a2", OTHER)
    found = index.query(LETTER)
    assert [(c.kind, c.id) for c in found] == [("article", "a1")]
    assert found[0].hits > 0


def test_short_letter_contained_in_a_long_submission_is_found(index: CopyIndex) -> None:
    index.add("submission", "s1", f"{OTHER} {LETTER} {OTHER}")
    assert [c.id for c in index.query(LETTER)] == ["s1"]


def test_replace_forgets_the_old_text(index: CopyIndex) -> None:
    index.add("article", "a1", ARTICLE)
    index.add("article", "a1", OTHER)  # the CMS replaced the article
    assert index.query(LETTER) == []
    assert [c.id for c in index.query(OTHER)] == ["a1"]
    assert len(index) == 1


def test_replace_in_one_batch_and_by_a_too_short_text(index: CopyIndex) -> None:
    # The same id twice in one call: the later text wins, the earlier leaves no entry.
    assert index.add_many([("article", "a1", ARTICLE), ("article", "a1", OTHER)]) == 2
    assert index.query(LETTER) == []
    assert [c.id for c in index.query(OTHER)] == ["a1"]
    assert len(index) == 1
    # Indexing the same text again (a re-sent task) leaves one entry.
    index.add("article", "a1", OTHER)
    assert len(index) == 1
    assert [c.id for c in index.query(OTHER, limit=5)] == ["a1"]
    # A text replaced by one too short to fingerprint is removed.
    assert not index.add("article", "a1", "Danke!")
    assert index.query(OTHER) == []
    assert ("article", "a1") not in index
    assert len(index) == 0


def test_remove_and_exclude(index: CopyIndex) -> None:
    index.add("submission", "s1", LETTER)
    index.add("submission", "s2", LETTER)
    assert {c.id for c in index.query(LETTER)} == {"s1", "s2"}
    assert [c.id for c in index.query(LETTER, exclude=[("submission", "s2")])] == ["s1"]
    assert index.remove("submission", "s1")
    assert not index.remove("submission", "s1")
    assert ("submission", "s1") not in index
    assert [c.id for c in index.query(LETTER)] == ["s2"]


def test_a_new_index_object_sees_what_another_stored(
    index: CopyIndex, redis_server: RedisServer
) -> None:
    index.add("article", "a1", ARTICLE)
    # A restarted worker: a new connection and a new index object on the same corpus.
    fresh = CopyIndex(redis.Redis.from_url(redis_server.url), index.prefix.split(":", 2)[2])
    assert [c.id for c in fresh.query(LETTER)] == ["a1"]
    fresh.client.close()


def test_corpora_are_separate_unless_grouped(client: redis.Redis) -> None:
    group = uuid.uuid4().hex
    a = CopyIndex(client, corpus_name(f"x{group}", None))
    b = CopyIndex(client, corpus_name(f"y{group}", None))
    shared = CopyIndex(client, corpus_name(f"y{group}", group))
    try:
        a.add("article", "a1", ARTICLE)
        assert b.query(LETTER) == []
        assert shared.prefix == CopyIndex(client, corpus_name("z", group)).prefix
    finally:
        for idx in (a, b, shared):
            idx.clear()


def test_too_short_text_is_not_indexed_and_bad_names_are_refused(index: CopyIndex) -> None:
    assert not index.add("submission", "s1", "Danke!")
    assert index.query("Danke!") == []
    with pytest.raises(ValueError, match="kind"):
        index.add("letter", "s1", LETTER)
    with pytest.raises(ValueError, match="corpus"):
        CopyIndex(index.client, "bad name*")


def test_delete_keys_only_touches_the_pattern(client: redis.Redis, index: CopyIndex) -> None:
    index.add("article", "a1", ARTICLE)
    client.set("unrelated-key", "1")
    try:
        assert delete_keys(client, f"{index.prefix}:*") > 0
        assert index.query(LETTER) == []
        assert client.get("unrelated-key") == b"1"
    finally:
        client.delete("unrelated-key")


def test_add_many_in_small_script_chunks_finds_every_text(
    index: CopyIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(copyindex, "APPEND_CHUNK", 7)
    words = (ARTICLE + " " + OTHER).split()
    texts = [" ".join(words[k : k + 40]) for k in range(0, len(words) - 40, 9)]
    assert index.add_many([("submission", f"s{k}", t) for k, t in enumerate(texts)]) == len(texts)
    for k, text in enumerate(texts):
        assert f"s{k}" in [c.id for c in index.query(text)]


def test_a_band_value_shared_by_many_texts_stops_growing(
    index: CopyIndex, monkeypatch: pytest.MonkeyPatch, client: redis.Redis
) -> None:
    monkeypatch.setattr(copyindex, "MAX_POSTING", 3)
    # Two batches: the cap holds both within one script call and across calls.
    assert index.add_many([("submission", f"s{k}", LETTER) for k in range(5)]) == 5
    assert index.add_many([("submission", f"t{k}", LETTER) for k in range(2)]) == 2
    postings = [
        len(value)
        for key in client.scan_iter(match=f"{index.prefix}:b:*")
        for value in client.hvals(key)
    ]
    assert postings and max(postings) == 4 * 3
    # The first texts are the ones kept: the earliest copy is the likely source.
    assert {c.id for c in index.query(LETTER)} == {"s0", "s1", "s2"}
