"""The copy index: candidate sources for copied text, persisted in Redis and shared by workers.

Texts are fingerprinted by `service.scoring.copying.fingerprints` (MinHash of word
3-shingles per 25-word window, 16 LSH bands of 3 rows). The index keeps, per corpus (a
site, or the publishing group of sites that share a `corpus_group`):

- `<p>:seq`           counter of document numbers (4-byte ints keep the buckets small);
- `<p>:ref`           hash doc number -> "article:<id>" / "submission:<id>" (live docs);
- `<p>:num`           hash "kind:id" -> doc number (to replace or remove a text);
- `<p>:b:<n>`         `BUCKETS` hashes: field = 8-byte band hash (little-endian), value =
                      packed 4-byte doc numbers; n = band hash mod `BUCKETS`. Bucketing
                      keeps Redis in its compact listpack encoding instead of one key per
                      band value.

Writes and look-ups are one Lua script call each (per `APPEND_CHUNK` entries), with the
entries packed into one binary argument and the postings answered as one string: the
client does numpy work and no per-entry Python. The scripts derive the bucket key names
from that argument, which a single Redis allows (Redis Cluster would not).
`service.storage.copywatch` notices when Redis lost the index and rebuilds it.

Removing or replacing a text deletes its doc number from `ref`/`num`; bucket entries
are left behind as tombstones (queries skip unknown numbers) and are dropped by
`modassist copyindex rebuild`. A band value shared by more than `MAX_POSTING` texts
(boilerplate) stops growing: it no longer tells texts apart and would bound nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import redis

from service.scoring.copying import BandHashes, fingerprints, fingerprints_many

PREFIX = "modassist:copy"
BUCKETS = 1 << 19
#: Texts one band value may point to before it is treated as boilerplate.
MAX_POSTING = 512
#: Candidates handed to alignment, best first.
DEFAULT_LIMIT = 20
#: Band entries (16 bytes each) written per script call: at ~4 µs each (measured by
#: bench_copy.py) about 35 ms of Redis time, during which Redis, also the workers' broker,
#: answers nothing else. A submission has ~50 entries, a rebuild chunk ~25,000.
APPEND_CHUNK = 8192
#: One band entry sent to the append script: bucket number, band hash, doc number.
_ENTRY = np.dtype([("bucket", "<u4"), ("value", "<u8"), ("doc", "<u4")])
#: One look-up sent to the lookup script: bucket number, band hash.
_PROBE = np.dtype([("bucket", "<u4"), ("value", "<u8")])

# Append doc numbers to band entries atomically (several workers index at once). ARGV:
# the posting cap in bytes, the bucket key prefix, and the entries packed as `_ENTRY`
# records sorted by band hash, so entries of one band value arrive together and are
# appended in one write. The bucket keys are derived inside the script (one blob instead
# of two arguments per entry): fine on a single Redis, which is what the index supports.
_APPEND = """
local cap = tonumber(ARGV[1])
local prefix = ARGV[2]
local blob = ARGV[3]
local n = string.len(blob) / 16
local sub = string.sub
local call = redis.call
local i = 0
while i < n do
  local p = i * 16
  local field = sub(blob, p + 5, p + 12)
  local new = sub(blob, p + 13, p + 16)
  local j = i + 1
  if j < n and sub(blob, j * 16 + 5, j * 16 + 12) == field then
    local docs = {new}
    repeat
      docs[#docs + 1] = sub(blob, j * 16 + 13, j * 16 + 16)
      j = j + 1
    until j >= n or sub(blob, j * 16 + 5, j * 16 + 12) ~= field
    new = sub(table.concat(docs), 1, cap)
  end
  local key = prefix .. struct.unpack('<I4', blob, p + 1)
  if call('HSETNX', key, field, new) == 0 then
    local cur = call('HGET', key, field)
    if string.len(cur) < cap then
      call('HSET', key, field, cur .. sub(new, 1, cap - string.len(cur)))
    end
  end
  i = j
end
return n
"""

# Make indexed texts visible, replacing earlier texts under the same refs, atomically in
# one round trip (instead of a look-up, a removal and a write). KEYS: the num -> ref and
# ref -> num hashes; ARGV: ref, num pairs.
_PUBLISH = """
local by_num, numbered = KEYS[1], KEYS[2]
for i = 1, #ARGV, 2 do
  local ref, num = ARGV[i], ARGV[i + 1]
  local old = redis.call('HGET', numbered, ref)
  if old and old ~= num then
    redis.call('HDEL', by_num, old)
  end
  redis.call('HSET', by_num, num, ref)
  redis.call('HSET', numbered, ref, num)
end
return #ARGV / 2
"""

# Fetch many band entries in one round trip and answer their postings as one string (a
# multi-bulk reply of hundreds of strings costs the client more than the look-ups).
# ARGV: the bucket key prefix and the look-ups packed as `_PROBE` records.
_LOOKUP = """
local prefix = ARGV[1]
local blob = ARGV[2]
local out = {}
for p = 0, string.len(blob) - 12, 12 do
  local key = prefix .. struct.unpack('<I4', blob, p + 1)
  local found = redis.call('HGET', key, string.sub(blob, p + 5, p + 12))
  if found then
    out[#out + 1] = found
  end
end
return table.concat(out)
"""


def corpus_name(site_id: str, corpus_group: str | None) -> str:
    """Return the corpus a site's texts go into: its publishing group's, or its own."""
    return f"group:{corpus_group}" if corpus_group else f"site:{site_id}"


@dataclass(frozen=True)
class Candidate:
    kind: str  # "article" | "submission"
    id: str
    hits: int  # matching band values: more means more shared text


class CopyIndex:
    """One corpus of the copy index in Redis."""

    def __init__(self, client: redis.Redis, corpus: str) -> None:
        if not corpus or any(c in corpus for c in " \n*?[]"):
            raise ValueError(f"invalid copy corpus name {corpus!r}")
        self.client = client
        self.prefix = f"{PREFIX}:{corpus}"
        self._append = client.register_script(_APPEND)
        self._lookup = client.register_script(_LOOKUP)
        self._publish = client.register_script(_PUBLISH)

    @classmethod
    def from_url(cls, url: str, corpus: str) -> CopyIndex:
        if not url:
            raise ValueError("MODASSIST_REDIS_URL is not set: the copy index needs Redis")
        return cls(redis.Redis.from_url(url), corpus)

    @staticmethod
    def _ref(kind: str, ident: str) -> str:
        if kind not in ("article", "submission"):
            raise ValueError(f"copy index kind must be article or submission, got {kind!r}")
        return f"{kind}:{ident}"

    def add(self, kind: str, ident: str, text: str) -> bool:
        """Index a text, replacing an earlier text under the same kind and id.

        Returns False when the text is too short to fingerprint (it is then only removed).
        """
        return self.add_many([(kind, ident, text)]) == 1

    def add_many(self, items: Sequence[tuple[str, str, str]], *, replace: bool = True) -> int:
        """Index (kind, id, text) triples in a few round trips; return how many were indexed.

        `replace=False` skips the look-up of earlier texts under the same ids (a rebuild
        into an empty corpus).
        """
        refs = [self._ref(kind, ident) for kind, ident, _ in items]
        bands = fingerprints_many([text for _, _, text in items])
        return self.add_fingerprinted(list(zip(refs, bands, strict=True)), replace=replace)

    def add_fingerprinted(
        self, prints: Sequence[tuple[str, BandHashes]], *, replace: bool = True
    ) -> int:
        """Index ("kind:id", band hashes) pairs fingerprinted elsewhere (a process pool).

        Returns how many had any band hashes (the others are only removed).
        """
        if replace:
            # A ref with bands is replaced when it is published (below); one without bands
            # (too short to fingerprint) is only removed.
            empty = [ref for ref, bands in prints if not len(bands)]
            if empty:
                self._forget(empty)
        prints = [(ref, bands) for ref, bands in prints if len(bands)]
        if not prints:
            return 0
        last = int(self.client.incrby(f"{self.prefix}:seq", len(prints)))
        first_num = last - len(prints) + 1
        values = np.concatenate([bands.ravel() for _, bands in prints])
        docs = np.repeat(
            np.arange(first_num, last + 1, dtype=np.uint32),
            [bands.size for _, bands in prints],
        )
        # One entry per (band value, text), grouped by band value, texts in number order.
        order = np.lexsort((docs, values))
        values, docs = values[order], docs[order]
        keep = np.ones(len(values), dtype=bool)
        keep[1:] = (values[1:] != values[:-1]) | (docs[1:] != docs[:-1])
        entries = np.empty(int(keep.sum()), dtype=_ENTRY)
        entries["value"] = values[keep]
        entries["doc"] = docs[keep]
        entries["bucket"] = entries["value"] % np.uint64(BUCKETS)
        # A text becomes visible (ref) only after its bands are in: a query never sees a
        # half-indexed text.
        bucket_prefix = f"{self.prefix}:b:"
        for first in range(0, len(entries), APPEND_CHUNK):
            chunk = entries[first : first + APPEND_CHUNK]
            self._append(args=[4 * MAX_POSTING, bucket_prefix, chunk.tobytes()])
        if replace:
            pairs: list[Any] = []
            for offset, (ref, _) in enumerate(prints):
                pairs += [ref, first_num + offset]
            self._publish(keys=[f"{self.prefix}:ref", f"{self.prefix}:num"], args=pairs)
            return len(prints)
        numbered: dict[Any, Any] = {}  # redis-py's mapping type is invariant
        by_num: dict[Any, Any] = {}
        for offset, (ref, _) in enumerate(prints):
            numbered[ref] = first_num + offset
            by_num[first_num + offset] = ref
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(f"{self.prefix}:ref", mapping=by_num)
        pipe.hset(f"{self.prefix}:num", mapping=numbered)
        pipe.execute()
        return len(prints)

    def _forget(self, refs: Sequence[str]) -> list[bool]:
        nums = self.client.hmget(f"{self.prefix}:num", list(refs))
        pipe = self.client.pipeline(transaction=True)
        for ref, num in zip(refs, nums, strict=True):
            if num is not None:
                pipe.hdel(f"{self.prefix}:ref", num)
                pipe.hdel(f"{self.prefix}:num", ref)
        pipe.execute()
        return [num is not None for num in nums]

    def remove(self, kind: str, ident: str) -> bool:
        """Forget a text; returns whether it was indexed."""
        return self._forget([self._ref(kind, ident)])[0]

    def __contains__(self, key: tuple[str, str]) -> bool:
        return bool(self.client.hexists(f"{self.prefix}:num", self._ref(*key)))

    def query(
        self, text: str, *, limit: int = DEFAULT_LIMIT, exclude: Iterable[tuple[str, str]] = ()
    ) -> list[Candidate]:
        """Return the indexed texts that share windows with `text`, most shared first."""
        bands = fingerprints(text, query=True)
        if len(bands) == 0:
            return []
        values = np.unique(bands)
        probes = np.empty(len(values), dtype=_PROBE)
        probes["value"] = values
        probes["bucket"] = values % np.uint64(BUCKETS)
        postings = self._lookup(args=[f"{self.prefix}:b:", probes.tobytes()])
        if not postings:
            return []
        nums, hits = np.unique(np.frombuffer(postings, dtype="<u4"), return_counts=True)
        skip = {self._ref(k, i) for k, i in exclude}
        # Look up a few more than asked for: some are tombstones or excluded. Most hits
        # first, the older text first among equals.
        order = np.argsort(-hits, kind="stable")[: limit * 2 + len(skip)]
        top = [(int(nums[k]), int(hits[k])) for k in order]
        refs = self.client.hmget(f"{self.prefix}:ref", [n for n, _ in top])
        out: list[Candidate] = []
        for (_num, count), ref in zip(top, refs, strict=True):
            if ref is None:
                continue
            text_ref = ref.decode() if isinstance(ref, bytes) else str(ref)
            kind, _, ident = text_ref.partition(":")
            if f"{kind}:{ident}" in skip:
                continue
            out.append(Candidate(kind, ident, count))
            if len(out) == limit:
                break
        return out

    def __len__(self) -> int:
        return int(self.client.hlen(f"{self.prefix}:ref"))

    def clear(self) -> None:
        """Delete this corpus entirely."""
        delete_keys(self.client, f"{self.prefix}:*")


def delete_keys(client: redis.Redis, pattern: str) -> int:
    """Delete every key matching a pattern, in batches (SCAN, never KEYS)."""
    deleted = 0
    batch: list[bytes] = []
    for key in _scan(client, pattern):
        batch.append(key)
        if len(batch) >= 1000:
            deleted += int(client.delete(*batch))
            batch = []
    if batch:
        deleted += int(client.delete(*batch))
    return deleted


def _scan(client: redis.Redis, pattern: str) -> Iterator[bytes]:
    yield from client.scan_iter(match=pattern, count=1000)
