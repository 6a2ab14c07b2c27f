"""A small learned model of derogatory wording, the second half of `signals.inflammatory`.

The curated lexicon (`lexicon.py`) explains every hit but knows only the words it lists.
This model adds a calibrated probability that a text degrades people or groups, learned
from labelled comments (see `service/training/inflammatory.py` for the data), so that
abusive wording the lists lack still raises the signal. It is deliberately cheap: binary
word 1-2-grams of the lexicon's tolerant spelling (lower case, umlauts spelled out,
obfuscation undone), L2-normalised, in a logistic regression whose logit is Platt-scaled
on out-of-fold predictions. Scoring is a dictionary look-up per n-gram: no scikit-learn
call at serving time, so a 400-character comment costs a few hundredths of a millisecond.

Long texts are scored per window of `WINDOW_TOKENS` words (half overlapping) and the
strongest window counts, like one insult in a long civil letter.

Pure: texts (or their tolerant views) in, probabilities out.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from service.scoring import normalize

#: Texts with at most this many words are scored whole; longer ones per window.
WINDOW_TOKENS = 80
WINDOW_STRIDE = 40

# Words of the tolerant view: letters and digits (digits between letters are letters there).
_TOKEN = re.compile(r"[a-z0-9]+")


def tokens(tolerant_text: str) -> list[str]:
    """Return the words of a text in the tolerant spelling (`normalize.tolerant(...).text`)."""
    return _TOKEN.findall(tolerant_text)


def features(words: Sequence[str]) -> set[str]:
    """Return the distinct word 1-grams and 2-grams (joined by a space) of a word sequence."""
    found = set(words)
    found.update(map(" ".join, pairwise(words)))
    return found


def analyse(text: str) -> list[str]:
    """Return the model's features of a raw text (what fitting uses; sorted for stability)."""
    return sorted(features(tokens(normalize.tolerant(text).text)))


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@dataclass(frozen=True)
class Window:
    """The strongest window of a text: its calibrated probability and word range."""

    probability: float
    first: int  # index of its first word
    last: int  # index after its last word


class WordingModel(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Predict derogatory wording (1) from a text, as a calibrated probability."""

    def __init__(
        self,
        C: float = 1.0,
        min_df: int = 2,
        calibration_folds: int = 5,
        random_state: int = 0,
    ) -> None:
        self.C = C
        self.min_df = min_df
        self.calibration_folds = calibration_folds
        self.random_state = random_state

    # ------------------------------------------------------------------ fitting

    def _matrix(self, feature_lists: Sequence[Sequence[str]], vocabulary: dict[str, int]) -> Any:
        from scipy import sparse

        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        for i, feats in enumerate(feature_lists):
            known = [vocabulary[f] for f in feats if f in vocabulary]
            if not known:
                continue
            value = 1.0 / math.sqrt(len(known))
            rows.extend([i] * len(known))
            cols.extend(known)
            vals.extend([value] * len(known))
        shape = (len(feature_lists), len(vocabulary))
        return sparse.csr_matrix((vals, (rows, cols)), shape=shape, dtype=np.float64)

    def _logistic(self) -> Any:
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=self.C, solver="liblinear", max_iter=1000)

    def fit(self, texts: Sequence[str], y: Sequence[int]) -> WordingModel:
        """Fit on raw texts; calibrate the logit on out-of-fold predictions (Platt)."""
        from sklearn.model_selection import StratifiedKFold

        labels = np.asarray(y, dtype=int)
        self.classes_ = np.array([0, 1])
        feature_lists = [analyse(t) for t in texts]
        counts: dict[str, int] = {}
        for feats in feature_lists:
            for f in feats:
                counts[f] = counts.get(f, 0) + 1
        names = sorted(f for f, n in counts.items() if n >= self.min_df)
        vocabulary = {f: i for i, f in enumerate(names)}
        matrix = self._matrix(feature_lists, vocabulary)
        # Out-of-fold logits for the calibration (the final logit is fitted on all rows).
        oof = np.zeros(len(labels))
        if self.calibration_folds >= 2 and min(np.bincount(labels, minlength=2)) >= 2:
            folds = min(self.calibration_folds, int(min(np.bincount(labels, minlength=2))))
            splitter = StratifiedKFold(folds, shuffle=True, random_state=self.random_state)
            for train, test in splitter.split(matrix, labels):
                inner = self._logistic().fit(matrix[train], labels[train])
                oof[test] = inner.decision_function(matrix[test])
            platt = self._logistic().set_params(C=1e6).fit(oof.reshape(-1, 1), labels)
            self.platt_ = (float(platt.coef_[0, 0]), float(platt.intercept_[0]))
        else:
            self.platt_ = (1.0, 0.0)
        final = self._logistic().fit(matrix, labels)
        coef = final.coef_[0]
        self.weights_ = {f: float(coef[i]) for f, i in vocabulary.items() if coef[i] != 0.0}
        self.intercept_ = float(final.intercept_[0])
        return self

    # ------------------------------------------------------------------ scoring

    def logit(self, feats: Iterable[str]) -> float:
        """Return the uncalibrated logit of a set of features (unknown ones are ignored)."""
        # No stored weight is 0 (see fit), so `filter(None, ...)` drops exactly the unknown.
        known = list(filter(None, map(self.weights_.get, feats)))
        if not known:
            return self.intercept_
        return self.intercept_ + sum(known) / math.sqrt(len(known))

    def calibrated(self, logit: float) -> float:
        a, b = self.platt_
        return _sigmoid(a * logit + b)

    def strongest_window(self, words: Sequence[str]) -> Window:
        """Return the window of `words` with the highest probability (the whole text if short)."""
        n = len(words)
        if n <= WINDOW_TOKENS:
            return Window(self.calibrated(self.logit(features(words))), 0, n)
        # The bigrams are built once; each window is a set of slices of both lists.
        pairs = list(map(" ".join, pairwise(words)))
        best = -math.inf
        span = (0, WINDOW_TOKENS)
        start = 0
        while True:
            end = min(n, start + WINDOW_TOKENS)
            feats = set(words[start:end])
            feats.update(pairs[start : end - 1])
            z = self.logit(feats)
            if z > best:
                best, span = z, (start, end)
            if end == n:
                break
            start += WINDOW_STRIDE
        return Window(self.calibrated(best), *span)

    def predict_proba(self, texts: Sequence[str]) -> Any:
        p = np.array(
            [self.strongest_window(tokens(normalize.tolerant(t).text)).probability for t in texts]
        )
        return np.column_stack([1.0 - p, p])

    def decision_function(self, texts: Sequence[str]) -> Any:
        p = np.clip(self.predict_proba(texts)[:, 1], 1e-12, 1 - 1e-12)
        return np.log(p / (1.0 - p))

    def predict(self, texts: Sequence[str]) -> Any:
        return (self.predict_proba(texts)[:, 1] >= 0.5).astype(int)
