"""The `modassist` command line."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import click

from service import cli_admin
from service.demo_queue import demo_queue
from service.settings import Settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Moderation assist for newsrooms: score, serve, work and administer."""
    from service.logging import configure

    configure()


@main.command()
@click.argument("source", type=click.File("r", encoding="utf-8"), default="-")
def score(source: IO[str]) -> None:
    """Score JSON Lines from SOURCE (a file or - for standard input), one result per line.

    Each input line is {"id": str, "text": str, "kind"?: "comment"|"letter",
    "language"?: str}. Uses the same code and default thresholds as the service, without
    the web app, the broker or a database. A bad line gives an error object for that line.
    """
    from service.scoring.pipeline import Scorer
    from service.scoring.types import Submission

    scorer = Scorer(Settings.from_env().models_dir)
    for lineno, line in enumerate(source, start=1):
        if not line.strip():
            continue
        try:
            sub = _parse_score_line(line, lineno)
        except ValueError as exc:
            _emit({"error": {"code": "invalid_input", "message": str(exc), "line": lineno}})
            continue
        _emit(scorer.score(Submission(**sub)).to_dict())


def _parse_score_line(line: str, lineno: int) -> dict[str, Any]:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"line {lineno} is not valid JSON: {exc.msg}") from None
    if not isinstance(obj, dict):
        raise ValueError(f"line {lineno} must be a JSON object")
    ident, text = obj.get("id"), obj.get("text")
    if not isinstance(ident, str) or not isinstance(text, str):
        raise ValueError(f'line {lineno} needs "id" and "text" as strings')
    kind = obj.get("kind", "comment")
    if kind not in ("comment", "letter"):
        raise ValueError(f'line {lineno}: "kind" must be "comment" or "letter"')
    language = obj.get("language")
    if language is not None and not isinstance(language, str):
        raise ValueError(f'line {lineno}: "language" must be a string')
    return {"id": ident, "text": text, "kind": kind, "language": language}


def _emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


@main.group()
def db() -> None:
    """Database migrations."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the migrations to the configured database (MODASSIST_DATABASE_URL)."""
    from service.storage import migrate

    migrate.upgrade(Settings.from_env())
    click.echo("database is up to date", err=True)


@db.command("check")
def db_check() -> None:
    """Fail when the models and the migrations disagree."""
    from service.storage import migrate

    migrate.check(Settings.from_env())


@main.command()
@click.option("--missing-only", is_flag=True, help="Train only models whose artifacts are missing.")
@click.option("--only", multiple=True, help="Train only these artifacts (repeatable).")
@click.option(
    "--data-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Training data (default: ../shared/data beside the checkout).",
)
def train(missing_only: bool, only: tuple[str, ...], data_dir: Path | None) -> None:
    """Train the scoring models and write versioned artifacts with model cards."""
    from service.scoring.artifacts import artifacts_dir
    from service.training import TRAINERS, default_data_dir

    out = artifacts_dir(Settings.from_env().models_dir)
    data = data_dir or default_data_dir()
    names = [n for n in TRAINERS if not only or n in only]
    unknown = set(only) - set(TRAINERS)
    if unknown:
        raise click.UsageError(f"unknown model(s): {', '.join(sorted(unknown))}")
    for name in names:
        if missing_only and (out / name / "card.json").exists():
            continue
        click.echo(f"training {name} from {data}", err=True)
        TRAINERS[name](data, out, _progress(name))


def _progress(name: str) -> Callable[[str], None]:
    def report(message: str) -> None:
        click.echo(f"[{name}] {message}", err=True)

    return report


_PASS_THROUGH = {"ignore_unknown_options": True, "allow_extra_args": True}


@main.command(context_settings=_PASS_THROUGH)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--workers", default=2, show_default=True, help="gunicorn worker processes.")
@click.argument("gunicorn_args", nargs=-1, type=click.UNPROCESSED)
def serve(host: str, workers: int, gunicorn_args: tuple[str, ...]) -> None:
    """Serve the web app with gunicorn on MODASSIST_PORT; extra arguments go to gunicorn."""
    import os

    from service import runner

    argv = runner.gunicorn_argv(runner.prepared_settings(), host, workers, gunicorn_args)
    os.execv(argv[0], argv)  # noqa: S606 -- replaces this process with gunicorn, argv built above


@main.command(context_settings=_PASS_THROUGH)
@click.option(
    "--processes",
    type=click.IntRange(min=1),
    default=None,
    help="Run N single-process (solo) workers under one supervisor that restarts any that "
    "dies; less CPU per task than the prefork pool. What `make run` and compose ship.",
)
@click.option(
    "--concurrency", type=int, default=None, help="Prefork pool processes (default: CPU count)."
)
@click.option(
    "--solo", is_flag=True, help="One single-process worker (what --processes starts N of)."
)
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
def worker(
    processes: int | None, concurrency: int | None, solo: bool, celery_args: tuple[str, ...]
) -> None:
    """Run a Celery worker on the scoring and delivery queues; extra arguments go to Celery.

    Scoring tasks keep their soft time limit (a hung model becomes a retry) in every mode.
    """
    from service import runner

    if sum((processes is not None, concurrency is not None, solo)) > 1:
        raise click.UsageError("choose one of --processes, --concurrency and --solo")
    settings = runner.prepared_settings()  # the secret key exists before the pool forks
    if processes is not None:
        sys.exit(runner.solo_workers(processes, celery_args))
    from worker.app import app

    if solo:
        from worker.solo import POOL

        # Celery's --pool takes only its own names; a configured pool is used instead.
        app.conf.worker_pool = POOL
        app.worker_main(runner.solo_worker_argv(settings, celery_args))
    else:
        app.worker_main(runner.worker_argv(settings, concurrency, celery_args))


@main.command(context_settings=_PASS_THROUGH)
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
def beat(celery_args: tuple[str, ...]) -> None:
    """Run Celery beat, which schedules the sweep; run exactly one per installation."""
    from service import runner

    settings = runner.prepared_settings()
    from worker.app import app

    app.start(runner.beat_argv(settings, celery_args))


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--concurrency", default=1, show_default=True, help="Worker processes (solo, supervised)."
)
def run(host: str, concurrency: int) -> None:
    """Migrate, start Redis if needed, the web app, a worker and beat; Ctrl-C stops all."""
    from service import runner

    sys.exit(runner.run(host, concurrency))


@main.group()
def copyindex() -> None:
    """The copy-detection index in Redis (copied text, campaigns)."""


#: Texts between two progress lines of `copyindex rebuild`.
_PROGRESS_EVERY = 10_000


@copyindex.command("rebuild")
@click.option(
    "--wait-seconds",
    type=float,
    default=None,
    help="How long to wait for the rebuild lock that the workers' watch may hold "
    "(default: the lock's lifetime, 120 s); then exit with an error.",
)
def copyindex_rebuild(wait_seconds: float | None) -> None:
    """Rebuild the copy index from the database (articles and scored submissions).

    Use after Redis was restored from an old snapshot or to drop the tombstones of
    replaced and removed texts. Submissions of erased authors are left out. Runs the
    workers' rebuild steps (service.storage.copywatch) to the end under their lock:
    waits for a step of theirs to finish, continues a rebuild they have under way, and
    leaves the index marked ready. Prints progress on stderr and the counts as JSON.
    """
    from service.storage import copies, copywatch
    from service.storage.db import make_engine, make_session_factory

    settings = Settings.from_env()
    engine = make_engine(settings)
    client = copies.client_for(settings.redis_url)
    report = _progress("copyindex")
    shown = [0]

    def progress(state: copywatch.IndexState) -> None:
        if state.done // _PROGRESS_EVERY > shown[0] // _PROGRESS_EVERY:
            report(f"{state.done} of {state.total} texts")
        shown[0] = state.done

    try:
        wait_s = copywatch.LOCK_WAIT_S if wait_seconds is None else wait_seconds
        counts = copywatch.rebuild(
            client, make_session_factory(engine), progress=progress, wait_s=wait_s
        )
    except copywatch.RebuildBusy as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        engine.dispose()
    click.echo(json.dumps(counts))


# `sites create`, `users create` and `sign` (service/cli_admin.py).
for _command in cli_admin.COMMANDS:
    main.add_command(_command)
main.add_command(demo_queue)  # fills a site's queue with real comments (service/demo_queue.py)


if __name__ == "__main__":
    main()
