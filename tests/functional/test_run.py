"""`modassist run` on a fresh data folder: everything starts, a letter is scored, and one
SIGTERM stops every child and the embedded Redis."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from service.signing import signed_headers
from tests.functional.conftest import VENV_BIN, Processes, ServiceProcess
from tests.support import SEED_LETTER, free_port

pytestmark = pytest.mark.slow


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) counts as gone.
    status = Path(f"/proc/{pid}/stat")
    return status.exists() and status.read_text().split()[2] != "Z"


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def test_run_starts_everything_scores_and_stops_cleanly(
    processes: Processes, tmp_path: Path, wait_until: Callable[..., Any]
) -> None:
    port = free_port()
    data_dir = tmp_path / "var"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MODASSIST_DATABASE_URL", "MODASSIST_REDIS_URL", "MODASSIST_SECRET_KEY")
    }
    env.update(
        {"PYTHONUNBUFFERED": "1", "MODASSIST_DATA_DIR": str(data_dir), "MODASSIST_PORT": str(port)}
    )
    run = processes.add(
        ServiceProcess("run", [str(VENV_BIN / "modassist"), "run"], env, tmp_path / "run.log")
    )

    def announced() -> str | None:
        assert run.alive, run.log_tail()
        text = run.log_path.read_text(errors="replace")
        return text if "modassist is running at" in text else None

    log = wait_until(announced, 120, "`modassist run` to announce itself")
    key_id = re.search(r"key id:\s+(\S+)", log)
    secret = re.search(r"secret:\s+(\S+)", log)
    assert key_id and secret, log
    credentials = data_dir / "demo-credentials.json"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert json.loads(credentials.read_text())["key_id"] == key_id.group(1)
    children = {name: int(pid) for name, pid in re.findall(r"started (\w+) \(pid (\d+)\)", log)}
    assert set(children) == {"web", "beat", "worker"}
    embedded = re.search(r"embedded Redis on redis://127.0.0.1:(\d+)", log)
    assert embedded, log
    redis_port = int(embedded.group(1))

    url = f"http://127.0.0.1:{port}/api/v1/submissions"
    body = json.dumps(
        {"external_id": "run-1", "text": SEED_LETTER.read_text(encoding="utf-8"), "kind": "letter"}
    ).encode()

    def headers(raw: bytes) -> dict[str, str]:
        signed = signed_headers(key_id.group(1), secret.group(1), raw, time.time())
        return {"Content-Type": "application/json", **signed}

    created = requests.post(url, data=body, headers=headers(body), timeout=30)
    assert created.status_code == 202, created.text
    submission = f"{url}/{created.json()['id']}"

    def scored() -> bool:
        answer = requests.get(submission, headers=headers(b""), timeout=30).json()
        return bool(answer["status"] == "scored")

    wait_until(scored, 120, "the letter to be scored")

    assert run.proc is not None
    os.kill(run.proc.pid, signal.SIGTERM)
    assert run.proc.wait(90) == 0, run.log_tail()
    for name, pid in children.items():
        assert not _pid_alive(pid), f"{name} (pid {pid}) still runs"
    assert not _port_open(redis_port)
    assert not _port_open(port)
    assert "stopped embedded Redis" in run.log_path.read_text()
