"""Factual claims per sentence: attributed, vaguely attributed or unsourced.

Two parts, each explaining itself:
- rules (service/scoring/cues.py) find attribution, vague sources, reported speech,
  opinion, hedges, questions and checkable-fact evidence; their words become spans;
- a linear model (`ClaimModel`, trained by service/training/claims.py on GermEval 2021
  Sub3_FactClaiming, document labels) on word and character n-grams plus the cue counts
  gives the document's `factual_claims` probability and, applied to one sentence at a
  time without the length features, the sentence's chance of asserting a fact.

A sentence is `attributed` when it names who says it, `vague` when it points at someone
unnamed ("Experten sagen", "angeblich", "wurde berichtet"), `none` when it is opinion,
a question or hedged speculation, else `unsourced` when the model or the evidence (a
number, a date, an amount) says it asserts a checkable fact.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, TransformerMixin

from service.scoring import artifacts, cues
from service.scoring.document import Builder, Doc
from service.scoring.ngrams import Counts, GramCounter, Indices
from service.scoring.sentences import split
from service.scoring.types import ClaimType, Sentence, Span

_NO_INDEX: NDArray[np.intp] = np.zeros(0, dtype=np.intp)

MODEL_NAMES = {"de": "claims_de", "en": "claims_en"}
#: A sentence with fewer words is a signature, a salutation or a heading fragment.
MIN_CLAIM_WORDS = 4
#: Sentence probability from which a sentence without hedges counts as a factual claim.
SENTENCE_THRESHOLD = 0.5
#: Lower bar when the sentence carries checkable evidence (a number, date or amount).
EVIDENCE_THRESHOLD = 0.25
#: What a vaguely sourced sentence adds to `unsourced_claims`: it ranks the text up, but a
#: claim that points at "Experten" or "Berichte" alone does not flag it.
VAGUE_UNSOURCED = 0.4
#: The evidence bar as a share of the sentence bar when the card sets the sentence bar.
EVIDENCE_FACTOR = 0.5

Matrix = NDArray[np.float64]
#: The n-gram counts of one vectorizer: vocabulary indices and how often each occurs.
GramCounts = tuple[Indices, Counts]

_REASONS: dict[str, str] = {
    "attribution": "Quelle genannt / attribution",
    "vague": "vage Quelle / vague source",
    "reported": "indirekte Rede / reported speech",
    "opinion": "Meinung / opinion",
    "hedge": "Vermutung / hedged",
    "question": "Frage / question",
    "evidence": "Zahl ohne Quelle / number without source",
}


class CueFeatures(BaseEstimator, TransformerMixin):  # type: ignore[misc]
    """Turn texts into the cue counts of `cues.features` (scikit-learn transformer).

    `with_length=False` drops the length features, so that the same model can score a
    single sentence without being told that short texts rarely claim anything.
    """

    def __init__(self, with_length: bool = True) -> None:
        self.with_length = with_length

    def fit(self, texts: Any, y: Any = None) -> CueFeatures:
        self.n_features_ = len(self._names())
        return self

    def _names(self) -> tuple[str, ...]:
        if self.with_length:
            return cues.FEATURE_NAMES
        return tuple(n for n in cues.FEATURE_NAMES if n not in ("sentences", "log_chars"))

    def transform(self, texts: Any) -> Matrix:
        names = cues.FEATURE_NAMES
        keep = [i for i, n in enumerate(names) if n in self._names()]
        rows = []
        for text in texts:
            values = cues.features(text, split(text))
            rows.append([values[i] for i in keep])
        return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(keep))

    def get_feature_names_out(self, input_features: Any = None) -> NDArray[np.str_]:
        return np.asarray([f"cue:{n}" for n in self._names()])


class _TfidfPart:
    """One fitted TfidfVectorizer (l2 norm) of a pipeline, with its slice of the weights."""

    def __init__(self, vectorizer: Any, coef: Matrix) -> None:
        self.grams = GramCounter(vectorizer)
        self.idf = np.asarray(vectorizer.idf_, dtype=np.float64)
        self.coef = coef
        self.sublinear = bool(vectorizer.sublinear_tf)
        # Word n-grams of the default analyser (lower case, token regex, no stop words)
        # can be counted for all sentences at once (`_Batch`); anything else cannot.
        params = vectorizer.get_params()
        self.word_pattern: re.Pattern[str] | None = None
        self.ngram_range: tuple[int, int] = tuple(params["ngram_range"])
        if (
            params["analyzer"] == "word"
            and params["input"] == "content"
            and params["preprocessor"] is None
            and params["tokenizer"] is None
            and params["stop_words"] is None
            and not params["strip_accents"]
            and params["lowercase"]
        ):
            pattern = re.compile(params["token_pattern"])
            if pattern.groups == 0:
                self.word_pattern = pattern

    def logit(self, index: Indices, tf: Counts) -> float:
        """Return this part's share of the logit for n-gram counts (tf-idf, l2-normalised)."""
        if not index.size:
            return 0.0
        value = self.idf[index] * ((1.0 + np.log(tf)) if self.sublinear else tf)
        norm = float(value @ value)
        if norm <= 0.0:
            return 0.0
        return float(value @ self.coef[index]) / math.sqrt(norm)


class LinearTextScorer:
    """Score texts with a fitted TF-IDF + cues + logistic regression pipeline, fast.

    sklearn's `predict_proba` on one short text costs about 10 ms in validation and
    joblib bookkeeping; the same arithmetic over the n-gram counts of `ngrams.GramCounter`
    costs a fraction of that. The result equals the pipeline's probability up to float
    rounding (a unit test checks it).
    """

    def __init__(self, pipeline: Any) -> None:
        union = pipeline.named_steps["features"]
        model = pipeline.named_steps["model"]
        coef = np.asarray(model.coef_[0], dtype=np.float64)
        self.intercept = float(model.intercept_[0])
        self.parts: list[_TfidfPart] = []
        self.analyzer_params: list[tuple[Any, ...]] = []
        offset = 0
        self.cue_keep: list[int] = []
        self.cue_mean = np.zeros(0)
        self.cue_weight = np.zeros(0)
        for _name, step in union.transformer_list:
            if hasattr(step, "vocabulary_"):
                width = len(step.vocabulary_)
                self.parts.append(_TfidfPart(step, coef[offset : offset + width]))
                params = step.get_params()
                self.analyzer_params.append(
                    tuple(
                        params[k] for k in ("analyzer", "ngram_range", "lowercase", "token_pattern")
                    )
                )
            else:
                counter, scaler = step.named_steps["count"], step.named_steps["scale"]
                names = counter._names()
                width = len(names)
                self.cue_keep = [cues.FEATURE_NAMES.index(n) for n in names]
                self.cue_mean = np.asarray(scaler.mean_, dtype=np.float64)
                self.cue_weight = coef[offset : offset + width] / np.asarray(
                    scaler.scale_, dtype=np.float64
                )
            offset += width
        #: (feature position, mean, weight) per cue feature, as Python numbers: a text's
        #: few rows of 13 values cost less in plain Python than in numpy calls.
        self.cue_terms = list(
            zip(self.cue_keep, self.cue_mean.tolist(), self.cue_weight.tolist(), strict=True)
        )

    def counts(self, text: str) -> list[GramCounts]:
        """Return the n-gram counts of a text, one (indices, counts) pair per vectorizer."""
        return [part.grams.counts(text) for part in self.parts]

    def same_analyzers(self, other: LinearTextScorer) -> bool:
        """Return whether `counts` of this scorer can be fed to `other` (same n-grams)."""
        return self.analyzer_params == other.analyzer_params and all(
            mine.grams.vocabulary == theirs.grams.vocabulary
            for mine, theirs in zip(self.parts, other.parts, strict=True)
        )

    def matching_parts(self, other: LinearTextScorer) -> tuple[int | None, ...] | None:
        """Return, per part of this scorer, the part of `other` with the same n-grams.

        None for a part `other` lacks; None overall when some part of `other` has no
        twin here (then the n-grams cannot be counted once for both).
        """
        twins: list[int | None] = []
        for params, mine in zip(self.analyzer_params, self.parts, strict=True):
            twin = next(
                (
                    k
                    for k, (theirs_params, theirs) in enumerate(
                        zip(other.analyzer_params, other.parts, strict=True)
                    )
                    if theirs_params == params and theirs.grams.vocabulary == mine.grams.vocabulary
                ),
                None,
            )
            twins.append(twin)
        if sorted(k for k in twins if k is not None) != list(range(len(other.parts))):
            return None
        return tuple(twins)

    def cue_logits(self, rows: list[list[float]]) -> Matrix:
        """Return the cue features' share of the logit for rows of `cues.features` values."""
        terms = self.cue_terms
        return np.asarray(
            [sum([(row[i] - mean) * weight for i, mean, weight in terms]) for row in rows],
            dtype=np.float64,
        ).reshape(len(rows))

    def proba(self, text: str, cue_values: list[float]) -> float:
        """Return the probability for one text, given its `cues.features` values."""
        return self.proba_counts(self.counts(text), cue_values)

    def proba_counts(self, counts: list[GramCounts], cue_values: list[float]) -> float:
        """Return the probability from precomputed n-gram counts and cue values."""
        z = self.intercept
        for part, (index, tf) in zip(self.parts, counts, strict=True):
            z += part.logit(index, tf)
        if self.cue_keep:
            x = np.asarray([cue_values[i] for i in self.cue_keep], dtype=np.float64)
            z += float(np.dot(x - self.cue_mean, self.cue_weight))
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0


@dataclass
class ClaimModel:
    """The trained claim model: a document pipeline and a sentence pipeline (scikit-learn)."""

    document: Any
    sentence: Any

    def compiled(self) -> tuple[LinearTextScorer, LinearTextScorer]:
        """Return fast scorers for the document and the sentence pipeline."""
        return LinearTextScorer(self.document), LinearTextScorer(self.sentence)

    def document_proba(self, text: str) -> float:
        """Return the probability that the text makes at least one factual claim."""
        return float(self.document.predict_proba([text])[0, 1])

    def sentence_proba(self, texts: list[str]) -> list[float]:
        """Return, per sentence, the probability that it asserts a fact."""
        if not texts:
            return []
        return [float(p) for p in self.sentence.predict_proba(texts)[:, 1]]


def build(models: Path) -> ClaimsPhase:
    """Return the claims phase with the German (and, if trained, English) model loaded."""
    loaded: dict[str, LoadedModel] = {}
    for language, name in MODEL_NAMES.items():
        if language != "de" and not (models / name / "card.json").exists():
            continue  # English has rules only until claims_en is trained
        loaded[language] = _compiled(models, name)
    return ClaimsPhase(loaded)


@dataclass(frozen=True)
class Thresholds:
    """Where the model's sentence probability makes a sentence an unsourced claim."""

    sentence: float = SENTENCE_THRESHOLD
    evidence: float = EVIDENCE_THRESHOLD


@dataclass(frozen=True)
class LoadedModel:
    """A claim model ready to score: fast document and sentence scorers and the card."""

    document: LinearTextScorer
    sentence: LinearTextScorer
    threshold: float
    version: str
    thresholds: Thresholds = Thresholds()
    #: Per document part, the sentence part with the same n-grams (None: the sentence
    #: scorer lacks it); None when the n-grams cannot be counted once for both.
    twins: tuple[int | None, ...] | None = None
    #: Both models' n-gram weights side by side (`_Weights`, from `twins`); None when
    #: each sentence is scored alone.
    weights: _Weights | None = field(init=False, default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.twins is not None:
            # Frozen: set once here, so that dataclasses.replace builds it again.
            object.__setattr__(self, "weights", _Weights(self.document, self.sentence, self.twins))


@cache
def _compiled(models: Path, name: str) -> LoadedModel:
    model, card = artifacts.load(models, name)
    document, sentence = model.compiled()
    sentence_threshold = float(card.get("sentence_threshold", SENTENCE_THRESHOLD))
    return LoadedModel(
        document,
        sentence,
        float(card.get("default_threshold", 0.5)),
        str(card.get("version")),
        Thresholds(sentence_threshold, sentence_threshold * EVIDENCE_FACTOR),
        document.matching_parts(sentence),
    )


def _scaled(p: float, threshold: float) -> float:
    """Map a probability so that `threshold` lands on 0.5, keeping the order."""
    if threshold <= 0.0 or threshold >= 1.0:
        return p
    if p < threshold:
        return 0.5 * p / threshold
    return 0.5 + 0.5 * (p - threshold) / (1.0 - threshold)


def _needs_model(found: cues.SentenceCues) -> bool:
    """Return whether the rules leave the sentence's type to the model (see `classify`)."""
    decided = found.attributed or found.vague or found.reported
    return not (
        decided or found.opinion or found.question or found.hedged or found.words < MIN_CLAIM_WORDS
    )


def classify(
    found: cues.SentenceCues,
    proba: float,
    previous: Sentence | None,
    thresholds: Thresholds = Thresholds(),
) -> tuple[ClaimType, str | None, float]:
    """Return (claim type, source, unsourced score) of a sentence from its cues and model.

    The unsourced score is in [0, 1] with 0.5 at the decision boundary; it is 0 for
    sentences that name a source or hedge, and VAGUE_UNSOURCED for vague ones.
    """
    if found.attributed:
        return "attributed", found.source, 0.0
    if found.vague:
        return "vague", None, VAGUE_UNSOURCED
    if found.reported and previous is not None and previous.claim == "attributed":
        # Reported speech that goes on after an attributed sentence keeps its source.
        return "attributed", previous.source, 0.0
    if found.reported and not (found.opinion or found.question):
        return "vague", None, VAGUE_UNSOURCED
    if found.opinion or found.question or found.hedged or found.words < MIN_CLAIM_WORDS:
        return "none", None, 0.0
    boundary = thresholds.evidence if found.evidence else thresholds.sentence
    score = _scaled(proba, boundary)
    return ("unsourced" if score >= 0.5 else "none"), None, score


@dataclass
class Typed:
    """The claim types of one text's sentences, and what they add up to."""

    sentences: list[Sentence]
    found: list[cues.SentenceCues]
    unsourced_score: float
    claim_score: float


def type_sentences(
    text: str,
    bounds: list[tuple[int, int]],
    scorer: LinearTextScorer | None,
    thresholds: Thresholds = Thresholds(),
) -> Typed:
    """Type each sentence of `text` (rules first, the sentence model for what they leave open).

    `claim_score` is the strongest sign of any factual claim (attributed, vague or
    unsourced), on the same 0.5-at-the-boundary scale as `unsourced_score`.
    """
    found = cues.analyse_all(text, bounds)
    return _typed(text, bounds, found, _sentence_probas(text, bounds, found, scorer), thresholds)


def _sentence_probas(
    text: str,
    bounds: list[tuple[int, int]],
    found: list[cues.SentenceCues],
    scorer: LinearTextScorer | None,
) -> list[float | None]:
    """Return the sentence model's probability for each sentence the rules leave open."""
    probas: list[float | None] = []
    for (start, end), cue in zip(bounds, found, strict=True):
        proba: float | None = None
        if _needs_model(cue):
            words = text[start:end]
            if scorer is not None:
                proba = scorer.proba(words, cues.features_from(words, [cue]))
            else:
                # No model for this language: evidence alone decides.
                proba = 0.6 if cue.evidence else 0.3
        probas.append(proba)
    return probas


def _typed(
    text: str,
    bounds: list[tuple[int, int]],
    found: list[cues.SentenceCues],
    probas: list[float | None],
    thresholds: Thresholds,
) -> Typed:
    """Type the sentences from their cues and model probabilities (see `classify`)."""
    typed: list[Sentence] = []
    unsourced_score = claim_score = 0.0
    previous: Sentence | None = None
    for (start, end), cue, proba in zip(bounds, found, probas, strict=True):
        claim, source, score = classify(
            cue, proba if proba is not None else 0.0, previous, thresholds
        )
        unsourced_score = max(unsourced_score, score)
        claim_score = max(claim_score, score, ATTRIBUTED_CLAIM if claim in _SOURCED else 0.0)
        current = Sentence(
            start, end, claim=claim, source=source, score=proba, cues=_cue_spans(cue, claim)
        )
        typed.append(current)
        previous = current
    return Typed(typed, found, unsourced_score, claim_score)


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0


def _runs(keys: Indices) -> tuple[Indices, Counts]:
    """Return the distinct keys in ascending order and how often each occurs (one sort)."""
    keys = np.sort(keys)
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    counts = np.diff(np.append(starts, keys.size))
    return keys[starts], counts


class _Weights:
    """The n-gram parts of the document and the sentence model side by side, one index.

    Part k's n-gram i is number offsets[k] + i; its idf and weight in the document model
    and in the sentence model (0 when the sentence model lacks the part) are looked up
    there, so that the hits of all parts are summed in one pass (`shares`).
    """

    def __init__(
        self,
        document: LinearTextScorer,
        sentence: LinearTextScorer,
        twins: tuple[int | None, ...],
    ) -> None:
        self.parts = len(document.parts)
        widths = [part.idf.size for part in document.parts]
        self.offsets: list[int] = np.cumsum([0, *widths[:-1]]).tolist()
        self.part_of = np.repeat(np.arange(self.parts), widths)
        self.width = sum(widths)
        self.sublinear = np.asarray([part.sublinear for part in document.parts])
        self.all_sublinear = bool(self.sublinear.all())
        self.document_idf = np.concatenate([part.idf for part in document.parts])
        self.document_coef = np.concatenate([part.coef for part in document.parts])
        # A part the sentence model lacks gets weight 0: it adds nothing to a sentence.
        self.sentence_idf = self.document_idf.copy()
        self.sentence_coef = np.zeros_like(self.document_coef)
        for offset, twin in zip(self.offsets, twins, strict=True):
            if twin is not None:
                part = sentence.parts[twin]
                self.sentence_idf[offset : offset + part.idf.size] = part.idf
                self.sentence_coef[offset : offset + part.coef.size] = part.coef
        for part in document.parts:
            # Hash-table look-ups (`ngrams.CodeTable`): two memory reads per n-gram
            # instead of a binary search in the sorted vocabulary codes.
            part.grams.use_table()

    def _values(self, idf: Matrix, gram: Indices, tf: Counts) -> Matrix:
        """Return the tf-idf values (before normalising) of n-grams seen tf times."""
        if self.all_sublinear:
            return idf[gram] * (1.0 + np.log(tf))
        return idf[gram] * np.where(self.sublinear[self.part_of[gram]], 1.0 + np.log(tf), tf)

    def shares(
        self, index: Indices, slot: Indices, n: int, need: NDArray[np.bool_]
    ) -> tuple[float, Matrix]:
        """Return the n-gram parts' share of the document logit and of each sentence's.

        Hit j is n-gram index[j] (in this numbering) of sentence slot[j] - 1 (slot 0: the
        document only, a bigram across two sentences). Each part is l2-normalised on its
        own; only the sentences in `need` are scored. No sort for the document: an
        n-gram's tf hits each carry 1/tf of its tf-idf value into the sums.
        """
        per = np.zeros(n)
        if not index.size:
            return 0.0, per
        tf = np.bincount(index, minlength=self.width)[index]
        value = self._values(self.document_idf, index, tf)
        share = value / tf
        part = self.part_of[index]
        dot = np.bincount(part, weights=share * self.document_coef[index], minlength=self.parts)
        norm = np.bincount(part, weights=share * value, minlength=self.parts)
        some = norm > 0.0
        doc = float((dot[some] / np.sqrt(norm[some])).sum())
        keep = slot > 0
        keep[keep] = need[slot[keep] - 1]
        if not keep.any():
            return doc, per
        gram, owner, tf = index[keep], slot[keep] - 1, tf[keep]
        # An n-gram seen once in the text is seen once in its sentence; the others are
        # counted per sentence.
        once = tf == 1
        if not once.all():
            again = ~once
            pairs, counts = _runs(gram[again] * n + owner[again])
            gram = np.concatenate([gram[once], pairs // n])
            owner = np.concatenate([owner[once], pairs % n])
            tf = np.concatenate([tf[once], counts])
        value = self._values(self.sentence_idf, gram, tf)
        key = self.part_of[gram] * n + owner
        width = self.parts * n
        dot = np.bincount(key, weights=value * self.sentence_coef[gram], minlength=width)
        norm = np.bincount(key, weights=value * value, minlength=width)
        some = norm > 0.0
        shares = np.zeros(width)
        shares[some] = dot[some] / np.sqrt(norm[some])
        per += shares.reshape(self.parts, n).sum(axis=0)
        return doc, per


class _Batch:
    """The n-grams of a text counted once, for the document and for each sentence.

    Every whitespace-separated word of the text must lie inside one sentence (what
    `sentences.split` gives); `layout` returns None otherwise, and the sentences are then
    scored one by one. Character n-grams stay inside words; word n-grams are taken from
    the whole text, and a bigram whose words lie in two sentences counts for the document
    only. The sums equal those of scoring each sentence alone up to float rounding
    (a unit test compares them).
    """

    def __init__(
        self, text: str, bounds: list[tuple[int, int]], word_sentence: NDArray[np.intp]
    ) -> None:
        self.text = text
        self.bounds = bounds
        self.word_sentence = word_sentence
        self.n = len(bounds)

    @classmethod
    def layout(cls, text: str, bounds: list[tuple[int, int]]) -> _Batch | None:
        """Return the batch of a text, or None when its words do not fit its sentences."""
        if len(text.lower()) != len(text):
            return None  # lower case changes offsets ("İ"): no shared positions
        size = len(text)
        previous_end = 0
        lengths: list[int] = []
        per_sentence: list[int] = []
        for start, end in bounds:
            # Each sentence starts and ends next to whitespace (or the text's ends) ...
            if start < previous_end or (start > 0 and not text[start - 1].isspace()):
                return None
            if end < size and not text[end].isspace():
                return None
            words = text[start:end].split()
            lengths += map(len, words)
            per_sentence.append(len(words))
            previous_end = end
        # ... and holds every word of the text.
        if len(lengths) != len(text.split()):
            return None
        sentence = np.repeat(np.arange(len(bounds)), per_sentence)
        batch = cls(text, bounds, sentence)
        batch.word_lengths = np.asarray(lengths, dtype=np.intp)
        return batch

    word_lengths: NDArray[np.intp]
    #: Which sentences the sentence model scores (the rules leave their type open).
    need: NDArray[np.bool_]

    def char_hits(self, grams: GramCounter) -> tuple[Indices, Indices] | None:
        """Return the vocabulary index of each char_wb n-gram hit and its sentence slot.

        Slot k + 1 is sentence k; slot 0 (the document only) is used for all hits when
        no sentence is scored by the model.
        """
        codes = grams.codes(self.text)
        index, where = grams.lookup_each(codes)
        if not self.need.any():
            return index, np.zeros(index.size, dtype=np.intp)
        # The word of each code: `codes` lists each n-gram length in word order.
        padded = self.word_lengths + 2
        starts = np.arange(grams.min_n - 1, grams.max_n)[:, None]
        per_word = np.maximum(padded - starts, 0).ravel()
        if int(per_word.sum()) != codes.size:
            return None
        code_slot = np.repeat(np.tile(self.word_sentence + 1, len(starts)), per_word)
        return index, code_slot[where]

    def word_hits(self, part: _TfidfPart) -> tuple[Indices, Indices] | None:
        """Return the vocabulary index of each word n-gram hit and its sentence slot.

        Slot k + 1 is sentence k; a bigram whose words lie in two sentences gets slot 0
        (it counts for the document only).
        """
        pattern = part.word_pattern
        if pattern is None:
            return None
        low = self.text.lower()
        tokens: list[str] = []
        token_sentence: list[int] = []
        for i, (start, end) in enumerate(self.bounds):
            found = pattern.findall(low, start, end)
            tokens += found
            token_sentence += [i] * len(found)
        if part.grams.words_coded:
            index, owner = _word_hits(part.grams, tokens, token_sentence)
            return index, owner + 1
        vocabulary = part.grams.vocabulary
        hits: list[int] = []
        owners: list[int] = []
        low_n, high_n = part.ngram_range
        for size in range(low_n, high_n + 1):
            if size == 1:
                for token, sentence_of in zip(tokens, token_sentence, strict=True):
                    j = vocabulary.get(token)
                    if j is not None:
                        hits.append(j)
                        owners.append(sentence_of)
                continue
            for i in range(len(tokens) - size + 1):
                j = vocabulary.get(" ".join(tokens[i : i + size]))
                if j is None:
                    continue
                hits.append(j)
                first, last = token_sentence[i], token_sentence[i + size - 1]
                owners.append(first if first == last else -1)
        index = np.asarray(hits, dtype=np.intp)
        return index, np.asarray(owners, dtype=np.intp) + 1


def _word_hits(
    grams: GramCounter, tokens: list[str], token_sentence: list[int]
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Return the vocabulary indices of the word 1-2-grams of tokens and their sentences.

    Tokens become their numbers in the counter's token list and bigrams pairs of numbers
    (`GramCounter.word_gram_codes`), looked up in one array search instead of one dict
    look-up and one string join per n-gram. A bigram across two sentences gets -1.
    """
    if not tokens:
        return _NO_INDEX, _NO_INDEX
    codes = grams.token_gram_codes(tokens)
    owner = np.asarray(token_sentence, dtype=np.intp)
    if codes.size > owner.size:  # bigrams follow the unigrams
        owner = np.concatenate([owner, np.where(owner[:-1] == owner[1:], owner[:-1], -1)])
    index, where = grams.lookup_each(codes)
    return index, owner[where]


def _score_batched(
    text: str, bounds: list[tuple[int, int]], entry: LoadedModel
) -> tuple[Typed, float] | None:
    """Type the sentences and score the document with one count of the text's n-grams.

    Return None when the text does not fit `_Batch` (then `_score` counts per sentence).
    """
    batch = _Batch.layout(text, bounds)
    if batch is None:
        return None
    found = cues.analyse_all(text, bounds)
    batch.need = np.fromiter(map(_needs_model, found), dtype=bool, count=len(found))
    weights = entry.weights
    assert weights is not None
    indices: list[Indices] = []
    slots: list[Indices] = []
    for part, offset in zip(entry.document.parts, weights.offsets, strict=True):
        hits = batch.char_hits(part.grams) if part.grams.coded else batch.word_hits(part)
        if hits is None:
            return None
        indices.append(hits[0] + offset)
        slots.append(hits[1])
    doc_share, sent_z = weights.shares(
        np.concatenate(indices), np.concatenate(slots), batch.n, batch.need
    )
    sent_z += entry.sentence.intercept
    rows, whole = cues.sentence_features(text, bounds, found)
    sent_z += entry.sentence.cue_logits(rows)
    doc_z = entry.document.intercept + doc_share + float(entry.document.cue_logits([whole])[0])
    probas: list[float | None] = [
        _sigmoid(float(z)) if need else None for z, need in zip(sent_z, batch.need, strict=True)
    ]
    return _typed(text, bounds, found, probas, entry.thresholds), _sigmoid(doc_z)


def _score(text: str, bounds: list[tuple[int, int]], entry: LoadedModel) -> tuple[Typed, float]:
    """Type the sentences and score the document.

    Usually all at once (`_score_batched`); a text whose words do not fit its sentences,
    or a model whose sentence n-grams are not the document's, one sentence at a time.
    """
    if not bounds:
        return type_sentences(text, bounds, entry.sentence, entry.thresholds), 0.0
    batched = _score_batched(text, bounds, entry) if entry.weights is not None else None
    if batched is not None:
        return batched
    return _score_by_sentence(text, bounds, entry)


def _score_by_sentence(
    text: str, bounds: list[tuple[int, int]], entry: LoadedModel
) -> tuple[Typed, float]:
    """`_score` one sentence at a time (the reference `_score_batched` is tested against)."""
    typed = type_sentences(text, bounds, entry.sentence, entry.thresholds)
    return typed, entry.document.proba(text, cues.features_from(text, typed.found))


class ClaimsPhase:
    """Type each sentence's claim and set `factual_claims` and `unsourced_claims`."""

    def __init__(self, models: dict[str, LoadedModel]) -> None:
        self.models = models

    def __call__(self, doc: Doc, out: Builder) -> None:
        if not doc.supported:
            out.signal("factual_claims", 0.0)
            out.signal("unsourced_claims", 0.0)
            out.notes.append("claims: language not supported, sentences not typed")
            return
        text = doc.text
        bounds = [(s.start, s.end) for s in doc.sentences] if doc.sentences else split(text)
        entry = self.models.get(doc.language)
        if entry is not None:
            typed, doc_proba = _score(text, bounds, entry)
            threshold, version = entry.threshold, entry.version
        else:
            typed = type_sentences(text, bounds, None)
            doc_proba, threshold, version = typed.claim_score, 0.5, "rules"
        for sentence in typed.sentences:
            for span in sentence.cues if sentence.claim != "none" else ():
                out.span(span.start, span.end, span.signal, span.reason, **dict(span.details))
        doc.sentences = typed.sentences
        out.signal("factual_claims", doc_proba, default_threshold=threshold, version=version)
        out.signal("unsourced_claims", typed.unsourced_score, version=version)


_SOURCED = ("attributed", "vague")
#: What a sentence that names or points at a source adds to `claim_score`.
ATTRIBUTED_CLAIM = 0.75


#: The cue kinds that decide each claim type (shown as spans).
_DECIDING: dict[ClaimType, tuple[str, ...]] = {
    "attributed": ("attribution", "reported"),
    "vague": ("vague", "reported"),
    "unsourced": ("evidence",),
    "none": ("opinion", "hedge", "question"),
}


def _cue_spans(found: cues.SentenceCues, claim: ClaimType) -> tuple[Span, ...]:
    """Return the cue words that decided the claim type, as spans for the moderator."""
    if not found.cues:
        return ()
    wanted = _DECIDING[claim]
    spans = []
    for cue in found.cues:
        if cue.kind not in wanted:
            continue
        signal = "unsourced_claims" if claim in ("unsourced", "vague") else "factual_claims"
        reason = f"{_REASONS[cue.kind]}: {cue.label}"
        spans.append(Span(cue.start, cue.end, signal, reason, {"claim": claim}))
    return tuple(spans)
