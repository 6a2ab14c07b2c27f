"""The moderators' queue: list, item view, claims, decisions (single and bulk), undo, notes.

Thin views: parse the request, call `service.storage.queue` / `decisions`, render. A
moderator only ever sees the sites they are a member of; an item of another site is a 404.
Decisions are committed first and the callback is enqueued after the commit, with a
countdown of the undo window, so that an undo in time cancels it before it goes out.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext, lazy_gettext
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from service.scoring.types import SIGNALS
from service.storage import decisions
from service.storage import queue as store
from service.storage.models import (
    APPROVED,
    REJECTED,
    SCORED,
    Article,
    Author,
    Decision,
    Site,
    Submission,
    User,
)
from service.web import highlight
from service.web.auth import (
    CurrentUser,
    login_required,
    now,
    require_site,
    require_user,
    user_sites,
)
from service.web.context import services

log = logging.getLogger(__name__)

bp = Blueprint("queue", __name__, url_prefix="/queue")

REASON_MAX_CHARS = 2_000

SIGNAL_LABELS = {
    "toxicity": lazy_gettext("toxic"),
    "inflammatory": lazy_gettext("inflammatory"),
    "factual_claims": lazy_gettext("factual claim"),
    "unsourced_claims": lazy_gettext("unsourced claim"),
    "personal_attack": lazy_gettext("personal attack"),
    "copied_text": lazy_gettext("copied"),
    "policy": lazy_gettext("policy"),
}
CLAIM_LABELS = {
    "unsourced": lazy_gettext("unsourced claim"),
    "vague": lazy_gettext("vague source"),
    "attributed": lazy_gettext("attributed"),
}
STATUS_LABELS = {
    "queued": lazy_gettext("waiting for scoring"),
    "scored": lazy_gettext("open"),
    "approved": lazy_gettext("approved"),
    "rejected": lazy_gettext("rejected"),
    "failed": lazy_gettext("scoring failed"),
}
DEFAULT_REASON_TEMPLATES: list[dict[str, str]] = [
    {
        "id": "insult",
        "de": "Beleidigung oder herabwürdigende Sprache",
        "en": "Insult or degrading language",
    },
    {
        "id": "unsourced",
        "de": "Unbelegte Tatsachenbehauptungen",
        "en": "Unsourced factual claims",
    },
    {
        "id": "attack",
        "de": "Angriff auf eine namentlich genannte Person",
        "en": "Attack on a named person",
    },
    {"id": "copied", "de": "Übernommener fremder Text", "en": "Copied text"},
    {"id": "length", "de": "Zu lang für die Veröffentlichung", "en": "Too long to publish"},
    {"id": "offtopic", "de": "Kein Bezug zum Artikel", "en": "Off topic"},
]


@bp.errorhandler(400)
@bp.errorhandler(404)
def _error_page(error: HTTPException) -> ResponseReturnValue:
    """Answer refused requests with a page in the user's language, not a bare error."""
    code = error.code or 500
    title = gettext("Not found") if code == 404 else gettext("Cannot do that")
    message = error.description if code == 400 else None
    return render_template("error.html", code=code, title=title, message=message), code


def signal_label(name: str) -> str:
    return str(SIGNAL_LABELS.get(name, name))


def claim_label(claim: str, source: str | None) -> str:
    label = str(CLAIM_LABELS.get(claim, claim))
    return f"{label}: {source}" if claim == "attributed" and source else label


def undo_window_s() -> int:
    return services().settings.undo_window_s


def reason_templates(site: Site, locale: str) -> list[tuple[str, str]]:
    """Return (id, text) of the site's reason templates in the user's language."""
    raw = (site.settings or {}).get("reason_templates")
    templates = raw if isinstance(raw, list) and raw else DEFAULT_REASON_TEMPLATES
    out = []
    for t in templates:
        if not isinstance(t, dict) or not isinstance(t.get("id"), str):
            continue
        text = t.get(locale) or t.get("de") or t.get("en") or t.get("text")
        if isinstance(text, str) and text.strip():
            out.append((t["id"], text.strip()))
    return out


def compose_reason(
    site: Site, locale: str, template_id: str, free_text: str, decision: str = APPROVED
) -> str | None:
    """Join the chosen template and the free text into the reason sent to the CMS.

    A rejection needs a reason: the newspaper tells the reader why.
    """
    parts = []
    if template_id:
        found = dict(reason_templates(site, locale)).get(template_id)
        if found is None:
            abort(400, gettext("Unknown reason template."))
        parts.append(found)
    free_text = free_text.strip()
    if len(free_text) > REASON_MAX_CHARS:
        abort(400, gettext("The reason is too long."))
    if free_text:
        parts.append(free_text)
    if decision == REJECTED and not parts:
        abort(400, gettext("A rejection needs a reason: choose one or write one."))
    return " – ".join(parts) or None


def _site_for(user: CurrentUser) -> str:
    """Pick the site to show: ?site=, else the one chosen before, else the first."""
    wanted = request.args.get("site") or session.get("site_id")
    if isinstance(wanted, str) and user.can_see(wanted):
        session["site_id"] = wanted
        return wanted
    sites = user_sites(user)
    if not sites:
        abort(404)
    session["site_id"] = sites[0][0]
    return sites[0][0]


def _filter() -> store.QueueFilter:
    try:
        return store.QueueFilter.parse(request.args)
    except store.QueueError as exc:
        abort(400, str(exc))


def _load_item(db: Session, submission_id: str) -> tuple[Submission, CurrentUser]:
    sub = db.get(Submission, submission_id)
    if sub is None:
        abort(404)
    user = require_site(sub.site_id)
    return sub, user


@bp.route("/")
@login_required
def index() -> ResponseReturnValue:
    """List the queue of the current site under the chosen filter, one keyset page."""
    user = require_user()
    site_id = _site_for(user)
    flt = _filter()
    cursor = request.args.get("after") or None
    with services().sessions() as db:
        try:
            page = store.list_page(db, site_id, flt, cursor=cursor)
        except store.QueueError as exc:
            abort(400, str(exc))
        site = db.get(Site, site_id)
        assert site is not None
        templates = reason_templates(site, user.locale)
    return render_template(
        "queue.html",
        page=page,
        flt=flt,
        site=site,
        sites=user_sites(user),
        cursor=cursor,
        signals=SIGNALS,
        signal_label=signal_label,
        status_labels=STATUS_LABELS,
        templates=templates,
        loaded_at=now().isoformat(),
        now=now(),
        user=user,
    )


@bp.route("/facets")
@login_required
def facets() -> ResponseReturnValue:
    """Return the counts beside each filter choice (fetched after the list has rendered)."""
    user = require_user()
    site_id = _site_for(user)
    flt = _filter()
    with services().sessions() as db:
        f = store.facets(db, site_id, flt)
    return jsonify(
        {
            "total": str(f.total),
            "status": {k: str(v) for k, v in f.statuses.items()},
            "kind": {k: str(v) for k, v in f.kinds.items()},
            "language": {k: str(v) for k, v in f.languages.items()},
            "signal": {k: str(v) for k, v in f.signals.items()},
        }
    )


@bp.route("/poll")
@login_required
def poll() -> ResponseReturnValue:
    """Say how many scored items arrived since `since` (cheap; the page polls it)."""
    user = require_user()
    site_id = _site_for(user)
    try:
        since = datetime.fromisoformat(request.args.get("since", ""))
    except ValueError:
        abort(400, "since must be an ISO 8601 time")
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    with services().sessions() as db:
        count = store.newer_than(db, site_id, since)
    return jsonify({"new": count, "checked_at": now().isoformat()})


@bp.route("/items/<submission_id>")
@login_required
def item(submission_id: str) -> ResponseReturnValue:
    """Show one item and claim it for the viewer unless another moderator holds it."""
    at = now()
    with services().sessions() as db:
        sub, user = _load_item(db, submission_id)
        is_open = sub.status in decisions.OPEN_STATUSES
        claim = store.claim(db, sub.id, user.id, at) if is_open else None
        db.commit()
        db.refresh(sub)
        holder_email = None
        if claim is not None and not claim.mine and claim.user_id:
            holder = db.get(User, claim.user_id)
            holder_email = holder.email if holder else None
        result = sub.result.data if sub.result is not None else {}
        inline, wide = _split_spans(result.get("spans", []))
        text_html = highlight.render(
            sub.text,
            inline,
            result.get("sentences", []),
            signal_label,
            claim_label,
        )
        author: Author | None = sub.author
        site = sub.site
        context: dict[str, Any] = {
            "sub": sub,
            "result": result,
            "model_version": sub.result.model_version if sub.result else None,
            "text_html": text_html,
            "author": author,
            "claim": claim,
            "is_open": is_open,
            "holder_email": holder_email,
            "history": store.author_history(db, sub),
            "notes": store.notes_for(db, sub.id),
            "decision": store.latest_decision(db, sub.id),
            "templates": reason_templates(site, user.locale),
            "site": site,
            "signals": SIGNALS,
            "signal_label": signal_label,
            "status_labels": STATUS_LABELS,
            "wide_spans": [
                {
                    **w,
                    "signal_label": signal_label(str(w.get("signal"))),
                    "head": _head(sub.text, w),
                }
                for w in wide
            ],
            "spans_by_signal": _with_sources(
                db, sub.site_id, _spans_by_signal(sub.text, result.get("spans", []))
            ),
            "claim_sentences": _claim_sentences(sub.text, result.get("sentences", [])),
            "next_id": request.args.get("next") or "",
            "back": _back_url(),
            "undo_window_s": undo_window_s(),
            "user": user,
        }
    return render_template("item.html", **context)


def _back_url() -> str:
    back = request.args.get("back", "")
    return back if back.startswith("/queue") else url_for("queue.index")


def _spans_by_signal(text: str, spans: Iterable[Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for s in spans:
        if not isinstance(s, dict):
            continue
        start, end = int(s.get("start", 0)), int(s.get("end", 0))
        entry = dict(s)
        entry["quote"] = text[max(0, start) : max(0, end)]
        out.setdefault(str(s.get("signal", "")), []).append(entry)
    return out


#: Spans longer than this are listed above the text instead of painted over it (a length
#: overrun or a pasted-report guess would otherwise colour the whole letter).
WIDE_SPAN_CHARS = 400


def _split_spans(spans: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    inline: list[dict[str, Any]] = []
    wide: list[dict[str, Any]] = []
    for s in spans if isinstance(spans, list) else []:
        if not isinstance(s, dict):
            continue
        length = _int(s.get("end")) - _int(s.get("start"))
        (wide if length > WIDE_SPAN_CHARS else inline).append(s)
    return inline, wide


def _head(text: str, span: dict[str, Any], words: int = 8) -> str:
    start = max(0, _int(span.get("start")))
    return " ".join(text[start : start + 200].split()[:words])


#: Longest source passage shown beside a copied one.
SOURCE_PASSAGE_MAX_CHARS = 1_500


def _with_sources(
    db: Session, site_id: str, spans: dict[str, list[dict[str, Any]]]
) -> dict[str, list[dict[str, Any]]]:
    """Add the source's passage to each copied span, for sources of the same paper only.

    A shared corpus may hold another paper's submissions: their text is not ours to show.
    """
    for span in spans.get("copied_text", []):
        kind, source_id = span.get("source_kind"), span.get("source_id")
        model: Any = {"article": Article, "submission": Submission}.get(str(kind))
        if model is None or not isinstance(source_id, str):
            continue
        source = db.get(model, source_id)
        if source is None or source.site_id != site_id:
            continue
        start, end = _int(span.get("source_start")), _int(span.get("source_end"))
        if 0 <= start < end:
            span["source_text"] = source.text[start : min(end, start + SOURCE_PASSAGE_MAX_CHARS)]
        if kind == "submission":
            span["source_link"] = url_for("queue.item", submission_id=source.id)
        elif span.get("source_title") is None:
            span["source_title"] = source.title
    return spans


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def _claim_sentences(text: str, sentences: Iterable[Any]) -> list[dict[str, Any]]:
    out = []
    for s in sentences:
        if isinstance(s, dict) and s.get("claim") not in (None, "none"):
            entry = dict(s)
            entry["quote"] = text[max(0, int(s.get("start", 0))) : max(0, int(s.get("end", 0)))]
            entry["claim_label"] = claim_label(str(s["claim"]), s.get("source"))
            out.append(entry)
    return out


def _decide_one(
    db: Session, sub: Submission, user: CurrentUser, decision: str, reason: str | None
) -> tuple[str, str | None]:
    """Record a decision (the caller commits) and return (decision id, delivery id)."""
    dec = decisions.record_decision(
        db,
        sub,
        decision,
        reason,
        user_id=user.id,
        actor=f"user:{user.id}",
        now=now(),
        undo_window_s=undo_window_s(),
    )
    store.release(db, sub.id, user.id)
    delivery = decisions.delivery_of(db, dec)
    return dec.id, delivery.id if delivery is not None else None


def _decision_from_form() -> str:
    decision = request.form.get("decision", "")
    if decision not in (APPROVED, REJECTED):
        abort(400, gettext("Choose approve or reject."))
    return decision


@bp.route("/items/<submission_id>/decide", methods=["POST"])
@login_required
def decide(submission_id: str) -> ResponseReturnValue:
    """Approve or reject one item; its callback goes out after the undo window."""
    decision = _decision_from_form()
    at = now()
    with services().sessions() as db:
        sub, user = _load_item(db, submission_id)
        claim = store.current_claim(sub, user.id, at)
        if claim.user_id is not None and not claim.mine:
            flash(gettext("Another moderator is working on this item."), "error")
            return redirect(url_for("queue.item", submission_id=sub.id)), 303
        reason = compose_reason(
            sub.site,
            user.locale,
            request.form.get("template", ""),
            request.form.get("reason", ""),
            decision,
        )
        try:
            decision_id, delivery_id = _decide_one(db, sub, user, decision, reason)
        except decisions.AlreadyDecided:
            db.rollback()
            flash(gettext("This item has already been decided."), "error")
            return redirect(url_for("queue.item", submission_id=sub.id)), 303
        db.commit()
    if delivery_id:
        services().dispatcher.enqueue_delivery(delivery_id, countdown_s=undo_window_s())
    log.info("decided", extra={"submission_id": submission_id, "decision": decision})
    session["last_decisions"] = [decision_id]
    flash(
        gettext("Approved.") if decision == APPROVED else gettext("Rejected."),
        "undo",
    )
    nxt = request.form.get("next", "")
    if nxt:
        return redirect(url_for("queue.item", submission_id=nxt, back=_back_form())), 303
    return redirect(_back_form()), 303


def _back_form() -> str:
    back = request.form.get("back", "")
    return back if back.startswith("/queue") else url_for("queue.index")


@bp.route("/undo", methods=["POST"])
@login_required
def undo() -> ResponseReturnValue:
    """Undo the user's last decisions while their callbacks have not gone out."""
    ids = session.get("last_decisions") or []
    if not isinstance(ids, list) or not ids:
        abort(400, gettext("Nothing to undo."))
    undone = 0
    with services().sessions() as db:
        for decision_id in ids:
            dec = db.get(Decision, decision_id)
            if dec is None:
                continue
            user = require_site(dec.submission.site_id)
            try:
                decisions.undo_decision(
                    db, dec, user_id=user.id, actor=f"user:{user.id}", now=now()
                )
            except decisions.DecisionError:
                continue
            undone += 1
        db.commit()
    session.pop("last_decisions", None)
    if undone:
        flash(gettext("Undone: %(n)d decision(s).", n=undone))
    else:
        flash(gettext("Too late to undo: the newspaper has been told."), "error")
    return redirect(_back_form()), 303


@bp.route("/items/<submission_id>/notes", methods=["POST"])
@login_required
def add_note(submission_id: str) -> ResponseReturnValue:
    """Add a note for the other moderators."""
    with services().sessions() as db:
        sub, user = _load_item(db, submission_id)
        try:
            store.add_note(db, sub.id, user.id, request.form.get("text", ""), now())
        except store.QueueError as exc:
            abort(400, str(exc))
        db.commit()
    return redirect(url_for("queue.item", submission_id=submission_id) + "#notes"), 303


@bp.route("/items/<submission_id>/release", methods=["POST"])
@login_required
def release(submission_id: str) -> ResponseReturnValue:
    """Give an item back to the queue without deciding it."""
    with services().sessions() as db:
        sub, user = _load_item(db, submission_id)
        store.release(db, sub.id, user.id)
        db.commit()
    return redirect(_back_form()), 303


@bp.route("/bulk", methods=["POST"])
@login_required
def bulk() -> ResponseReturnValue:
    """Decide a selection or a whole filter, after a confirmation that says how many."""
    user = require_user()
    site_id = request.form.get("site", "")
    require_site(site_id)
    decision = _decision_from_form()
    scope = request.form.get("scope", "selection")
    with services().sessions() as db:
        site = db.get(Site, site_id)
        if site is None:
            abort(404)
        if request.form.get("confirm"):
            # Confirmed: act on exactly the items the confirmation listed.
            flt = None
            ids = request.form.getlist("ids")[: store.BULK_LIMIT]
        elif scope == "filter":
            try:
                flt = store.QueueFilter.parse(request.form)
            except store.QueueError as exc:
                abort(400, str(exc))
            if flt.status != SCORED:
                abort(400, gettext("Only open items can be decided."))
            ids = store.matching_ids(db, site_id, flt)
        else:
            flt = None
            ids = [i for i in request.form.getlist("ids") if isinstance(i, str)][: store.BULK_LIMIT]
        subs = (
            db.execute(
                sa.select(Submission).where(
                    Submission.id.in_(ids),
                    Submission.site_id == site_id,
                    Submission.status == SCORED,
                )
            )
            .scalars()
            .all()
        )
        if not subs:
            flash(gettext("No open items to decide."), "error")
            return redirect(_back_form()), 303
        confirmed = bool(request.form.get("confirm"))
        # The reason of a bulk rejection may still be chosen on the confirmation page.
        reason = compose_reason(
            site,
            user.locale,
            request.form.get("template", ""),
            request.form.get("reason", ""),
            decision if confirmed else APPROVED,
        )
        if not confirmed:
            return render_template(
                "confirm.html",
                count=len(subs),
                decision=decision,
                reason=reason,
                form=request.form,
                ids=[s.id for s in subs],
                capped=len(ids) >= store.BULK_LIMIT,
                templates=reason_templates(site, user.locale),
                chosen_template=request.form.get("template", ""),
                bulk_limit=store.BULK_LIMIT,
                back=_back_form(),
            )
        at = now()
        deliveries: list[str] = []
        decided: list[str] = []
        for sub in subs:
            claim = store.current_claim(sub, user.id, at)
            if claim.user_id is not None and not claim.mine:
                continue  # someone else has it open: not ours to decide in bulk
            try:
                decision_id, delivery_id = _decide_one(db, sub, user, decision, reason)
            except decisions.AlreadyDecided:
                continue  # decided by someone else meanwhile
            decided.append(decision_id)
            if delivery_id:
                deliveries.append(delivery_id)
        db.commit()
    for delivery_id in deliveries:
        services().dispatcher.enqueue_delivery(delivery_id, countdown_s=undo_window_s())
    log.info("bulk decided", extra={"site_id": site_id, "count": len(decided)})
    session["last_decisions"] = decided
    flash(gettext("Decided %(n)d item(s).", n=len(decided)), "undo")
    return redirect(_back_form()), 303
