"""`signals.inflammatory`: the curated lexicon's evidence blended with a learned model score.

The lexicon (`lexicon.py`) gives the spans and reasons: every listed term or context rule
the author uses, with its category, weight and explanation. The model (`wording.py`,
artifact `inflammatory_de`, German only) gives a calibrated probability that the text
degrades people or groups, which also catches abusive wording the lists lack.

Blend, with the model's probability p and its cross-validated threshold t:
- the model's part m puts t on the signal's 0.5 (`0.5·p/t` below, `0.5 + 0.5·(p−t)/(1−t)`
  above);
- with lexicon evidence (any own hit, score L > 0) the signal is the noisy-or
  `1 − (1 − L)(1 − m)`: the model confirms or strengthens what the spans show;
- without any, it is `MODEL_ALONE_CAP · p` (below the 0.5 threshold): the model ranks such
  texts but never flags one on its own, so every flagged text has a highlighted reason.
The cap is there because a bag of words learned from political tweets leans on topics and
identity words: out of fold it is the better classifier on tweets, but it calls "Der Islam
ist die zweitgrößte Religion in Deutschland." or "Die Linken fordern einen höheren
Mindestlohn." derogatory (p 0.70 and 0.79). The figures of both blends are in the card.
For the same reason the model's strongest words are not shown as evidence: they are often
names and group words ("Merkel", "Islam"), not the derogatory wording itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from service.scoring import artifacts, lexicon, wording
from service.scoring.document import Builder, Doc

SIGNAL = lexicon.SIGNAL
MODEL_NAME = "inflammatory_de"
#: Languages the model was trained for; others keep the lexicon-only score.
MODEL_LANGUAGES = ("de",)
#: Without lexicon evidence the signal is this times the model's probability: never flags.
MODEL_ALONE_CAP = 0.45


def model_contribution(probability: float, threshold: float) -> float:
    """Rescale a model probability so that `threshold` lands on 0.5 (monotone, in [0, 1])."""
    p = min(1.0, max(0.0, probability))
    if p < threshold:
        return 0.5 * p / threshold
    return 0.5 + 0.5 * (p - threshold) / (1.0 - threshold) if threshold < 1.0 else 1.0


def blend(lexicon_score: float, probability: float, threshold: float) -> float:
    """Return the signal from the lexicon score and the model's probability (see above)."""
    if lexicon_score > 0.0:
        part = model_contribution(probability, threshold)
        return 1.0 - (1.0 - lexicon_score) * (1.0 - part)
    return MODEL_ALONE_CAP * min(1.0, max(0.0, probability))


def build(models: Path) -> InflammatoryPhase:
    model, card = artifacts.load(models, MODEL_NAME)
    return InflammatoryPhase(lexicon.build(models), model, card)


class InflammatoryPhase:
    """Run the lexicon phase (spans, reasons, score), then blend in the model's score."""

    def __init__(
        self, words: lexicon.LexiconPhase, model: wording.WordingModel, card: dict[str, Any]
    ) -> None:
        self.words = words
        self.model = model
        self.threshold = float(card["default_threshold"])
        self.version = f"{lexicon.VERSION}+{MODEL_NAME}-{card['version']}"

    def __call__(self, doc: Doc, out: Builder) -> None:
        self.words(doc, out)
        if doc.language not in MODEL_LANGUAGES:
            return
        window = self.model.strongest_window(wording.tokens(doc.views.tolerant.text))
        doc.facts["inflammatory_model"] = window.probability
        out.signal(
            SIGNAL,
            blend(out.scores.get(SIGNAL, 0.0), window.probability, self.threshold),
            default_threshold=lexicon.DEFAULT_THRESHOLD,
            version=self.version,
        )
