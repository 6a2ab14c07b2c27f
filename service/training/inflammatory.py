"""Train `inflammatory_de`: the learned half of `signals.inflammatory` (derogatory wording).

Labels (why these, see also the card's notes):
- GermEval 2018 and 2019 fine-grained: ABUSE (degrading people for their group: ethnicity,
  religion, politics ...) and INSULT (degrading a person or group without that reference)
  are derogatory wording, the notion of the inflammatory signal; OTHER is not.
  PROFANITY (swearing without the intent to degrade) is left out: it is neither.
- One Million Posts (derStandard.at, newspaper comments, our domain): Discriminating
  (sexist, racist, xenophobic ...) is positive; posts annotated as neither Discriminating
  nor Inappropriate are negative; Inappropriate-only posts (insults mixed with vulgarity
  and off-colour remarks) are left out like PROFANITY. Its civil posts are the newspaper
  register that must not fire ("Regime", "Propaganda", "Angriffskrieg").
Not used: OMP SentimentNegative (a negative tone is not derogatory wording: news of war is
negative), GerMS-AT (sexism strength only, one kind of derogation), GermEval 2019 subtask
3 (explicit/implicit, offensive rows only).

Duplicate texts are kept once (GermEval 2019 re-uses some 2018 tweets). Every figure in the
card is cross-validated (stratified 5-fold, fixed seed) on these training files; the
official test sets are withheld from ../shared/data.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from service.scoring import lexicon, wording
from service.scoring.inflammatory import MODEL_ALONE_CAP, blend, model_contribution
from service.training import common

NAME = "inflammatory_de"
VERSION = "2026.11.2"
FOLDS = 5
#: Regularisation strengths tried in cross-validation (the best by average precision wins).
C_GRID = (4.0, 8.0, 16.0)
Progress = Callable[[str], None]

_HANDLE = re.compile(r"@\w+")
_URL = re.compile(r"https?://\S+|www\.\S+")


def clean(text: str) -> str:
    """Return a training text without tweet markup: line-break codes, @handles, links."""
    text = text.replace("|LBR|", "\n")
    return _URL.sub(" ", _HANDLE.sub(" ", text)).strip()


@dataclass
class Rows:
    """Texts, labels and the corpus each row came from."""

    texts: list[str]
    labels: list[int]
    corpus: list[str]
    sources: list[common.DataFile]


def load(data_dir: Path) -> Rows:
    """Load and de-duplicate the labelled rows (see the module docstring)."""
    import pandas as pd

    rows = Rows([], [], [], [])
    seen: set[str] = set()

    def add(name: str, texts: Sequence[str], labels: Sequence[int]) -> None:
        for text, label in zip(texts, labels, strict=True):
            cleaned = clean(text)
            key = " ".join(cleaned.lower().split())
            if not key or key in seen:
                continue
            seen.add(key)
            rows.texts.append(cleaned)
            rows.labels.append(int(label))
            rows.corpus.append(name)

    for name, relative in (
        ("germeval2018", "germeval2018_offensive/train.csv"),
        ("germeval2019", "germeval2019_offensive/train_subtask1_2.csv"),
    ):
        source = common.data_file(data_dir, relative)
        rows.sources.append(source)
        frame = pd.read_csv(source.path, dtype=str, keep_default_na=False)
        frame = frame[frame["label_fine"] != "PROFANITY"]
        add(name, list(frame["text"]), list(frame["label_fine"].isin(["ABUSE", "INSULT"])))

    source = common.data_file(data_dir, "omp_one_million_posts/train_wide.csv")
    rows.sources.append(source)
    frame = pd.read_csv(source.path, dtype=str, keep_default_na=False)
    frame = frame[frame["Discriminating"] != ""]
    frame = frame[(frame["Discriminating"] == "1") | (frame["Inappropriate"] != "1")]
    texts = (frame["Headline"] + "\n" + frame["Body"]).str.strip()
    add("omp_discriminating", list(texts), list(frame["Discriminating"] == "1"))
    return rows


def lexicon_scores(texts: Sequence[str]) -> np.ndarray:
    """Return the built-in German lexicon's score of each text (quoted hits not counted)."""
    compiled = lexicon.compiled((), "de")
    return np.array(
        [lexicon.score(lexicon.mark_quoted(t, compiled.match(t))) for t in texts], dtype=float
    )


def out_of_fold(rows: Rows, C: float, folds: int = FOLDS) -> np.ndarray:
    """Return out-of-fold calibrated probabilities of the model with strength C."""
    from sklearn.model_selection import StratifiedKFold

    y = np.array(rows.labels)
    proba = np.zeros(len(y))
    splitter = StratifiedKFold(folds, shuffle=True, random_state=common.SEED % (2**31))
    for train, test in splitter.split(np.zeros(len(y)), y):
        model = wording.WordingModel(C=C, random_state=common.SEED % (2**31))
        model.fit([rows.texts[i] for i in train], y[train])
        proba[test] = model.predict_proba([rows.texts[i] for i in test])[:, 1]
    return proba


def _figures(y: np.ndarray, score: np.ndarray, threshold: float) -> dict[str, float]:
    from sklearn.metrics import average_precision_score, roc_auc_score

    predicted = (score >= threshold).astype(int)
    positives = predicted == 1
    return {
        "n": len(y),
        "official_f1": round(common.official_f1(y, predicted), 4),
        "precision_positive": round(float(y[positives].mean()) if positives.any() else 0.0, 4),
        "recall_positive": round(float(predicted[y == 1].mean()) if (y == 1).any() else 0.0, 4),
        "roc_auc": round(float(roc_auc_score(y, score)), 4) if 0 < y.sum() < len(y) else 0.0,
        "average_precision": round(float(average_precision_score(y, score)), 4),
    }


def evaluate(rows: Rows, proba: np.ndarray, lex: np.ndarray, threshold: float) -> dict[str, Any]:
    """Return CV figures at 0.5 of the lexicon, the model, the shipped blend and the open one.

    `model` is the model's part alone (threshold rescaled to 0.5); `blend` the signal as
    shipped (the model flags only with lexicon evidence); `blend_ungated` the noisy-or
    without that gate, which scores better on these tweets but flags neutral sentences
    about groups and parties (see service/scoring/inflammatory.py).
    """
    y = np.array(rows.labels)
    part = np.array([model_contribution(p, threshold) for p in proba])
    shipped = np.array([blend(s, p, threshold) for s, p in zip(lex, proba, strict=True)])
    ungated = 1.0 - (1.0 - lex) * (1.0 - part)
    corpora = ["all", *sorted(set(rows.corpus))]
    out: dict[str, Any] = {}
    scores = (("lexicon", lex), ("model", part), ("blend", shipped), ("blend_ungated", ungated))
    for label, score in scores:
        block = {}
        for corpus in corpora:
            mask = np.ones(len(y), bool) if corpus == "all" else np.array(rows.corpus) == corpus
            block[corpus] = _figures(y[mask], score[mask], 0.5)
        out[label] = block
    return out


def train_german(data_dir: Path, out_dir: Path, progress: Progress) -> None:
    """Choose C and the threshold by 5-fold CV, fit on all rows, write the artifact."""
    from sklearn.metrics import average_precision_score

    rows = load(data_dir)
    y = np.array(rows.labels)
    progress(f"{NAME}: {len(y)} texts, {int(y.sum())} positive; {FOLDS}-fold CV over C {C_GRID}")
    by_c: dict[float, np.ndarray] = {}
    for C in C_GRID:
        by_c[C] = out_of_fold(rows, C)
        ap = average_precision_score(y, by_c[C])
        progress(f"{NAME}: C={C} CV average precision {ap:.4f}")
    best_c = max(C_GRID, key=lambda c: round(float(average_precision_score(y, by_c[c])), 4))
    proba = by_c[best_c]
    threshold, f1 = common.best_threshold(y, proba)
    progress(f"{NAME}: C={best_c}, threshold {threshold} (CV official F1 {f1:.4f}); lexicon")
    lex = lexicon_scores(rows.texts)
    figures = evaluate(rows, proba, lex, threshold)
    progress(
        f"{NAME}: CV official F1 at 0.5 - lexicon {figures['lexicon']['all']['official_f1']}, "
        f"model {figures['model']['all']['official_f1']}, "
        f"blend {figures['blend']['all']['official_f1']}"
    )
    model = wording.WordingModel(C=best_c, random_state=common.SEED % (2**31))
    model.fit(rows.texts, rows.labels)
    calibration = round(common.calibration_error(y, proba), 4)
    card = common.new_card(
        NAME,
        VERSION,
        description=(
            "Derogatory wording (German), the learned half of `signals.inflammatory`: binary "
            "word 1-2-grams of the lexicon's tolerant spelling, L2-normalised, logistic "
            "regression, Platt-calibrated on out-of-fold logits. Blended with the curated "
            "lexicon: with own lexicon hits 1 - (1 - lexicon)(1 - m), m the probability "
            "rescaled so that the CV threshold lands on 0.5; without any, "
            f"{MODEL_ALONE_CAP} x probability (ranks, never flags alone)."
        ),
        data=rows.sources,
        labels={
            "1": "GermEval 2018/2019 label_fine ABUSE or INSULT; OMP Discriminating = 1",
            "0": "GermEval label_fine OTHER; OMP Discriminating = 0 and Inappropriate = 0",
            "left out": "GermEval PROFANITY; OMP Inappropriate-only posts; duplicate texts",
            "rows": {c: rows.corpus.count(c) for c in sorted(set(rows.corpus))},
            "positives": int(y.sum()),
        },
        metrics={
            "method": (
                f"stratified {FOLDS}-fold cross-validation on the training files (seed "
                f"{common.SEED}); figures at the signal threshold 0.5 of each score: the "
                "lexicon score, the model part (probability rescaled so that the CV "
                "threshold is 0.5) and their blend. Not the withheld official test sets."
            ),
            "cv_folds": FOLDS,
            "C": best_c,
            "cv_average_precision_by_C": {
                str(c): round(float(average_precision_score(y, by_c[c])), 4) for c in C_GRID
            },
            "cv_threshold": threshold,
            "cv_official_f1_model_at_threshold": round(f1, 4),
            "cv_expected_calibration_error": calibration,
            **figures,
        },
        default_threshold=threshold,
        extra={
            "window_tokens": wording.WINDOW_TOKENS,
            "vocabulary": len(model.weights_),
            "notes": [
                "Tweets (GermEval) and Austrian newspaper comments (OMP, 2015-16): topic "
                "and identity words of those years carry weight (Merkel, Islam, Linke); "
                "neutral sentences about them can score high, which is why the model "
                "never flags without lexicon evidence and its words are not shown.",
                "blend_ungated (the model may flag alone) is the better classifier on "
                "these tweets; it is reported, not shipped.",
                "German only: English text keeps the lexicon-only score.",
                "Licences: GermEval 2018 CC BY 4.0; GermEval 2019 research use; OMP CC "
                "BY-NC-SA 4.0 (non-commercial, as for the toxicity model).",
            ],
        },
    )
    common.write_artifact(out_dir, NAME, model, card)
