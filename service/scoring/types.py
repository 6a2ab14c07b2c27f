"""Plain data that goes into and comes out of the scoring core (CONTRACT.md §1)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["comment", "letter"]
ClaimType = Literal["none", "attributed", "vague", "unsourced"]

#: Every signal key of the result object, in the order the contract lists them.
SIGNALS: tuple[str, ...] = (
    "toxicity",
    "inflammatory",
    "factual_claims",
    "unsourced_claims",
    "personal_attack",
    "copied_text",
    "policy",
)

DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class Submission:
    """One text to score, with the little context the rules need."""

    id: str
    text: str
    kind: Kind = "comment"
    language: str | None = None
    title: str | None = None
    author_name: str | None = None
    author_location: str | None = None
    # The article the submission answers, if the CMS told us: a short marked quote of it
    # is fine, copying it is not.
    article_id: str | None = None


@dataclass(frozen=True)
class Reference:
    """A known text to compare a submission with: a published article or an earlier submission."""

    id: str
    kind: Literal["article", "submission"]
    text: str
    title: str | None = None
    external_id: str | None = None
    author_id: str | None = None


@dataclass(frozen=True)
class LexiconEntry:
    """One word-list entry, built in or added per site by an admin."""

    term: str
    category: str
    weight: float = 1.0
    explanation: str = ""
    # Which signal the entry feeds: "inflammatory" (default) or "toxicity".
    signal: str = "inflammatory"
    whole_word: bool = False
    compound_part: bool = True
    obfuscation_tolerant: bool = True


@dataclass(frozen=True)
class PolicyLimits:
    """The site's form rules (CONTRACT.md §1 `policy`)."""

    max_chars_letter: int = 3000
    max_chars_comment: int = 1500
    max_links: int = 2
    max_caps_share: float = 0.5
    require_name_for_letters: bool = True
    require_place_for_letters: bool = True


@dataclass(frozen=True)
class SiteConfig:
    """Per-site scoring configuration: thresholds, form rules and word-list additions."""

    thresholds: Mapping[str, float] = field(default_factory=dict)
    policy: PolicyLimits = field(default_factory=PolicyLimits)
    lexicon: tuple[LexiconEntry, ...] = ()

    def threshold(self, signal: str, default: float = DEFAULT_THRESHOLD) -> float:
        """Return the site's threshold for a signal, or the model's default."""
        return float(self.thresholds.get(signal, default))


@dataclass(frozen=True)
class Span:
    """A highlighted passage: offsets in code points into the text exactly as received."""

    start: int
    end: int
    signal: str
    reason: str
    # Optional details shown to the moderator (category, weight, source id, quoted, ...).
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "start": self.start,
            "end": self.end,
            "signal": self.signal,
            "reason": self.reason,
        }
        out.update(self.details)
        return out


@dataclass(frozen=True)
class Sentence:
    """One sentence with its claim type and, when attributed, the named source."""

    start: int
    end: int
    claim: ClaimType = "none"
    source: str | None = None
    score: float | None = None
    cues: tuple[Span, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"start": self.start, "end": self.end, "claim": self.claim}
        if self.source is not None:
            out["source"] = self.source
        if self.score is not None:
            out["score"] = round(self.score, 4)
        if self.cues:
            out["cues"] = [c.to_dict() for c in self.cues]
        return out


@dataclass(frozen=True)
class SignalScore:
    score: float
    flagged: bool
    threshold: float
    version: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "score": round(self.score, 4),
            "flagged": self.flagged,
            "threshold": self.threshold,
        }
        if self.version is not None:
            out["version"] = self.version
        return out


@dataclass(frozen=True)
class Result:
    """The result object of CONTRACT.md §1."""

    id: str
    language: str
    model_version: str
    priority: float
    signals: Mapping[str, SignalScore]
    spans: tuple[Span, ...]
    sentences: tuple[Sentence, ...]
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "language": self.language,
            "model_version": self.model_version,
            "priority": round(self.priority, 4),
            "signals": {name: s.to_dict() for name, s in self.signals.items()},
            "spans": [s.to_dict() for s in self.spans],
            "sentences": [s.to_dict() for s in self.sentences],
            "notes": list(self.notes),
        }
