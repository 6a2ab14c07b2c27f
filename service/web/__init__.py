"""The Flask web app: `create_app(settings)` with one blueprint per surface."""

from __future__ import annotations

from flask import Flask

from service.settings import Settings
from service.web.context import Services


def create_app(settings: Settings | None = None, services: Services | None = None) -> Flask:
    """Build the app from explicit settings; nothing here migrates, sleeps or exits."""
    settings = (settings or Settings.from_env()).with_secret_key()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
    )
    app.extensions["modassist"] = services or Services.build(settings)

    from service.web import admin, api, auth, ops, queue

    app.register_blueprint(api.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(queue.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(ops.bp)
    # CSRF on every form (the signed CMS API exempt), interface language, login session.
    auth.init_app(app)
    return app
