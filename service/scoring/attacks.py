"""Attacks on named people."""

from __future__ import annotations

from pathlib import Path

from service.scoring.document import Builder, Doc


def build(_models: Path) -> AttacksPhase:
    return AttacksPhase()


class AttacksPhase:
    # Not built yet: its scoring issue fills this phase in. The signal key is present.
    def __call__(self, doc: Doc, out: Builder) -> None:
        out.signal("personal_attack", 0.0)
