"""`modassist sites create`, `users create` and `sign` against a real database."""

from __future__ import annotations

import json
import shlex
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy import select

from service.cli import main
from service.settings import Settings
from service.signing import sign, verify
from service.storage import sites, users
from service.storage.db import make_session_factory
from service.storage.models import Membership, User


@pytest.fixture
def runner(settings: Settings) -> CliRunner:
    # The CLI reads everything from the environment, like in production.
    return CliRunner(
        env={
            "MODASSIST_DATABASE_URL": settings.database_url,
            "MODASSIST_DATA_DIR": str(settings.data_dir),
            "MODASSIST_SECRET_KEY": settings.secret_key,
        }
    )


def test_sites_create_prints_key_and_secret_once(
    runner: CliRunner, settings: Settings, engine: sa.Engine
) -> None:
    result = runner.invoke(
        main, ["sites", "create", "Tagblatt", "--callback-url", "https://cms.example/cb", "--json"]
    )
    assert result.exit_code == 0, result.output
    created = json.loads(result.output)
    assert created["site"] == "Tagblatt" and created["key_id"].startswith("mk_")
    with make_session_factory(engine)() as session:
        found = sites.find_by_key_id(session, settings.secret_key, created["key_id"])
        assert found is not None and found.secret == created["secret"]
        assert found.site.callback_url == "https://cms.example/cb"
    text = runner.invoke(main, ["sites", "create", "Kurier"])
    assert text.exit_code == 0 and "shown only now" in text.output
    duplicate = runner.invoke(main, ["sites", "create", "Tagblatt"])
    assert duplicate.exit_code == 1 and "exists already" in duplicate.output
    bad_url = runner.invoke(main, ["sites", "create", "X", "--callback-url", "cms.example"])
    assert bad_url.exit_code == 1 and "callback URL" in bad_url.output


def test_users_create_with_one_time_or_given_password(runner: CliRunner, engine: sa.Engine) -> None:
    assert runner.invoke(main, ["sites", "create", "Tagblatt"]).exit_code == 0
    result = runner.invoke(
        main,
        [
            "users",
            "create",
            "--site",
            "Tagblatt",
            "--role",
            "moderator",
            "--email",
            "M@x.de",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    created = json.loads(result.output)
    assert created["user"] == "m@x.de" and created["role"] == "moderator"
    given = runner.invoke(
        main,
        [
            "users",
            "create",
            "--site",
            "Tagblatt",
            "--role",
            "admin",
            "--email",
            "a@x.de",
            "--password-stdin",
            "--json",
        ],
        input="a long enough password\n",
    )
    assert given.exit_code == 0, given.output
    assert "password" not in json.loads(given.output)
    with make_session_factory(engine)() as session:
        moderator = users.get_by_email(session, "m@x.de")
        assert moderator is not None and users.verify_password(moderator, created["password"])
        admin = users.authenticate(session, "a@x.de", "a long enough password")
        assert admin is not None
        assert session.scalars(
            select(Membership.role).where(Membership.user_id == admin.id)
        ).all() == ["admin"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--site", "Nowhere", "--role", "admin", "--email", "b@x.de"], "no site named"),
        (["--site", "Tagblatt", "--role", "owner", "--email", "b@x.de"], "owner"),
        (["--site", "Tagblatt", "--role", "admin", "--email", "m@x.de"], "exists already"),
        (["--site", "Tagblatt", "--role", "admin", "--email", "nope"], "e-mail"),
    ],
)
def test_users_create_errors_are_clear(
    runner: CliRunner, engine: sa.Engine, args: list[str], message: str
) -> None:
    runner.invoke(main, ["sites", "create", "Tagblatt"])
    runner.invoke(
        main, ["users", "create", "--site", "Tagblatt", "--role", "admin", "--email", "m@x.de"]
    )
    result = runner.invoke(main, ["users", "create", *args])
    assert result.exit_code != 0 and message in result.output
    with make_session_factory(engine)() as session:
        assert len(session.scalars(select(User)).all()) == 1


def test_sign_prints_headers_and_a_curl_command(tmp_path: Path) -> None:
    runner = CliRunner()
    body = tmp_path / "body.json"
    body.write_bytes(b'{"text": "Gr\xc3\xbc\xc3\x9fe"}')
    result = runner.invoke(
        main, ["sign", "--key-id", "mk_1", "--secret", "s3", "--timestamp", "1700000000", str(body)]
    )
    assert result.exit_code == 0, result.output
    headers = dict(line.split(": ", 1) for line in result.output.splitlines())
    assert headers["X-Modassist-Key"] == "mk_1"
    assert headers["X-Modassist-Signature"] == sign("s3", "1700000000", body.read_bytes())
    curl = runner.invoke(
        main,
        ["sign", "--key-id", "mk_1", "--curl", "http://127.0.0.1:8000/api/v1/submissions", "-"],
        input='{"a": "it\'s"}',
        env={"MODASSIST_SIGN_SECRET": "s3"},
    )
    assert curl.exit_code == 0, curl.output
    words = shlex.split(curl.output)
    assert words[:5] == ["curl", "-sS", "-X", "POST", "http://127.0.0.1:8000/api/v1/submissions"]
    assert words[-1] == '{"a": "it\'s"}'
    stamp = next(w for w in words if w.startswith("X-Modassist-Timestamp")).split(": ")[1]
    signature = next(w for w in words if w.startswith("X-Modassist-Signature")).split(": ")[1]
    assert abs(int(stamp) - time.time()) < 60
    assert verify("s3", stamp, b'{"a": "it\'s"}', signature)
    get = runner.invoke(
        main, ["sign", "--key-id", "k", "--secret", "s", "--method", "GET", "--curl", "http://h/x"]
    )
    assert "--data-binary" not in get.output and "-X GET" in get.output
    missing = runner.invoke(main, ["sign", "--key-id", "k", "--secret", "s", str(tmp_path / "no")])
    assert missing.exit_code == 1 and "cannot read" in missing.output


def test_every_admin_command_has_help() -> None:
    runner = CliRunner()
    for args in (
        ["sites", "--help"],
        ["sites", "create", "--help"],
        ["users", "create", "--help"],
        ["sign", "--help"],
    ):
        result = runner.invoke(main, args)
        assert result.exit_code == 0 and "Usage:" in result.output


def test_rotate_key_keeps_the_old_key_for_the_overlap(
    runner: CliRunner, settings: Settings, engine: sa.Engine
) -> None:
    old = json.loads(runner.invoke(main, ["sites", "create", "Tagblatt", "--json"]).output)
    result = runner.invoke(
        main, ["sites", "rotate-key", "Tagblatt", "--overlap-hours", "2", "--json"]
    )
    assert result.exit_code == 0, result.output
    new = json.loads(result.output)
    assert new["key_id"] != old["key_id"] and new["previous_key_id"] == old["key_id"]
    with make_session_factory(engine)() as session:
        current = sites.find_by_key_id(session, settings.secret_key, new["key_id"])
        previous = sites.find_by_key_id(session, settings.secret_key, old["key_id"])
        assert current is not None and current.secret == new["secret"]
        assert previous is not None and previous.secret == old["secret"]
    unknown = runner.invoke(main, ["sites", "rotate-key", "Nowhere"])
    assert unknown.exit_code == 1 and "no site named" in unknown.output
