"""The copy index: candidate sources for copied text, persisted in Redis and shared by workers.

Texts are fingerprinted by `service.scoring.copying.fingerprints` (MinHash of word
3-shingles per 50-word window, 16 LSH bands of 4 rows). The index keeps, per corpus (a
site, or the publishing group of sites that share a `corpus_group`):

- `<p>:seq`           counter of document numbers (4-byte ints keep the buckets small);
- `<p>:ref`           hash doc number -> "article:<id>" / "submission:<id>" (live docs);
- `<p>:num`           hash "kind:id" -> doc number (to replace or remove a text);
- `<p>:b:<n>`         `BUCKETS` hashes: field = 8-byte band hash, value = packed 4-byte
                      doc numbers. Bucketing keeps Redis in its compact listpack encoding
                      instead of one key per band value.

Removing or replacing a text deletes its doc number from `ref`/`num`; bucket entries
are left behind as tombstones (queries skip unknown numbers) and are dropped by
`modassist copyindex rebuild`. A band value shared by more than `MAX_POSTING` texts
(boilerplate) stops growing: it no longer tells texts apart and would bound nothing.
"""

from __future__ import annotations

import struct
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import redis

from service.scoring.copying import fingerprints

PREFIX = "modassist:copy"
BUCKETS = 1 << 19
#: Texts one band value may point to before it is treated as boilerplate.
MAX_POSTING = 512
#: Candidates handed to alignment, best first.
DEFAULT_LIMIT = 20
#: Band entries written per script call.
APPEND_CHUNK = 2000
_DOC = struct.Struct("<I")

# Append doc numbers to band entries atomically (several workers index at once).
_APPEND = """
local cap = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  local field = ARGV[2 * i]
  local cur = redis.call('HGET', key, field)
  if not cur then
    redis.call('HSET', key, field, ARGV[2 * i + 1])
  elseif string.len(cur) < cap then
    redis.call('HSET', key, field, cur .. ARGV[2 * i + 1])
  end
end
return #KEYS
"""


# Fetch many band entries in one round trip; redis-py pipelines cost ~20 µs per command on
# the client, a long letter needs hundreds of look-ups.
_LOOKUP = """
local out = {}
for i, key in ipairs(KEYS) do
  out[i] = redis.call('HGET', key, ARGV[i]) or ''
end
return out
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
        if replace and refs:
            self._forget(refs)
        prints = [(ref, fingerprints(text)) for ref, (_, _, text) in zip(refs, items, strict=True)]
        prints = [(ref, bands) for ref, bands in prints if len(bands)]
        if not prints:
            return 0
        last = int(self.client.incrby(f"{self.prefix}:seq", len(prints)))
        args: list[Any] = [4 * MAX_POSTING]
        keys: list[str] = []
        numbered: dict[Any, Any] = {}  # redis-py's mapping type is invariant
        for offset, (ref, bands) in enumerate(prints):
            num = last - len(prints) + 1 + offset
            packed = _DOC.pack(num)
            numbered[ref] = str(num)
            for value in np.unique(bands.ravel()).tolist():
                keys.append(f"{self.prefix}:b:{value % BUCKETS}")
                args += [struct.pack("<Q", value), packed]
        # A text becomes visible (ref) only after its bands are in: a query never sees a
        # half-indexed text.
        # Short scripts: Redis runs one at a time and is also the broker of the workers.
        for first in range(0, len(keys), APPEND_CHUNK):
            chunk = keys[first : first + APPEND_CHUNK]
            values = args[1 + 2 * first : 1 + 2 * (first + len(chunk))]
            self._append(keys=chunk, args=[args[0], *values])
        pipe = self.client.pipeline(transaction=True)
        by_num: dict[Any, Any] = {num: ref for ref, num in numbered.items()}
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
        values = np.unique(bands.ravel()).tolist()
        keys = [f"{self.prefix}:b:{value % BUCKETS}" for value in values]
        fields = [struct.pack("<Q", value) for value in values]
        postings = b"".join(self._lookup(keys=keys, args=fields))
        counts: Counter[int] = Counter(np.frombuffer(postings, dtype="<u4").tolist())
        if not counts:
            return []
        skip = {self._ref(k, i) for k, i in exclude}
        # Look up a few more than asked for: some are tombstones or excluded.
        top = counts.most_common(limit * 2 + len(skip))
        refs = self.client.hmget(f"{self.prefix}:ref", [str(n) for n, _ in top])
        out: list[Candidate] = []
        for (_num, hits), ref in zip(top, refs, strict=True):
            if ref is None:
                continue
            text_ref = ref.decode() if isinstance(ref, bytes) else str(ref)
            kind, _, ident = text_ref.partition(":")
            if f"{kind}:{ident}" in skip:
                continue
            out.append(Candidate(kind, ident, hits))
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
