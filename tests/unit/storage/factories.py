"""Small builders for storage tests: a site, a submission payload, a stored result."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from service.storage import sites, submissions
from service.storage.models import SCORED, Result, Site, Submission, utcnow
from tests.conftest import TEST_SECRET_KEY


def make_site(
    session: Session, name: str = "Tagblatt", callback_url: str | None = "http://127.0.0.1:9/cb"
) -> tuple[Site, str]:
    site, secret = sites.create_site(session, TEST_SECRET_KEY, name, callback_url)
    session.commit()
    return site, secret


def payload(external_id: str = "c-1", text: str = "Ein Leserbrief.", **extra: Any) -> Any:
    return submissions.SubmissionIn(external_id=external_id, text=text, kind="letter", **extra)


def score(session: Session, sub: Submission, toxicity: float = 0.7) -> Result:
    """Store a result the way the worker does (shape of CONTRACT.md §1)."""
    data = {
        "id": sub.id,
        "language": "de",
        "model_version": "test.1",
        "priority": toxicity,
        "signals": {
            "toxicity": {"score": toxicity, "flagged": toxicity >= 0.5, "threshold": 0.5},
            "policy": {"score": 0.0, "flagged": False, "threshold": 0.5},
        },
        "spans": [],
        "sentences": [],
    }
    result = Result(submission_id=sub.id, model_version="test.1", priority=toxicity, data=data)
    session.add(result)
    sub.status = SCORED
    sub.scored_at = utcnow()
    session.commit()
    session.refresh(sub)
    return result
