"""What every request handler needs, built once per app: settings, database, dispatcher."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from service.dispatch import Dispatcher
from service.settings import Settings
from service.storage.db import make_engine, make_session_factory
from service.web.cms_auth import SiteKeyCache
from service.web.enqueue import broker_sender


@dataclass
class Services:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    dispatcher: Dispatcher
    # Built by hand (tests): no cache, every request looks its key up.
    key_cache: SiteKeyCache = field(default_factory=lambda: SiteKeyCache(0.0))

    @classmethod
    def build(cls, settings: Settings) -> Services:
        engine = make_engine(settings)
        return cls(
            settings=settings,
            engine=engine,
            sessions=make_session_factory(engine),
            dispatcher=Dispatcher(broker_sender(settings)),
            key_cache=SiteKeyCache(settings.site_key_cache_s),
        )


def services() -> Services:
    svc: Services = current_app.extensions["modassist"]
    return svc
