"""The working state that scoring phases read and add to."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from service.scoring import normalize
from service.scoring.types import (
    DEFAULT_THRESHOLD,
    Reference,
    Sentence,
    SignalScore,
    SiteConfig,
    Span,
    Submission,
)


@dataclass
class Doc:
    """A submission being scored; phases add what later phases need (language, sentences)."""

    submission: Submission
    config: SiteConfig
    references: tuple[Reference, ...] = ()
    language: str = "und"
    # Sentence boundaries (claim type filled in by the claims phase).
    sentences: list[Sentence] = field(default_factory=list)
    # Per-phase scratch space for facts that later phases reuse (e.g. person mentions).
    facts: dict[str, Any] = field(default_factory=dict)
    _views: normalize.Views | None = field(default=None, init=False, repr=False)

    @property
    def text(self) -> str:
        return self.submission.text

    @property
    def views(self) -> normalize.Views:
        """The folded, tolerant and skeleton views of the text, built once for all phases."""
        if self._views is None:
            self._views = normalize.views(self.text)
        return self._views

    @property
    def supported(self) -> bool:
        """Whether the language has trained models (German or English)."""
        return self.language in ("de", "en")


@dataclass
class Builder:
    """Collects signals, spans and notes; the pipeline turns it into a Result."""

    scores: dict[str, float] = field(default_factory=dict)
    default_thresholds: dict[str, float] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    spans: list[Span] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def signal(
        self,
        name: str,
        score: float,
        *,
        default_threshold: float = DEFAULT_THRESHOLD,
        version: str | None = None,
    ) -> None:
        """Record a signal's score in [0, 1] and the threshold its model was tuned for."""
        self.scores[name] = min(1.0, max(0.0, float(score)))
        self.default_thresholds[name] = default_threshold
        if version is not None:
            self.versions[name] = version

    def span(self, start: int, end: int, signal: str, reason: str, **details: Any) -> None:
        self.spans.append(Span(start, end, signal, reason, details))

    def finish(self, config: SiteConfig) -> dict[str, SignalScore]:
        out: dict[str, SignalScore] = {}
        site = config.thresholds
        defaults = self.default_thresholds
        versions = self.versions
        for name, score in self.scores.items():
            # What `config.threshold(name, default)` returns, without a call per signal.
            threshold = float(site[name] if name in site else defaults[name])
            out[name] = SignalScore(score, score >= threshold, threshold, versions.get(name))
        return out
