"""Count the n-grams of a fitted scikit-learn vectoriser fast, as vocabulary indices.

scikit-learn builds character n-grams in pure Python, one string slice and one lookup in
a dict of ~100,000 n-grams per gram: for a 400-character comment about 1,600 of each,
0.3 ms per model. `GramCounter` computes the same `char_wb` n-grams with numpy instead:
every character becomes a small number, every n-gram of up to five characters one
integer code, and the codes are counted and looked up in the sorted codes of the
vocabulary in a few array operations (about 0.09 ms). Word 1-2-grams go the same way:
each token becomes its number in the vocabulary's token list (one dict look-up per token
instead of one per n-gram plus scikit-learn's string joins), a bigram the pair of numbers.
"""

from __future__ import annotations

import math
import re
from itertools import repeat
from typing import Any

import numpy as np
from numpy.typing import NDArray

Indices = NDArray[np.intp]
Counts = NDArray[np.int64]
Codes = NDArray[np.int64]

#: Bits per character in an n-gram code: 5 characters of 12 bits fit in an int64.
CHAR_BITS = 12
MAX_CODED_CHARS = 5
#: How many words' n-gram codes `word_codes` remembers.
WORD_CACHE = 50_000
#: Slots of each side of a CodeTable: a power of two at least this many times the codes
#: (both sides together at most 40 % full: cuckoo placement needs under 50 %).
TABLE_SLOTS_PER_CODE = 1.25
#: scikit-learn's default token_pattern, which the word path reproduces.
DEFAULT_TOKEN_PATTERN = r"(?u)\b\w\w+\b"  # noqa: S105 (not a password)

_EMPTY: Indices = np.zeros(0, dtype=np.intp)
_NO_COUNTS: Counts = np.zeros(0, dtype=np.int64)
_NO_CODES: Codes = np.zeros(0, dtype=np.int64)


class GramCounter:
    """Count the in-vocabulary n-grams of texts for one fitted Count- or TfidfVectorizer.

    `counts(text)` returns the vocabulary indices of the distinct n-grams that
    `build_analyzer()(text)` yields and that are in `vocabulary_`, with how often each
    occurs: the counts scikit-learn's `transform` uses. The order of the indices is not
    the analyser's, so sums over them may differ from scikit-learn's in the last bits
    (float rounding, about 1e-16 of the sum).
    """

    def __init__(self, vectorizer: Any) -> None:
        self.vocabulary: dict[str, int] = vectorizer.vocabulary_
        self.analyze = vectorizer.build_analyzer()
        params = vectorizer.get_params()
        min_n, max_n = params["ngram_range"]
        alphabet = sorted({ch for gram in self.vocabulary for ch in gram})
        # The array path reproduces exactly the default char_wb analyser; anything else
        # (custom preprocessor, accent stripping, long n-grams) uses scikit-learn's.
        self.coded = (
            params["analyzer"] == "char_wb"
            and params["preprocessor"] is None
            and not params["strip_accents"]
            and params["input"] == "content"
            and 1 <= min_n <= 3  # a padded word has 3+ characters: no short-word case
            and min_n <= max_n <= MAX_CODED_CHARS
            and _CHARS.add(alphabet)
        )
        self.lowercase = bool(params["lowercase"])
        self.min_n, self.max_n = int(min_n), int(max_n)
        self._word_cache: dict[str, Codes] = {}
        self._table: CodeTable | None = None
        #: Whether word n-grams are counted by token numbers (the default word analyser).
        self.words_coded = (
            params["analyzer"] == "word"
            and params["preprocessor"] is None
            and params["tokenizer"] is None
            and params["stop_words"] is None
            and not params["strip_accents"]
            and params["input"] == "content"
            and params["token_pattern"] == DEFAULT_TOKEN_PATTERN
            and min_n == 1
            and max_n in (1, 2)
        )
        if self.words_coded:
            self._init_words()
        if not self.coded:
            return
        # Character numbers (_CHARS, shared by all counters) start at 1: 0 means "no
        # character" in shorter n-grams.
        position = _CHARS.number
        codes = np.fromiter(
            (
                sum(position[ch] << (CHAR_BITS * k) for k, ch in enumerate(gram))
                for gram in self.vocabulary
            ),
            dtype=np.int64,
            count=len(self.vocabulary),
        )
        index = np.fromiter(self.vocabulary.values(), dtype=np.intp, count=len(self.vocabulary))
        order = np.argsort(codes)
        self._codes: Codes = codes[order]
        self._index: Indices = index[order]

    def _init_words(self) -> None:
        # Token numbers start at 1; a token outside the vocabulary's gets `_unknown`, which
        # no vocabulary code contains. A unigram's code is its number t (< base), a
        # bigram's t1 * base + t2 (>= base).
        tokens = sorted({t for gram in self.vocabulary for t in gram.split(" ")})
        self._token_number = {t: i + 1 for i, t in enumerate(tokens)}
        self._unknown = len(tokens) + 1
        self._base = len(tokens) + 2
        self._tokenize = re.compile(DEFAULT_TOKEN_PATTERN).findall
        number, base = self._token_number, self._base
        codes = np.fromiter(
            (
                number[g]
                if " " not in g
                else number[g.split(" ")[0]] * base + number[g.split(" ")[1]]
                for g in self.vocabulary
            ),
            dtype=np.int64,
            count=len(self.vocabulary),
        )
        index = np.fromiter(self.vocabulary.values(), dtype=np.intp, count=len(self.vocabulary))
        order = np.argsort(codes)
        self._codes = codes[order]
        self._index = index[order]

    def use_table(self) -> None:
        """Look codes up in a hash table from now on, not by binary search (same results).

        A binary search in ~100,000 sorted codes costs ~16 scattered memory reads per
        code, a `CodeTable` two: for a 400-character comment's ~630 distinct character
        n-grams about 33 -> 15 µs, for ~4-8 MB per 100,000 codes. Only for coded counters.
        The sorted codes and their indices are then let go (16 bytes per code; 7 MB for
        the toxicity and claims models): every look-up goes to the table.
        """
        if (self.coded or self.words_coded) and self._table is None:
            self._table = CodeTable(self._codes, self._index)
            self._codes, self._index = _NO_CODES, _EMPTY

    def word_gram_codes(self, text: str) -> Codes:
        """Return the code of every word n-gram of text (only for `words_coded` counters)."""
        return self.token_gram_codes(self._tokenize(text.lower() if self.lowercase else text))

    def token_numbers(self, tokens: list[str]) -> Codes:
        """Return each token's number: the code of its unigram (only for `words_coded`)."""
        return np.fromiter(
            map(self._token_number.get, tokens, repeat(self._unknown)),
            dtype=np.int64,
            count=len(tokens),
        )

    def token_gram_codes(self, tokens: list[str]) -> Codes:
        """Return the codes of the word n-grams of tokens: unigrams, then bigrams in order."""
        if not tokens:
            return _NO_CODES
        numbers = self.token_numbers(tokens)
        if self.max_n == 1:
            return numbers
        return np.concatenate([numbers, numbers[:-1] * self._base + numbers[1:]])

    def counts(self, text: str) -> tuple[Indices, Counts]:
        """Return the distinct in-vocabulary n-grams of text (vocabulary indices) and counts."""
        if self.coded:
            return self.lookup(self.codes(text))
        if self.words_coded:
            return self.lookup(self.word_gram_codes(text))
        vocabulary = self.vocabulary
        found: dict[int, int] = {}
        for gram in self.analyze(text):
            index = vocabulary.get(gram)
            if index is not None:
                found[index] = found.get(index, 0) + 1
        if not found:
            return _EMPTY, _NO_COUNTS
        return (
            np.fromiter(found.keys(), dtype=np.intp, count=len(found)),
            np.fromiter(found.values(), dtype=np.int64, count=len(found)),
        )

    def codes(self, text: str) -> Codes:
        """Return the code of every char_wb n-gram of text, in or out of the vocabulary.

        The n-grams of a text are those of its whitespace-separated words, each padded
        with one space, all lengths from min_n to max_n that fit in the padded word
        (what scikit-learn's _char_wb_ngrams yields, there in another order): first all
        of length min_n in word order, then min_n + 1 and so on. Only for `coded`
        counters; codes of several texts may be joined and looked up together. Counters
        share the character numbers and the last texts' codes (`_RecentTexts`): the claims
        and toxicity models count the same comment's n-grams once.
        """
        blocks = _LAST.blocks(text.lower() if self.lowercase else text, self.max_n)
        wanted = blocks[self.min_n - 1 : self.max_n]
        if len(wanted) == 1:
            return wanted[0]
        return np.concatenate(wanted) if wanted else _NO_CODES

    def lookup(self, codes: Codes) -> tuple[Indices, Counts]:
        """Return the vocabulary indices of the distinct known codes, and their counts."""
        index, counts, _codes = self.lookup_codes(codes)
        return index, counts

    def lookup_codes(self, codes: Codes) -> tuple[Indices, Counts, Codes]:
        """Return `lookup`'s indices and counts, and the codes they belong to (ascending)."""
        if not codes.size:
            return _EMPTY, _NO_COUNTS, _NO_CODES
        distinct, counts = distinct_counts(codes)
        if self._table is not None:
            found = self._table.get(distinct)
            hit = found >= 0
            return found[hit], counts[hit], distinct[hit]
        known = self._codes
        where = np.searchsorted(known, distinct)
        where[where == known.size] = 0
        hit = known[where] == distinct
        return self._index[where[hit]], counts[hit].astype(np.int64, copy=False), distinct[hit]

    def lookup_each(self, codes: Codes) -> tuple[Indices, Indices]:
        """Return the vocabulary index of each known code and the code's position in codes."""
        if not codes.size:
            return _EMPTY, _EMPTY
        if self._table is not None:
            found = self._table.get(codes)
            hit = np.flatnonzero(found >= 0)
            return found[hit], hit
        known = self._codes
        where = np.searchsorted(known, codes)
        where[where == known.size] = 0
        hit = np.flatnonzero(known[where] == codes)
        return self._index[where[hit]], hit

    def word_codes(self, words: list[str]) -> tuple[Codes, Indices]:
        """Return the distinct n-gram codes of each word, and which word each code is of.

        Each word is padded as char_wb pads it; the words must not contain whitespace.
        The codes are grouped by word (in the order of `words`), ascending within a word.
        Each word's codes are remembered (explaining texts asks for the same words often).
        """
        if not words:
            return _NO_CODES, _EMPTY
        cache = self._word_cache
        missing = [w for w in dict.fromkeys(words) if w not in cache]
        if missing:
            if len(cache) + len(missing) > WORD_CACHE:
                cache.clear()
            codes, owner = self._word_codes(missing)
            bounds = np.searchsorted(owner, np.arange(len(missing) + 1)).tolist()
            for k, word in enumerate(missing):
                cache[word] = codes[bounds[k] : bounds[k + 1]]
        found = [cache[w] for w in words]
        sizes = np.fromiter(map(len, found), dtype=np.intp, count=len(found))
        return np.concatenate(found), np.repeat(np.arange(len(words)), sizes)

    def _word_codes(self, words: list[str]) -> tuple[Codes, Indices]:
        blocks = _blocks(" ".join(words), self.max_n)[self.min_n - 1 : self.max_n]
        codes = np.concatenate(blocks) if blocks else _NO_CODES
        if not codes.size:
            return _NO_CODES, _EMPTY
        # codes() gives the n-grams of each length in word order; recover the word of each.
        lengths = np.fromiter(map(len, words), dtype=np.intp, count=len(words)) + 2
        owner = []
        for n in range(self.min_n, self.max_n + 1):
            per_word = np.maximum(lengths - n + 1, 0)
            owner.append(np.repeat(np.arange(len(words)), per_word))
        word = np.concatenate(owner)
        order = np.lexsort((codes, word))
        codes, word = codes[order], word[order]
        first = np.ones(codes.size, dtype=bool)
        first[1:] = (codes[1:] != codes[:-1]) | (word[1:] != word[:-1])
        return codes[first], word[first]


def log_count_ratio(x: Any, y: NDArray[np.int_], alpha: float = 1.0) -> NDArray[np.float64]:
    """Return per column of x the naive-Bayes log-count ratio (NB-LR, Wang & Manning 2012).

    log of P(column present | y = 1) / P(column present | y = 0), with alpha added to the
    number of texts of each class that have the column, each side normalised to sum 1
    over x's columns. Training code for the NB-LR views of toxicity and claims.
    """
    present = (x > 0).astype(np.float64)
    positive = alpha + np.asarray(present[y == 1].sum(axis=0)).ravel()
    negative = alpha + np.asarray(present[y == 0].sum(axis=0)).ravel()
    ratio: NDArray[np.float64] = np.log((positive / positive.sum()) / (negative / negative.sum()))
    return ratio


def distinct_counts(codes: Codes) -> tuple[Codes, Counts]:
    """Return `np.unique(codes, return_counts=True)` (the same arrays, less overhead)."""
    ordered = np.sort(codes)
    first = np.empty(ordered.size, dtype=bool)
    first[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    counts = np.empty(starts.size, dtype=np.int64)
    counts[:-1] = starts[1:] - starts[:-1]
    counts[-1:] = ordered.size - starts[-1:]
    return ordered[starts], counts


class CodeTable:
    """Non-negative int64 codes -> values in a two-sided cuckoo hash table, for numpy.

    Each code sits in one of two tables, at the slot that table's multiplicative hash
    gives it; `get` reads both slots of every code in a few array operations: two
    memory reads per code instead of the ~16 of a binary search in the sorted codes.
    """

    def __init__(self, codes: Codes, values: Indices, seed: int = 20261125) -> None:
        self.bits = max(4, math.ceil(math.log2(max(codes.size, 1) * TABLE_SLOTS_PER_CODE)))
        self.shift = np.uint64(64 - self.bits)
        rng = np.random.default_rng(seed)
        for _attempt in range(20):
            odd = rng.integers(1 << 62, size=2, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
            self.multipliers = (odd[0], odd[1])
            if self._place(codes, values):
                return
        raise ValueError("no cuckoo layout found for the codes")

    def _slots(self, codes: Codes, side: int) -> Indices:
        product = codes.view(np.uint64) * self.multipliers[side]
        slots: Indices = (product >> self.shift).view(np.intp)
        return slots

    def _place(self, codes: Codes, values: Indices) -> bool:
        size = 1 << self.bits
        wanted = [self._slots(codes, 0).tolist(), self._slots(codes, 1).tolist()]
        held = [[-1] * size, [-1] * size]  # which code sits in each slot
        for code in range(codes.size):
            item, side = code, 0
            for _move in range(500):
                slot = wanted[side][item]
                item, held[side][slot] = held[side][slot], item
                if item < 0:
                    break
                side ^= 1
            else:
                return False
        self.keys: list[Codes] = []
        self.values: list[Indices] = []
        for side in (0, 1):
            code_at = np.asarray(held[side], dtype=np.intp)
            used = code_at >= 0
            keys = np.full(size, -1, dtype=np.int64)  # codes are >= 0: -1 matches none
            found = np.full(size, -1, dtype=np.intp)
            keys[used] = codes[code_at[used]]
            found[used] = values[code_at[used]]
            self.keys.append(keys)
            self.values.append(found)
        return True

    def get(self, codes: Codes) -> Indices:
        """Return the value of each code, -1 for a code not in the table."""
        first, second = self._slots(codes, 0), self._slots(codes, 1)
        value: Indices = np.where(self.keys[0].take(first) == codes, self.values[0].take(first), -1)
        other = self.keys[1].take(second) == codes
        value[other] = self.values[1].take(second[other])
        return value


#: The character number no vocabulary n-gram contains (a character no counter knows).
UNKNOWN_CHAR = (1 << CHAR_BITS) - 1


class _CharTable:
    """One numbering of characters for every coded GramCounter of the process.

    Each counter adds the characters of its vocabulary; a number never changes once
    given. A text's codes under the current numbering are right for every counter (a
    character another counter added appears in none of this one's vocabulary codes, just
    like UNKNOWN_CHAR), so two counters can share them.
    """

    def __init__(self) -> None:
        self.number: dict[str, int] = {}
        #: Each code point's number, UNKNOWN_CHAR for code points no counter knows; the
        #: last entry (one past the highest known code point) stands for all higher ones.
        self.dense: Codes = np.full(1, UNKNOWN_CHAR, dtype=np.int64)
        #: Grows when characters are added (the codes of `_LAST` are then stale).
        self.version = 0

    def add(self, alphabet: list[str]) -> bool:
        """Number the new characters; False if they do not fit in CHAR_BITS."""
        new = [ch for ch in alphabet if ch not in self.number]
        if len(self.number) + len(new) >= UNKNOWN_CHAR:
            return False
        if not new:
            return True
        for ch in new:
            self.number[ch] = len(self.number) + 1
        points = np.fromiter(map(ord, self.number), dtype=np.intp, count=len(self.number))
        numbers = np.fromiter(self.number.values(), dtype=np.int64, count=len(self.number))
        dense = np.full(int(points.max()) + 2, UNKNOWN_CHAR, dtype=np.int64)
        dense[points] = numbers
        self.dense = dense
        self.version += 1
        return True


_CHARS = _CharTable()


def _blocks(text: str, max_n: int) -> list[Codes]:
    """Return the char_wb n-gram codes of text per length 1..max_n (fewer if it is short)."""
    words = text.split()
    if not words:
        return []
    # The padded words side by side: " w1  w2  w3 ".
    joined = " " + "  ".join(words) + " "
    points = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    dense = _CHARS.dense
    # Code points above the highest known one read the table's last entry (unknown).
    chars = dense.take(points, mode="clip")
    lengths = np.fromiter(map(len, words), dtype=np.intp, count=len(words)) + 2
    word_of = np.repeat(np.arange(len(words)), lengths)
    size = chars.size
    out = []
    code = chars
    for n in range(1, max_n + 1):
        if n > size:
            break
        if n > 1:
            code = code[: size - n + 1] | (chars[n - 1 :] << (CHAR_BITS * (n - 1)))
        out.append(code if n == 1 else code[word_of[: size - n + 1] == word_of[n - 1 :]])
    return out


class _RecentTexts:
    """The n-gram codes of the last few texts counted, per length (shared by all counters).

    A comment's toxicity and claims models count it one after the other; explaining a
    flagged comment counts up to three single words in between, so four are kept.
    """

    KEEP = 4

    def __init__(self) -> None:
        self.entries: dict[str, tuple[int, int, list[Codes]]] = {}

    def blocks(self, text: str, max_n: int) -> list[Codes]:
        entry = self.entries.get(text)
        if entry is not None and entry[0] == _CHARS.version and max_n <= entry[1]:
            return entry[2]
        codes = _blocks(text, max_n)
        entries = self.entries
        entries.pop(text, None)
        while len(entries) >= self.KEEP:  # the oldest goes
            entries.pop(next(iter(entries)), None)
        entries[text] = (_CHARS.version, max_n, codes)
        return codes


_LAST = _RecentTexts()
