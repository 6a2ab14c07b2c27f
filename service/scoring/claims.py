"""Factual claims per sentence: attributed, vaguely attributed or unsourced."""

from __future__ import annotations

from pathlib import Path

from service.scoring.document import Builder, Doc


def build(_models: Path) -> ClaimsPhase:
    return ClaimsPhase()


class ClaimsPhase:
    # Not built yet: the claims issue fills this phase in. The signal keys are present.
    def __call__(self, doc: Doc, out: Builder) -> None:
        out.signal("factual_claims", 0.0)
        out.signal("unsourced_claims", 0.0)
