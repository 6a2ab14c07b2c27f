"""The pure scoring core: text in, signals, spans, sentence types and reasons out.

This package must stay free of Flask, Celery, SQLAlchemy, Redis and HTTP (an import-linter
contract in pyproject.toml keeps it so). It takes plain data (the submission, the site's
configuration, the reference texts the caller looked up) and returns plain data.
"""

from service.scoring.types import (
    SIGNALS,
    LexiconEntry,
    PolicyLimits,
    Reference,
    Result,
    Sentence,
    SignalScore,
    SiteConfig,
    Span,
    Submission,
)

__all__ = [
    "SIGNALS",
    "LexiconEntry",
    "PolicyLimits",
    "Reference",
    "Result",
    "Sentence",
    "SignalScore",
    "SiteConfig",
    "Span",
    "Submission",
]
