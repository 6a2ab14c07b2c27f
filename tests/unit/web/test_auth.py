"""Login, logout, CSRF, rate limits, per-site access and language, through the test client."""

from __future__ import annotations

import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from service.storage.models import User
from tests.queue_support import PASSWORD
from tests.unit.web.queue_fixtures import csrf, login


def test_login_required_and_wrong_password(client: FlaskClient, world: dict[str, str]) -> None:
    assert client.get("/queue/").status_code == 302
    assert login(client, "anna@example.org", "wrong password!") == 401
    assert client.get("/queue/").status_code == 302
    assert login(client, "anna@example.org") == 302
    assert client.get("/queue/").status_code == 200


def test_forms_without_csrf_token_are_refused(client: FlaskClient, world: dict[str, str]) -> None:
    answer = client.post("/login", data={"email": "anna@example.org", "password": PASSWORD})
    assert answer.status_code == 400
    assert login(client, "anna@example.org") == 302
    answer = client.post(f"/queue/items/{world['calm']}/decide", data={"decision": "approved"})
    assert answer.status_code == 400


def test_login_attempts_are_limited_per_account(client: FlaskClient, world: dict[str, str]) -> None:
    for _ in range(5):
        assert login(client, "ben@example.org", "guess guess guess") == 401
    # Even the right password is refused until the window has passed.
    assert login(client, "ben@example.org") == 429
    assert login(client, "anna@example.org") == 302


def test_logout_ends_the_session(client: FlaskClient, world: dict[str, str]) -> None:
    login(client, "anna@example.org")
    token = csrf(client, "/queue/")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/queue/").status_code == 302


def test_other_sites_items_are_404(client: FlaskClient, world: dict[str, str]) -> None:
    login(client, "anna@example.org")
    assert client.get(f"/queue/items/{world['foreign']}").status_code == 404
    token = csrf(client, "/queue/")
    answer = client.post(
        f"/queue/items/{world['foreign']}/decide",
        data={"decision": "approved", "csrf_token": token},
    )
    assert answer.status_code == 404
    answer = client.post(
        "/queue/bulk",
        data={"site": "nope", "decision": "approved", "csrf_token": token, "ids": world["foreign"]},
    )
    assert answer.status_code == 404


def test_interface_language_follows_the_user(
    client: FlaskClient, world: dict[str, str], db_session: Session
) -> None:
    login(client, "kai@example.org")
    assert "Warteschlange" in client.get("/queue/").get_data(as_text=True)
    token = csrf(client, "/queue/")
    client.post("/locale", data={"locale": "en", "csrf_token": token})
    assert "Queue" in client.get("/queue/").get_data(as_text=True)
    user = db_session.execute(sa.select(User).where(User.email == "kai@example.org")).scalar_one()
    db_session.refresh(user)
    assert user.locale == "en"
