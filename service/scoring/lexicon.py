"""Inflammatory or derogatory wording from curated word lists."""

from __future__ import annotations

from pathlib import Path

from service.scoring.document import Builder, Doc


def build(_models: Path) -> LexiconPhase:
    return LexiconPhase()


class LexiconPhase:
    # Not built yet: its scoring issue fills this phase in. The signal key is present.
    def __call__(self, doc: Doc, out: Builder) -> None:
        out.signal("inflammatory", 0.0)
