"""The ordered list of scoring phases, and the Scorer that runs them.

Each phase reads the Doc (and what earlier phases put there) and records signals, spans
and notes on the Builder. A phase explains itself: every score it sets comes with the
spans and reasons that produced it. The order matters and is commented below.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from service.scoring import (
    attacks,
    claims,
    copying,
    inflammatory,
    language,
    policy,
    priority,
    sentences,
    toxicity,
)
from service.scoring.artifacts import artifacts_dir
from service.scoring.document import Builder, Doc
from service.scoring.types import SIGNALS, Reference, Result, SiteConfig, Submission

MODEL_VERSION = "2026.11.1"

#: A str holds a surrogate code point only when it is lone (a JSON escape like "\\ud800").
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")

#: The configuration of a submission scored without one (frozen, never changed by a phase).
_DEFAULT_CONFIG = SiteConfig()

Phase = Callable[[Doc, Builder], None]
PhaseFactory = Callable[[Path], Phase]

PHASES: tuple[tuple[str, PhaseFactory], ...] = (
    # Language first: every later phase picks its German or English path from it, and an
    # unsupported language is marked, never scored as German.
    ("language", language.build),
    # Sentence boundaries with offsets: claims, attacks and spans are per sentence.
    ("sentences", sentences.build),
    # Form rules need only the text and the site's limits.
    ("policy", policy.build),
    # Word lists before the models: the lexicon hits are features and explanations (the
    # phase blends in its own small model's score, German only).
    ("inflammatory", inflammatory.build),
    ("toxicity", toxicity.build),
    # Claims per sentence; attacks use both the insults above and unsourced claims.
    ("claims", claims.build),
    ("personal_attack", attacks.build),
    ("copied_text", copying.build),
)


#: Built after the other phases (they still run in PHASES' order): see _build_order.
BUILT_LAST = ("language",)


def _build_order(
    phases: Sequence[tuple[str, PhaseFactory]],
) -> list[tuple[str, PhaseFactory]]:
    """Return the phases in the order to build them: BUILT_LAST after the others.

    Peak memory: unpickling a model needs 20-40 MB for a moment, and lingua's models are
    ~330-350 MB that stay; built first, lingua would lift those moments by that much.
    The others keep their relative order, because the n-gram counters number characters
    in the order they are built (`ngrams._CharTable`), which sets the order of the sums.
    """
    return [p for p in phases if p[0] not in BUILT_LAST] + [p for p in phases if p[0] in BUILT_LAST]


class Scorer:
    """Score submissions with models loaded once; safe to reuse for many submissions."""

    def __init__(self, models_dir: Path | None = None) -> None:
        directory = artifacts_dir(models_dir)
        built = {name: factory(directory) for name, factory in _build_order(PHASES)}
        self.phases: list[tuple[str, Phase]] = [(name, built[name]) for name, _ in PHASES]
        self.model_version = MODEL_VERSION

    def score(
        self,
        submission: Submission,
        config: SiteConfig | None = None,
        references: Sequence[Reference] = (),
    ) -> Result:
        config = config if config is not None else _DEFAULT_CONFIG
        doc = Doc(submission=_encodable(submission), config=config, references=tuple(references))
        out = Builder()
        for _name, phase in self.phases:
            phase(doc, out)
        for name in SIGNALS:  # every signal key is present, even when a phase had nothing
            if name not in out.scores:
                out.signal(name, 0.0)
        finished = out.finish(config)
        order = [*SIGNALS, *sorted(set(finished) - set(SIGNALS))]
        signals = {name: finished[name] for name in order}
        spans = tuple(sorted(out.spans, key=lambda s: (s.start, s.end, s.signal)))
        return Result(
            id=submission.id,
            language=doc.language,
            model_version=self.model_version,
            priority=priority.combine(signals, submission),
            signals=signals,
            spans=spans,
            sentences=tuple(doc.sentences),
            notes=tuple(out.notes),
        )


def _encodable(submission: Submission) -> Submission:
    """Replace lone surrogates by U+FFFD, one code point for one, so offsets stay the same.

    They cannot be encoded as UTF-8, which the models' tokenizers do; found by
    tests/unit/scoring/test_hostile_text.py.
    """

    def clean(value: str | None) -> str | None:
        return None if value is None else _LONE_SURROGATE.sub("\ufffd", value)

    parts = (submission.text, submission.title, submission.author_name, submission.author_location)
    if not any(part and _LONE_SURROGATE.search(part) for part in parts):
        return submission
    return replace(
        submission,
        text=_LONE_SURROGATE.sub("\ufffd", submission.text),
        title=clean(submission.title),
        author_name=clean(submission.author_name),
        author_location=clean(submission.author_location),
    )
