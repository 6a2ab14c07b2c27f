"""The beat task that notices a copy index lost with Redis and rebuilds it in steps.

The work is `service.storage.copywatch.watch`; this module only runs it from Celery: every
`WATCH_INTERVAL_S` (worker.app's beat schedule) and, while a rebuild is unfinished, again
at once after each step of `STEP_BUDGET_S`, so scoring tasks queued meanwhile run between
the steps. The task keeps its own database engine (built on first use, after the fork),
apart from worker.tasks' Runtime.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from service.dispatch import SCORING_QUEUE
from service.settings import Settings
from service.storage import copies, copywatch
from service.storage.db import make_engine, make_session_factory

#: Seconds of rebuilding per task run.
STEP_BUDGET_S = 10.0


def register(app: Any, settings: Settings) -> None:
    """Register the copy index watch task on a Celery app."""
    factory: list[sessionmaker[Session]] = []
    lock = threading.Lock()

    def sessions() -> sessionmaker[Session]:
        with lock:
            if not factory:
                factory.append(make_session_factory(make_engine(settings)))
            return factory[0]

    @app.task(name=copywatch.COPY_INDEX_WATCH, shared=False)  # type: ignore[untyped-decorator]
    def copy_index_watch_task() -> dict[str, Any]:
        client = copies.client_or_none(settings.redis_url)
        if client is None:
            return copywatch.IndexState(copywatch.UNKNOWN).as_dict()
        state = copywatch.watch(client, sessions(), budget_s=STEP_BUDGET_S)
        if state.state == copywatch.REBUILDING and state.worked:  # the next step at once
            app.send_task(copywatch.COPY_INDEX_WATCH, queue=SCORING_QUEUE)
        return state.as_dict()
