"""Fill a site's queue with real reader comments (and optionally a letter) for a trial shift.

`modassist demo-queue --site Demo --letter FILE --comments CSV --count 300` stores the
texts as submissions of the site, as the CMS API would, and enqueues their scoring; a
running worker (`make run`) scores them and they appear in `/queue`. The comments CSV is
read with a `Body` column (the One Million Posts corpus in ../shared/data has one).
"""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import click

from service.dispatch import Dispatcher, celery_sender
from service.settings import Settings
from service.storage import sites, submissions
from service.storage.db import make_engine, make_session_factory

#: Reader comments shorter than this are mostly "+1" and not worth a moderator's look.
MIN_COMMENT_CHARS = 40
MAX_COMMENT_CHARS = 1500


def read_comments(path: Path, count: int) -> list[str]:
    """Return up to `count` comment texts from the `Body` column of a UTF-8 CSV file."""
    out: list[str] = []
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or "Body" not in reader.fieldnames:
            raise click.UsageError(f"{path} has no Body column")
        for row in reader:
            body = (row.get("Body") or "").strip()
            if MIN_COMMENT_CHARS <= len(body) <= MAX_COMMENT_CHARS:
                out.append(body)
            if len(out) >= count:
                break
    return out


@click.command("demo-queue")
@click.option("--site", "site_name", required=True, help="Name of an existing site.")
@click.option("--letter", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--comments", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--count", type=click.IntRange(0, 10_000), default=300, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def demo_queue(
    site_name: str, letter: Path | None, comments: Path | None, count: int, as_json: bool
) -> None:
    """Store a letter and real comments as submissions of SITE and enqueue their scoring."""
    settings = Settings.from_env().with_secret_key()
    texts: list[tuple[str, str, str]] = []
    if letter is not None:
        text = letter.read_text(encoding="utf-8")
        texts.append((f"demo-letter-{_digest(text)}", "letter", text))
    if comments is not None:
        texts += [
            (f"demo-comment-{_digest(body)}", "comment", body)
            for body in read_comments(comments, count)
        ]
    if not texts:
        raise click.UsageError("give --letter and/or --comments")
    engine = make_engine(settings)
    created: list[str] = []
    try:
        with make_session_factory(engine)() as session:
            site = sites.get_by_name(session, site_name)
            if site is None:
                raise click.UsageError(f"no site named {site_name!r}")
            for external_id, kind, text in texts:
                sub, new = submissions.ingest(
                    session, site, submissions.SubmissionIn(external_id, text, kind)
                )
                if new:
                    created.append(sub.id)
            session.commit()
    finally:
        engine.dispose()
    dispatcher = Dispatcher(celery_sender(settings))
    enqueued = sum(dispatcher.enqueue_score(sid) for sid in created)
    summary = {"site": site_name, "stored": len(created), "enqueued": enqueued}
    click.echo(
        json.dumps(summary)
        if as_json
        else f"{site_name}: {len(created)} stored, "
        f"{enqueued} enqueued for scoring (the sweep picks up the rest)"
    )


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]
