"""What every request handler needs, built once per app: settings, database, dispatcher."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from service.dispatch import Dispatcher, celery_sender
from service.settings import Settings
from service.storage.db import make_engine, make_session_factory


@dataclass
class Services:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    dispatcher: Dispatcher

    @classmethod
    def build(cls, settings: Settings) -> Services:
        engine = make_engine(settings)
        return cls(
            settings=settings,
            engine=engine,
            sessions=make_session_factory(engine),
            dispatcher=Dispatcher(celery_sender(settings)),
        )


def services() -> Services:
    svc: Services = current_app.extensions["modassist"]
    return svc
