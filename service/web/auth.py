"""Log moderators and admins in and out; who may see which site; the interface language.

Sessions are Flask's signed cookies (HttpOnly, SameSite=Lax, Secure unless turned off
for local http). Every form carries a CSRF token (Flask-WTF CSRFProtect); only the CMS
API, which is signed with HMAC instead, is exempt. Failed logins are stored in the
database and counted per account and per address: too many in a window gives 429,
and when the count cannot be read the login is refused (fail closed).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import (
    Blueprint,
    Flask,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import Babel, get_locale, gettext
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.exc import SQLAlchemyError

from service.storage import users
from service.storage.models import LoginFailure, Site, User
from service.web.context import services

log = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)

MODERATOR, ADMIN, ROLES = users.MODERATOR, users.ADMIN, users.ROLES
LOCALES = ("de", "en")
#: Failed logins counted within this window.
LOGIN_WINDOW = timedelta(minutes=15)
LOGIN_MAX_FAILURES_PER_ACCOUNT = 5
LOGIN_MAX_FAILURES_PER_ADDRESS = 30
SESSION_LIFETIME = timedelta(hours=12)

P = ParamSpec("P")
R = TypeVar("R")


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class CurrentUser:
    """The logged-in user and their role per site."""

    id: str
    email: str
    locale: str
    roles: dict[str, str]

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.roles.values()

    def can_see(self, site_id: str) -> bool:
        return site_id in self.roles


def init_app(app: Flask) -> None:
    """Install CSRF protection, the language selector and the session lifetime on `app`."""
    app.config.setdefault("PERMANENT_SESSION_LIFETIME", SESSION_LIFETIME)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", int(SESSION_LIFETIME.total_seconds()))
    csrf = CSRFProtect(app)
    if "api" in app.blueprints:
        # The CMS API is authenticated by HMAC signatures, not cookies: no CSRF there.
        csrf.exempt(app.blueprints["api"])
    Babel(app, locale_selector=select_locale)

    @app.context_processor
    def _inject() -> dict[str, Any]:
        return {"current_user": current_user(), "locales": LOCALES, "get_locale": get_locale}


def select_locale() -> str:
    """Pick the interface language: the user's choice, else the browser's, else German."""
    user = current_user()
    if user is not None and user.locale in LOCALES:
        return user.locale
    chosen = session.get("locale")
    if chosen in LOCALES:
        return str(chosen)
    return request.accept_languages.best_match(LOCALES) or "de"


def current_user() -> CurrentUser | None:
    """Return the logged-in user (loaded once per request), or None."""
    if "current_user" in g:
        cached: CurrentUser | None = g.current_user
        return cached
    user: CurrentUser | None = None
    uid = session.get("uid")
    if isinstance(uid, str):
        with services().sessions() as db:
            row = db.get(User, uid)
            if row is not None and row.disabled_at is None:
                roles = users.roles_for(db, row)
                user = CurrentUser(id=row.id, email=row.email, locale=row.locale, roles=roles)
    g.current_user = user
    return user


def login_required(view: Callable[P, R]) -> Callable[P, R | ResponseReturnValue]:
    """Send anonymous visitors to the login page, then back."""

    @functools.wraps(view)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R | ResponseReturnValue:
        if current_user() is None:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapped


def require_user() -> CurrentUser:
    user = current_user()
    if user is None:
        abort(401)
    return user


def require_site(site_id: str, roles: tuple[str, ...] = ROLES) -> CurrentUser:
    """Return the user if they work on `site_id` in one of `roles`; 404 otherwise.

    404 rather than 403, so that nobody learns that another paper's item exists.
    """
    user = require_user()
    if user.roles.get(site_id) not in roles:
        abort(404)
    return user


def require_admin() -> CurrentUser:
    user = require_user()
    if not user.is_admin:
        abort(404)
    return user


def user_sites(user: CurrentUser) -> list[tuple[str, str]]:
    """Return (id, name) of the sites the user works on, by name."""
    if not user.roles:
        return []
    with services().sessions() as db:
        rows = db.execute(
            sa.select(Site.id, Site.name).where(Site.id.in_(user.roles)).order_by(Site.name)
        )
        return [(str(site_id), str(name)) for site_id, name in rows]


def _client_address() -> str:
    # Behind a proxy, the deployment sets ProxyFix; here the socket address is the truth.
    return (request.remote_addr or "unknown")[:64]


def _too_many_failures(email: str, address: str, at: datetime) -> bool:
    since = at - LOGIN_WINDOW
    with services().sessions() as db:
        per_account = db.execute(
            sa.select(sa.func.count())
            .select_from(LoginFailure)
            .where(LoginFailure.email == email, LoginFailure.at > since)
        ).scalar_one()
        per_address = db.execute(
            sa.select(sa.func.count())
            .select_from(LoginFailure)
            .where(LoginFailure.ip == address, LoginFailure.at > since)
        ).scalar_one()
    return per_account >= LOGIN_MAX_FAILURES_PER_ACCOUNT or (
        per_address >= LOGIN_MAX_FAILURES_PER_ADDRESS
    )


def _record_failure(email: str, address: str, at: datetime) -> None:
    with services().sessions.begin() as db:
        db.add(LoginFailure(email=email, ip=address, at=at))
        # Old failures no longer count: keep the table small.
        db.execute(sa.delete(LoginFailure).where(LoginFailure.at < at - 4 * LOGIN_WINDOW))


def _safe_next(target: str | None) -> str:
    # Only paths on this site: an absolute URL in ?next= would make us an open redirect.
    if target and target.startswith("/") and not target.startswith("//"):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("queue.index")


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    """Show the login form and log in with e-mail and password."""
    if request.method == "GET":
        return render_template("login.html", next=request.args.get("next", ""))
    email = request.form.get("email", "").strip().lower()[:320]
    password = request.form.get("password", "")
    address = _client_address()
    at = now()
    try:
        blocked = _too_many_failures(email, address, at)
    except SQLAlchemyError:
        log.exception("login rate limit unavailable")
        blocked = True  # fail closed: no unlimited guessing while the store is down
    if blocked:
        log.warning("login rate limited", extra={"address": address})
        message = gettext("Too many failed attempts. Please wait a few minutes.")
        return render_template("login.html", error=message, next=""), 429
    with services().sessions() as db:
        user = users.authenticate(db, email, password)
        user_id = user.id if user is not None else None
        db.commit()  # keeps a rehashed password when the hash parameters were raised
    if user_id is None:
        _record_failure(email, address, at)
        log.info("login failed", extra={"address": address})
        message = gettext("E-mail or password is wrong.")
        return render_template("login.html", error=message, next=request.form.get("next")), 401
    # A fresh session on login: nothing from before (e.g. a planted cookie) carries over.
    session.clear()
    session.permanent = True
    session["uid"] = user_id
    g.pop("current_user", None)
    log.info("login", extra={"user_id": user_id})
    return redirect(_safe_next(request.form.get("next")))


@bp.route("/logout", methods=["POST"])
def logout() -> ResponseReturnValue:
    """End the session (a POST with a CSRF token, so no link can log anyone out)."""
    session.clear()
    flash(gettext("You are logged out."))
    return redirect(url_for("auth.login"))


@bp.route("/locale", methods=["POST"])
def set_locale() -> ResponseReturnValue:
    """Switch the interface language, remembered on the user (or the session if anonymous)."""
    locale = request.form.get("locale", "")
    if locale not in LOCALES:
        abort(400)
    user = current_user()
    if user is not None:
        with services().sessions.begin() as db:
            db.execute(sa.update(User).where(User.id == user.id).values(locale=locale))
    session["locale"] = locale
    return redirect(_safe_next(request.form.get("next")))
