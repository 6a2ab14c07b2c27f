"""Admin commands of the `modassist` CLI: create sites and logins, sign requests by hand.

Registered on the main group in service.cli. Storage is imported inside the commands, so
that `modassist score` stays free of database imports.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from sqlalchemy.orm import Session

from service.settings import Settings
from service.signing import signed_headers

_JSON_HELP = "Print one JSON object instead of text."


@contextmanager
def _session() -> Iterator[tuple[Settings, Session]]:
    """Open a session on the configured database that commits when the command succeeds."""
    from service.storage.db import make_engine, make_session_factory, session_scope

    settings = Settings.from_env().with_secret_key()
    engine = make_engine(settings)
    try:
        with session_scope(make_session_factory(engine)) as session:
            yield settings, session
    finally:
        engine.dispose()


def _print(as_json: bool, obj: dict[str, Any], lines: list[str]) -> None:
    if as_json:
        click.echo(json.dumps(obj, ensure_ascii=False))
    else:
        click.echo("\n".join(lines))


@click.group()
def sites() -> None:
    """Newspaper sites (one per CMS) and their signing keys."""


@sites.command("create")
@click.argument("name")
@click.option("--callback-url", default=None, help="Where decisions are POSTed (http or https).")
@click.option("--json", "as_json", is_flag=True, help=_JSON_HELP)
def sites_create(name: str, callback_url: str | None, as_json: bool) -> None:
    """Create the site NAME and print its key id and secret (the secret is shown once)."""
    from service.storage import sites as repo

    with _session() as (settings, session):
        try:
            site, secret = repo.create_site(
                session, settings.secret_key, name, callback_url, actor="cli"
            )
        except repo.SiteError as exc:
            raise click.ClickException(str(exc)) from None
        site_id, key_id, stored_name = site.id, site.key_id, site.name
    _print(
        as_json,
        {
            "site": stored_name,
            "id": site_id,
            "key_id": key_id,
            "secret": secret,
            "callback_url": callback_url,
        },
        [
            f"site:         {stored_name} ({site_id})",
            f"key id:       {key_id}",
            f"secret:       {secret}",
            f"callback url: {callback_url or '-'}",
            "The secret is shown only now: store it in the CMS.",
        ],
    )


@sites.command("rotate-key")
@click.argument("name")
@click.option(
    "--overlap-hours",
    type=click.FloatRange(min=0),
    default=24.0,
    show_default=True,
    help="How long the old key stays valid, so the CMS can switch without downtime.",
)
@click.option("--json", "as_json", is_flag=True, help=_JSON_HELP)
def sites_rotate_key(name: str, overlap_hours: float, as_json: bool) -> None:
    """Give the site NAME a new key id and secret (shown once); the old key works a while longer."""
    from datetime import timedelta

    from service.storage import sites as repo

    with _session() as (settings, session):
        site = repo.get_by_name(session, name)
        if site is None:
            raise click.ClickException(f"no site named {name!r}")
        key_id, secret = repo.rotate_key(
            session, settings.secret_key, site, overlap=timedelta(hours=overlap_hours), actor="cli"
        )
        previous, until = site.previous_key_id, site.previous_valid_until
    assert until is not None
    _print(
        as_json,
        {
            "site": name,
            "key_id": key_id,
            "secret": secret,
            "previous_key_id": previous,
            "previous_valid_until": until.isoformat(),
        },
        [
            f"site:       {name}",
            f"key id:     {key_id}",
            f"secret:     {secret}",
            f"old key {previous} stays valid until {until.isoformat()}",
            "The secret is shown only now: store it in the CMS.",
        ],
    )


@click.group()
def users() -> None:
    """Moderator and admin logins."""


@users.command("create")
@click.option("--site", "site_name", required=True, help="Name of the site the login works on.")
@click.option(
    "--role", required=True, type=click.Choice(["moderator", "admin"]), help="Role on the site."
)
@click.option("--email", required=True, help="Login e-mail address.")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from standard input instead of generating a one-time password.",
)
@click.option("--json", "as_json", is_flag=True, help=_JSON_HELP)
def users_create(
    site_name: str, role: str, email: str, password_stdin: bool, as_json: bool
) -> None:
    """Create a login for a site; print a one-time password unless --password-stdin is given."""
    from service.storage import sites as site_repo
    from service.storage import users as repo

    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise click.ClickException("no password on standard input")
    with _session() as (_settings, session):
        site = site_repo.get_by_name(session, site_name)
        if site is None:
            raise click.ClickException(
                f"no site named {site_name!r} (see `modassist sites create`)"
            )
        try:
            user, one_time = repo.create_user(session, email, password, site, role, actor="cli")
        except repo.UserError as exc:
            raise click.ClickException(str(exc)) from None
        user_id, address = user.id, user.email
    obj: dict[str, Any] = {"user": address, "id": user_id, "site": site_name, "role": role}
    lines = [f"user:  {address} ({user_id})", f"site:  {site_name} as {role}"]
    if one_time is not None:
        obj["password"] = one_time
        lines.append(f"one-time password: {one_time}  (shown only now)")
    _print(as_json, obj, lines)


@click.command()
@click.option("--key-id", required=True, help="The site's key id (mk_...).")
@click.option(
    "--secret",
    required=True,
    envvar="MODASSIST_SIGN_SECRET",
    help="The site's secret (or set MODASSIST_SIGN_SECRET, which keeps it out of `ps`).",
)
@click.option(
    "--method",
    default="POST",
    show_default=True,
    type=click.Choice(["POST", "GET", "DELETE"], case_sensitive=False),
    help="HTTP method for --curl.",
)
@click.option("--curl", "curl_url", default=None, help="Print a complete curl command for URL.")
@click.option("--timestamp", type=int, default=None, help="Unix seconds (default: now).")
@click.argument("source", required=False, type=click.Path(allow_dash=True, dir_okay=False))
def sign(
    key_id: str,
    secret: str,
    method: str,
    curl_url: str | None,
    timestamp: int | None,
    source: str | None,
) -> None:
    """Print the three signature headers for the body in SOURCE (a file, or - for stdin).

    Without SOURCE the body is empty for GET and DELETE and read from stdin for POST.
    With --curl URL, print a complete curl command instead.
    """
    method = method.upper()
    if source is None:
        body = b"" if method in ("GET", "DELETE") else sys.stdin.buffer.read()
    elif source == "-":
        body = sys.stdin.buffer.read()
    else:
        try:
            body = Path(source).read_bytes()
        except OSError as exc:
            raise click.ClickException(f"cannot read {source}: {exc.strerror}") from None
    now = time.time() if timestamp is None else float(timestamp)
    headers = signed_headers(key_id, secret, body, now)
    if curl_url is None:
        for name, value in headers.items():
            click.echo(f"{name}: {value}")
        return
    parts = ["curl", "-sS", "-X", method, shlex.quote(curl_url)]
    for name, value in headers.items():
        parts += ["-H", shlex.quote(f"{name}: {value}")]
    if body:
        parts += ["-H", shlex.quote("Content-Type: application/json")]
        if source not in (None, "-"):
            parts += ["--data-binary", shlex.quote(f"@{source}")]
        else:
            parts += ["--data-binary", shlex.quote(body.decode("utf-8", "replace"))]
    click.echo(" ".join(parts))


COMMANDS = (sites, users, sign)
