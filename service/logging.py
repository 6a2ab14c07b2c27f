"""Structured JSON logs for every process (web, worker, CLI), configured in this one place.

Each record is one JSON object on one line: time, level, logger, message, the request id
(inside a Flask request), the Celery task id and name (inside a task), and the `extra`
fields a caller passes whose names are on `SAFE_FIELDS` — ids, statuses, counts and
durations. Other extras are dropped, so a careless `extra={"text": ...}` never reaches a
log. Messages themselves must carry ids and scores only, never submission text or author
data (tests/unit/test_logging.py runs the real path and checks).

`configure()` is idempotent; `MODASSIST_LOG_FORMAT=text` switches to plain lines for a
terminal, `MODASSIST_LOG_LEVEL` sets the level (INFO).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from typing import Any

#: `extra` fields that may appear in a record: identifiers and figures, never content.
SAFE_FIELDS = frozenset(
    {
        "request_id",
        "task_id",
        "task",
        "id",
        "submission_id",
        "delivery_id",
        "decision_id",
        "site_id",
        "endpoint",
        "status",
        "outcome",
        "attempt",
        "attempts",
        "duration_ms",
        "priority",
        "count",
        "queue",
        "error",
        "error_type",
        "check",
    }
)
_HANDLER_NAME = "modassist-json"
_lock = threading.Lock()


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON line with request and task ids where known."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in SAFE_FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                entry[name] = value if isinstance(value, int | float | bool) else str(value)
        entry.setdefault("request_id", _flask_request_id())
        task_id, task_name = _celery_task()
        if task_id is not None:
            entry.setdefault("task_id", task_id)
            entry.setdefault("task", task_name)
        if entry.get("request_id") is None:
            entry.pop("request_id")
        if record.exc_info and record.exc_info[0] is not None:
            # The type and the frames only: an exception's message may quote a text.
            entry["exception"] = record.exc_info[0].__name__
            entry["stack"] = _frames(record.exc_info[2])
        return json.dumps(entry, ensure_ascii=False)


def _flask_request_id() -> str | None:
    flask = sys.modules.get("flask")
    if flask is None or not flask.has_request_context():
        return None
    value = flask.g.get("request_id")
    return None if value is None else str(value)


def _celery_task() -> tuple[str | None, str | None]:
    state = sys.modules.get("celery._state")
    if state is None:
        return None, None
    task = state.get_current_task()
    if task is None or task.request is None or task.request.id is None:
        return None, None
    return str(task.request.id), str(task.name)


def _frames(tb: Any) -> str:
    import traceback

    frames = traceback.extract_tb(tb)
    return " <- ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno}" for f in reversed(frames))


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Write to whatever sys.stderr is at the time (test runners swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def configure(stream: Any = None) -> logging.Handler:
    """Send every log record to one JSON handler on stderr (or `stream`); return it."""
    with _lock:
        root = logging.getLogger()
        for handler in root.handlers:
            if handler.get_name() == _HANDLER_NAME:
                return handler
        handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
        handler.set_name(_HANDLER_NAME)
        if os.environ.get("MODASSIST_LOG_FORMAT", "json").lower() == "text":
            handler.setFormatter(
                logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
            )
        else:
            handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
        root.setLevel(os.environ.get("MODASSIST_LOG_LEVEL", "INFO").upper())
        return handler


def gunicorn_logconfig() -> dict[str, Any]:
    """Return a logging dictConfig for gunicorn: its error and access logs as JSON too."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {
            "level": os.environ.get("MODASSIST_LOG_LEVEL", "INFO").upper(),
            "handlers": ["stderr"],
        },
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": [], "propagate": True},
            "gunicorn.access": {"level": "INFO", "handlers": [], "propagate": True},
        },
    }
