"""The site's form rules: length, links, shouting, missing name or place."""

from __future__ import annotations

from pathlib import Path

from service.scoring.document import Builder, Doc


def build(_models: Path) -> PolicyPhase:
    return PolicyPhase()


class PolicyPhase:
    def __call__(self, doc: Doc, out: Builder) -> None:
        limits = doc.config.policy
        is_letter = doc.submission.kind == "letter"
        limit = limits.max_chars_letter if is_letter else limits.max_chars_comment
        n = len(doc.text)
        if n > limit:
            out.span(limit, n, "policy", f"over the length limit: {n} of {limit} characters")
            out.signal("policy", 1.0)
        else:
            out.signal("policy", 0.0)
