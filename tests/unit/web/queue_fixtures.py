"""Fixtures of the queue and login page tests: an app, a client, two papers with items."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from service.settings import Settings
from service.web import create_app
from tests.queue_support import PASSWORD, add_submission, make_site, make_user, result_data

CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
    application = create_app(replace(settings, undo_window_s=60))
    application.config["TESTING"] = True
    yield application
    application.extensions["modassist"].engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def csrf(client: FlaskClient, path: str = "/login") -> str:
    page = client.get(path)
    found = CSRF.search(page.get_data(as_text=True))
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def login(client: FlaskClient, email: str, password: str = PASSWORD) -> int:
    token = csrf(client)
    answer = client.post("/login", data={"email": email, "password": password, "csrf_token": token})
    return answer.status_code


@pytest.fixture
def world(db_session: Session) -> dict[str, str]:
    """Two papers, a moderator for each, and a small queue on the first."""
    tagblatt = make_site(db_session, "Tagblatt")
    kurier = make_site(db_session, "Kurier")
    make_user(db_session, tagblatt, "anna@example.org")
    make_user(db_session, tagblatt, "ben@example.org")
    make_user(db_session, kurier, "kai@example.org", locale="de")
    text = 'Die <script>alert("x")</script> Kriegstreiber lügen. Laut dpa stieg die Zahl.'
    risky = add_submission(
        db_session,
        tagblatt,
        "risky",
        text,
        author_name='<b onmouseover="x">Evil</b>',
        data=result_data(
            text,
            {"toxicity": 0.4, "inflammatory": 0.9, "unsourced_claims": 0.8, "policy": 0.0},
            spans=[
                {"start": 36, "end": 50, "signal": "inflammatory", "reason": "Schmähwort"},
                {"start": 36, "end": 56, "signal": "toxicity", "reason": "<i>hart</i>"},
            ],
            sentences=[
                {"start": 0, "end": 56, "claim": "unsourced"},
                {"start": 57, "end": len(text), "claim": "attributed", "source": "dpa"},
            ],
            priority=0.9,
        ),
    )
    calm = add_submission(
        db_session,
        tagblatt,
        "calm",
        "Danke für den guten Artikel.",
        data=result_data("x", {"toxicity": 0.02, "inflammatory": 0.0}, priority=0.05),
    )
    calm2 = add_submission(
        db_session,
        tagblatt,
        "calm2",
        "Sehr informativ, weiter so.",
        data=result_data("x", {"toxicity": 0.04, "inflammatory": 0.0}, priority=0.06),
    )
    foreign = add_submission(
        db_session,
        kurier,
        "foreign",
        "Kurier-Kommentar",
        data=result_data("x", {"toxicity": 0.99}, priority=0.99),
    )
    failed = add_submission(
        db_session, tagblatt, "broken", "kaputt", status="failed", error="TimeoutError: model"
    )
    return {
        "risky": risky.id,
        "calm": calm.id,
        "calm2": calm2.id,
        "foreign": foreign.id,
        "failed": failed.id,
        "tagblatt": tagblatt.id,
    }
