"""The logs of the real path (gunicorn, Celery worker) carry ids, never texts or author data.

A submission whose every personal or free-text field holds a distinctive marker goes
through webhook → score → decision → signed callback; then every line the web server and
the worker wrote is read: none holds a marker, and the lines are JSON with request ids
(web) and task ids (worker).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import requests

from service.storage.models import DELIVERED, SCORED
from tests.cms import CmsReceiver
from tests.functional.conftest import Processes, ServiceProcess, WebServer

pytestmark = pytest.mark.slow

MARKERS = {
    "text": "Zxqvtextmarker behauptet, die Stadt habe 40 Prozent mehr Gebühren verlangt.",
    "title": "Zxqvtitlemarker",
    "name": "Zxqvnamemarker Musterfrau",
    "email": "zxqvmailmarker@example.org",
    "location": "Zxqvplacemarker",
    "article": "Zxqvarticlemarker",
    "reason": "Zxqvreasonmarker",
}


def test_no_text_or_author_data_in_the_logs_of_the_whole_path(
    web_server: WebServer,
    start_worker: Callable[..., ServiceProcess],
    signed_post: Callable[..., requests.Response],
    signed_get: Callable[..., requests.Response],
    cms: CmsReceiver,
    processes: Processes,
    wait_until: Callable[..., Any],
) -> None:
    worker = start_worker()
    created = signed_post(
        f"{web_server.url}/api/v1/submissions",
        {
            "external_id": "log-1",
            "kind": "comment",
            "text": MARKERS["text"],
            "title": MARKERS["title"],
            "author": {
                "id": "reader-log",
                "name": MARKERS["name"],
                "email": MARKERS["email"],
                "location": MARKERS["location"],
            },
            "article": {"external_id": "a-log", "title": MARKERS["article"]},
        },
    )
    assert created.status_code == 202, created.text
    submission_id = created.json()["id"]
    url = f"{web_server.url}/api/v1/submissions/{submission_id}"
    wait_until(lambda: signed_get(url).json()["status"] == SCORED, 90, "the score")
    decided = signed_post(f"{url}/decision", {"decision": "rejected", "reason": MARKERS["reason"]})
    assert decided.status_code == 201, decided.text
    wait_until(lambda: cms.accepted, 30, "the callback")
    wait_until(
        lambda: signed_get(url).json()["decision"]["delivery"]["status"] == DELIVERED,
        10,
        "the delivery to be recorded",
    )
    # A bad request and an erasure leave their own log lines too.
    assert (
        signed_post(f"{web_server.url}/api/v1/submissions", {"text": MARKERS["text"]}).ok is False
    )

    logs = {proc.name: proc.log_path.read_text(errors="replace") for proc in processes.started}
    assert logs[worker.name].strip() and logs[web_server.process.name].strip()
    for name, text in logs.items():
        for field, marker in MARKERS.items():
            needle = marker.split()[0].lower()
            assert needle not in text.lower(), f"the {field} marker is in the {name} log"

    def json_lines(text: str) -> list[dict[str, Any]]:
        return [json.loads(line) for line in text.splitlines() if line.startswith("{")]

    web_lines = json_lines(logs[web_server.process.name])
    assert any(
        line.get("submission_id") == submission_id and line.get("request_id") for line in web_lines
    )
    worker_lines = json_lines(logs[worker.name])
    assert any(line.get("task_id") and line.get("task") for line in worker_lines), logs[
        worker.name
    ][-3000:]
