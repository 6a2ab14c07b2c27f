"""GramCounter counts exactly the in-vocabulary n-grams that scikit-learn's analyser yields."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from service.scoring.ngrams import CodeTable, GramCounter, distinct_counts, log_count_ratio

TRAIN = [
    "Du bist ein erbärmlicher Vollidiot, halt endlich die Fresse.",
    "Vielen Dank für den ausführlichen Bericht über die Sitzung des Gemeinderats.",
    "Laut KCNA wurden 12,5 Mio. Euro überwiesen – ça va? İstanbul, ĞÜ, Straße, STRASSE.",
    "I think the council failed badly when it planned the new bypass road!!!",
]
TEXTS = [
    *TRAIN,
    "",
    "   ",
    "a",
    "ab  cd\n\nef\tgh",
    "\u00a0foo\u00a0bar\u2028baz\x1cqux",
    "ß ẞ ﬁ İİ",
    "\ud800x yy",  # a lone surrogate (the pipeline replaces them, direct callers may not)
    "💩💩 €€€ Vollidiooooot",
    "Laut KCNA laut kcna LAUT Kcna",
]


def counted(vectorizer: TfidfVectorizer, text: str) -> dict[int, int]:
    analyze = vectorizer.build_analyzer()
    vocabulary = vectorizer.vocabulary_
    return dict(Counter(vocabulary[g] for g in analyze(text) if g in vocabulary))


@pytest.mark.parametrize(
    ("analyzer", "ngram_range", "coded"),
    [
        ("char_wb", (2, 5), True),
        ("char_wb", (1, 3), True),
        ("char_wb", (3, 4), True),
        ("char_wb", (4, 5), False),  # a short word counts once as a whole: scikit-learn's path
        ("char", (2, 4), False),
        ("word", (1, 2), False),
        ("word", (1, 1), False),
        ("word", (2, 2), False),  # no unigrams: scikit-learn's path
    ],
)
@pytest.mark.parametrize("lowercase", [True, False])
def test_counts_equal_scikit_learn(
    analyzer: str, ngram_range: tuple[int, int], coded: bool, lowercase: bool
) -> None:
    vectorizer = TfidfVectorizer(analyzer=analyzer, ngram_range=ngram_range, lowercase=lowercase)
    vectorizer.fit(TRAIN)
    counter = GramCounter(vectorizer)
    assert counter.coded is coded
    assert counter.words_coded is (analyzer == "word" and ngram_range[0] == 1)
    for text in TEXTS:
        index, counts = counter.counts(text)
        assert dict(zip(index.tolist(), counts.tolist(), strict=True)) == counted(vectorizer, text)


def test_word_codes_are_each_words_distinct_n_grams() -> None:
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5)).fit(TRAIN)
    counter = GramCounter(vectorizer)
    words = ["vollidiot", "a", "dank", "vollidiot", "xyzzy"]
    codes, owner = counter.word_codes(words)
    for k, word in enumerate(words):
        mine = codes[owner == k]
        assert len(set(mine.tolist())) == mine.size
        index, _counts = counter.lookup(mine)
        assert set(index.tolist()) == set(counted(vectorizer, word))


def test_word_codes_from_the_cache_are_the_computed_ones() -> None:
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5)).fit(TRAIN)
    words = ["vollidiot", "a", "dank", "vollidiot", "xyzzy", "straße"]
    fresh = GramCounter(vectorizer)._word_codes(words)
    counter = GramCounter(vectorizer)
    counter.word_codes(["dank", "xyzzy"])  # some words cached, some not
    for _ in range(2):
        codes, owner = counter.word_codes(words)
        assert codes.tolist() == fresh[0].tolist()
        assert owner.tolist() == fresh[1].tolist()
    empty_codes, empty_owner = counter.word_codes([])
    assert empty_codes.size == 0 and empty_owner.size == 0


@pytest.mark.parametrize("ngram_range", [(1, 1), (1, 2)])
def test_lookup_each_finds_every_in_vocabulary_n_gram_of_the_tokens(
    ngram_range: tuple[int, int],
) -> None:
    vectorizer = TfidfVectorizer(analyzer="word", ngram_range=ngram_range).fit(TRAIN)
    counter = GramCounter(vectorizer)
    vocabulary = vectorizer.vocabulary_
    for text in TEXTS:
        tokens = counter._tokenize(text.lower())
        grams = list(tokens)
        if ngram_range[1] == 2:
            grams += [f"{a} {b}" for a, b in pairwise(tokens)]
        index, where = counter.lookup_each(counter.token_gram_codes(tokens))
        expected = [(k, vocabulary[g]) for k, g in enumerate(grams) if g in vocabulary]
        assert list(zip(where.tolist(), index.tolist(), strict=True)) == expected


def test_counters_sharing_a_texts_codes_each_count_their_own_n_grams() -> None:
    first = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5)).fit(TRAIN[:2])
    counter = GramCounter(first)
    for text in TEXTS:  # codes remembered before the second counter numbers its characters
        counter.counts(text)
    second = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5)).fit(TRAIN[2:])
    other = GramCounter(second)
    for text in TEXTS:
        for vectorizer, mine in ((second, other), (first, counter), (second, other)):
            index, counts = mine.counts(text)
            assert dict(zip(index.tolist(), counts.tolist(), strict=True)) == counted(
                vectorizer, text
            )


def test_code_table_finds_exactly_the_stored_codes() -> None:
    rng = np.random.default_rng(7)
    codes = np.unique(rng.integers(0, 1 << 60, size=5_000, dtype=np.int64))
    values = rng.permutation(codes.size).astype(np.intp)
    table = CodeTable(codes, values)
    assert table.get(codes).tolist() == values.tolist()
    absent = np.setdiff1d(rng.integers(0, 1 << 60, size=5_000, dtype=np.int64), codes)
    assert (table.get(absent) == -1).all()
    mixed = np.concatenate([absent[:50], codes[:50], codes[:3]])
    expected = [-1] * 50 + values[:50].tolist() + values[:3].tolist()
    assert table.get(mixed).tolist() == expected


@pytest.mark.parametrize(("analyzer", "ngram_range"), [("char_wb", (3, 5)), ("word", (1, 2))])
def test_a_counter_with_a_hash_table_finds_what_binary_search_finds(
    analyzer: str, ngram_range: tuple[int, int]
) -> None:
    vectorizer = TfidfVectorizer(analyzer=analyzer, ngram_range=ngram_range).fit(TRAIN)
    plain, hashed = GramCounter(vectorizer), GramCounter(vectorizer)
    hashed.use_table()
    for text in TEXTS:
        index, counts = hashed.counts(text)
        assert dict(zip(index.tolist(), counts.tolist(), strict=True)) == counted(vectorizer, text)
        codes = plain.codes(text) if plain.coded else plain.word_gram_codes(text)
        for mine, theirs in zip(hashed.lookup_codes(codes), plain.lookup_codes(codes), strict=True):
            assert mine.tolist() == theirs.tolist()
        for mine, theirs in zip(hashed.lookup_each(codes), plain.lookup_each(codes), strict=True):
            assert mine.tolist() == theirs.tolist()


def test_distinct_counts_equal_numpy_unique() -> None:
    rng = np.random.default_rng(3)
    for size in (1, 2, 17, 1_000):
        codes = rng.integers(0, 40, size=size, dtype=np.int64)
        distinct, counts = distinct_counts(codes)
        expected, expected_counts = np.unique(codes, return_counts=True)
        assert distinct.tolist() == expected.tolist()
        assert counts.tolist() == expected_counts.tolist()


def test_log_count_ratio_favours_features_of_the_positive_class() -> None:
    from scipy.sparse import csr_matrix

    x = csr_matrix(np.array([[1.0, 0.0, 1.0], [1.0, 0.0, 1.0], [0.0, 1.0, 1.0], [0.0, 1.0, 1.0]]))
    r = log_count_ratio(x, np.array([1, 1, 0, 0]))
    assert r[0] > 0 > r[1]
    assert r[2] == pytest.approx(0.0)
