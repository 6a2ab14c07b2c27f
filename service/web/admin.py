"""The admins' pages: site settings with a threshold simulator, word lists, audit log.

Only admins of a site reach its pages (anyone else gets a 404, as for another paper's
item). Every change goes through a repository that validates it and writes an audit
event with the state before and after; thin views parse the form, call the store, render.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext, lazy_gettext
from sqlalchemy.orm import Session

from service.scoring import artifacts
from service.scoring import lexicon as lexicon_core
from service.scoring.types import DEFAULT_THRESHOLD, SIGNALS, LexiconEntry, PolicyLimits
from service.storage import audit, simulator, site_models, sites
from service.storage.decisions import OPEN_STATUSES
from service.storage.models import (
    DEAD,
    SCORED,
    AuditEvent,
    CallbackAttempt,
    CallbackDelivery,
    Result,
    Site,
    Submission,
    User,
)
from service.storage.rescoring import requeue_open
from service.storage.site_config import SiteConfigError, parse_site_config
from service.storage.site_rules import ACTIONS, RuleError, parse_rules
from service.web import charts
from service.web.auth import ADMIN, CurrentUser, login_required, now, require_site, require_user
from service.web.context import services

log = logging.getLogger(__name__)

bp = Blueprint("admin", __name__, url_prefix="/admin")

#: Signals an admin can set a threshold for (the contract's, plus the learned one).
THRESHOLD_SIGNALS: tuple[str, ...] = (*SIGNALS, "likely_rejected")
SIGNAL_LABELS = {
    "toxicity": lazy_gettext("toxic"),
    "inflammatory": lazy_gettext("inflammatory"),
    "factual_claims": lazy_gettext("factual claim"),
    "unsourced_claims": lazy_gettext("unsourced claim"),
    "personal_attack": lazy_gettext("personal attack"),
    "copied_text": lazy_gettext("copied"),
    "policy": lazy_gettext("policy"),
    "likely_rejected": lazy_gettext("likely rejected"),
}
ACTION_LABELS = {
    "hold": lazy_gettext("hold for review"),
    "low_priority": lazy_gettext("low priority"),
    "auto_approve": lazy_gettext("approve automatically"),
    "auto_reject": lazy_gettext("reject automatically"),
}
POLICY_LABELS = {
    "max_chars_letter": lazy_gettext("Longest letter (characters)"),
    "max_chars_comment": lazy_gettext("Longest comment (characters)"),
    "max_links": lazy_gettext("Most links"),
    "max_caps_share": lazy_gettext("Largest share of capital letters (0–1)"),
    "require_name_for_letters": lazy_gettext("Letters need a name"),
    "require_place_for_letters": lazy_gettext("Letters need a place"),
}
#: Key rotation: how long the old key may stay valid at most.
MAX_KEY_OVERLAP = timedelta(days=30)
AUDIT_PAGE_SIZE = 50
AUDIT_CSV_MAX_ROWS = 50_000
LEXICON_CSV_FIELDS = (
    "term",
    "category",
    "weight",
    "explanation",
    "signal",
    "whole_word",
    "compound_part",
    "obfuscation_tolerant",
)
LEXICON_MAX_ENTRIES = 5_000
EXAMPLE_EXCERPT_CHARS = 160
#: Most rows of a rules or reason-template form.
MAX_ROWS = 100
GENERAL_MODEL = "likely_rejected_de"


def _count(raw: str | None, most: int) -> int:
    """Return a row count from a form (0 when missing or not a number, at most `most`)."""
    try:
        return max(0, min(int(raw or "0"), most))
    except ValueError:
        return 0


def _actor(user: CurrentUser) -> str:
    return f"user:{user.id}"


def _admin_site(db: Session, site_id: str) -> tuple[Site, CurrentUser]:
    user = require_site(site_id, (ADMIN,))
    site = db.get(Site, site_id)
    if site is None:
        abort(404)
    return site, user


# --- index -------------------------------------------------------------------------------


@bp.route("/")
@login_required
def index() -> ResponseReturnValue:
    """Go to the settings of the site the admin runs (or list them when there are several)."""
    user = require_user()
    admin_of = [sid for sid, role in user.roles.items() if role == ADMIN]
    if not admin_of:
        abort(404)
    if len(admin_of) == 1:
        return redirect(url_for("admin.settings", site_id=admin_of[0]))
    with services().sessions() as db:
        rows = db.execute(
            sa.select(Site.id, Site.name).where(Site.id.in_(admin_of)).order_by(Site.name)
        ).all()
    return render_template("admin/index.html", sites=rows)


# --- settings ----------------------------------------------------------------------------


def current_thresholds(db: Session, site: Site) -> dict[str, float]:
    """Return the threshold each signal has now: the site's, else the model's latest."""
    latest = db.scalar(
        sa.select(Result.data)
        .join(Submission, Submission.id == Result.submission_id)
        .where(Submission.site_id == site.id)
        .order_by(Result.created_at.desc())
        .limit(1)
    )
    out = dict.fromkeys(THRESHOLD_SIGNALS, DEFAULT_THRESHOLD)
    for name, sig in ((latest or {}).get("signals") or {}).items():
        if name in out and isinstance(sig, dict) and isinstance(sig.get("threshold"), float):
            out[name] = float(sig["threshold"])
    for name, value in ((site.settings or {}).get("thresholds") or {}).items():
        if name in out:
            out[name] = float(value)
    return out


def _settings_page(
    db: Session,
    site: Site,
    *,
    candidates: dict[str, float] | None = None,
    previews: list[dict[str, Any]] | None = None,
    new_key: tuple[str, str] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    settings = site.settings or {}
    thresholds = current_thresholds(db, site)
    config = parse_site_config(settings)
    group_sites: list[str] = []
    if site.corpus_group:
        group_sites = list(
            db.scalars(
                sa.select(Site.name)
                .where(Site.corpus_group == site.corpus_group, Site.id != site.id)
                .order_by(Site.name)
            )
        )
    templates = settings.get("reason_templates")
    try:
        general_card = artifacts.read_card(
            artifacts.artifacts_dir(services().settings.models_dir), GENERAL_MODEL
        )
    except artifacts.ArtifactError:
        general_card = None
    page = render_template(
        "admin/settings.html",
        site=site,
        signals=THRESHOLD_SIGNALS,
        signal_labels=SIGNAL_LABELS,
        thresholds=thresholds,
        site_thresholds=settings.get("thresholds") or {},
        candidates=candidates or thresholds,
        previews=previews or [],
        rules=settings.get("rules") or [],
        allow_auto_reject=settings.get("allow_auto_reject") is True,
        actions=ACTIONS,
        action_labels=ACTION_LABELS,
        policy=config.policy,
        policy_labels=POLICY_LABELS,
        reason_templates=templates if isinstance(templates, list) else [],
        group_sites=group_sites,
        new_key=new_key,
        models=site_models.versions(db, site.id),
        general_card=general_card,
    )
    return page, status


@bp.route("/<site_id>/")
@login_required
def settings(site_id: str) -> ResponseReturnValue:
    """Show the site's settings."""
    with services().sessions() as db:
        site, _user = _admin_site(db, site_id)
        return _settings_page(db, site)


def _save_settings(db: Session, site: Site, user: CurrentUser, data: dict[str, Any]) -> bool:
    try:
        sites.update_settings(db, site, data, actor=_actor(user))
    except SiteConfigError as exc:
        db.rollback()
        flash(gettext("Not saved: %(error)s", error=str(exc)), "error")
        return False
    db.commit()
    flash(gettext("Saved."))
    return True


def _parse_threshold(raw: str) -> float | None:
    raw = raw.strip().replace(",", ".")
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        abort(400, gettext("A threshold must be a number between 0 and 1."))
    if not 0.0 <= value <= 1.0:
        abort(400, gettext("A threshold must be a number between 0 and 1."))
    return value


def _preview(
    db: Session, site: Site, signal: str, current: float, candidate: float
) -> dict[str, Any]:
    items = simulator.history(db, site.id, signal)
    points = simulator.curve(items)
    now_sim, new_sim = simulator.simulate(items, current), simulator.simulate(items, candidate)
    gained, lost = simulator.side_changes(items, current, candidate)
    ids = [c.submission_id for c in gained + lost]
    excerpts = {}
    if ids:
        for sid, text in db.execute(
            sa.select(Submission.id, Submission.text).where(Submission.id.in_(ids))
        ):
            excerpts[sid] = text[:EXAMPLE_EXCERPT_CHARS]
    label = str(SIGNAL_LABELS.get(signal, signal))
    chart = charts.line_chart(
        gettext("%(signal)s: share flagged, precision and recall by threshold", signal=label),
        [
            charts.Series(gettext("flagged"), [(p.threshold, p.share_flagged) for p in points]),
            charts.Series(gettext("precision"), [(p.threshold, p.precision) for p in points]),
            charts.Series(gettext("recall"), [(p.threshold, p.recall) for p in points]),
        ],
        x_label=gettext("threshold"),
        markers=[(current, gettext("now")), (candidate, gettext("new"))],
    )
    return {
        "signal": signal,
        "label": label,
        "current": now_sim,
        "candidate": new_sim,
        "chart": chart,
        "gained": gained,
        "lost": lost,
        "excerpts": excerpts,
    }


@bp.route("/<site_id>/thresholds", methods=["POST"])
@login_required
def thresholds(site_id: str) -> ResponseReturnValue:
    """Preview the effect of new thresholds on the site's decided items, or save them."""
    with services().sessions() as db:
        site, user = _admin_site(db, site_id)
        current = current_thresholds(db, site)
        chosen: dict[str, float] = {}
        for name in THRESHOLD_SIGNALS:
            value = _parse_threshold(request.form.get(f"t_{name}", ""))
            if value is not None:
                chosen[name] = value
        if request.form.get("action") == "save":
            data = copy.deepcopy(site.settings or {})
            data["thresholds"] = chosen
            if _save_settings(db, site, user, data):
                return redirect(url_for("admin.settings", site_id=site_id))
            return _settings_page(db, site, candidates={**current, **chosen}, status=422)
        candidates = {**current, **chosen}
        changed = [n for n in THRESHOLD_SIGNALS if abs(candidates[n] - current[n]) > 1e-9]
        focus = request.form.get("signal")
        if not changed and focus in THRESHOLD_SIGNALS:
            changed = [str(focus)]
        if not changed:
            changed = ["toxicity"]
        previews = [_preview(db, site, n, current[n], candidates[n]) for n in changed]
        return _settings_page(db, site, candidates=candidates, previews=previews)


@bp.route("/<site_id>/rules", methods=["POST"])
@login_required
def rules(site_id: str) -> ResponseReturnValue:
    """Save the rules per signal range and the auto-reject switch."""
    form = request.form
    rows = []
    for index in range(_count(form.get("rule_count"), MAX_ROWS) + 1):
        name = form.get(f"r{index}_name", "").strip()
        if not name or form.get(f"r{index}_remove"):
            continue
        row: dict[str, Any] = {
            "name": name,
            "signal": form.get(f"r{index}_signal", ""),
            "action": form.get(f"r{index}_action", ""),
        }
        for bound in ("below", "at_least"):
            value = _parse_threshold(form.get(f"r{index}_{bound}", ""))
            if value is not None:
                row[bound] = value
        rows.append(row)
    with services().sessions() as db:
        site, user = _admin_site(db, site_id)
        try:
            parse_rules(rows)
        except RuleError as exc:
            flash(gettext("Not saved: %(error)s", error=str(exc)), "error")
            return _settings_page(db, site, status=422)
        data = copy.deepcopy(site.settings or {})
        data["rules"] = rows
        data["allow_auto_reject"] = form.get("allow_auto_reject") == "on"
        _save_settings(db, site, user, data)
    return redirect(url_for("admin.settings", site_id=site_id) + "#rules")


@bp.route("/<site_id>/policy", methods=["POST"])
@login_required
def policy(site_id: str) -> ResponseReturnValue:
    """Save the form rules (length limits, links, capitals, name and place)."""
    defaults = PolicyLimits()
    values: dict[str, Any] = {}
    for name in POLICY_LABELS:
        default = getattr(defaults, name)
        raw = request.form.get(name, "").strip().replace(",", ".")
        try:
            if isinstance(default, bool):
                values[name] = request.form.get(name) == "on"
            elif isinstance(default, int):
                values[name] = int(raw) if raw else default
            else:
                values[name] = float(raw) if raw else default
        except ValueError:
            abort(400, gettext("Please enter numbers."))
    with services().sessions() as db:
        site, user = _admin_site(db, site_id)
        data = copy.deepcopy(site.settings or {})
        data["policy"] = values
        _save_settings(db, site, user, data)
    return redirect(url_for("admin.settings", site_id=site_id) + "#policy")


@bp.route("/<site_id>/reasons", methods=["POST"])
@login_required
def reasons(site_id: str) -> ResponseReturnValue:
    """Save the reason templates moderators choose from when they reject (German, English)."""
    form = request.form
    templates = []
    seen = set()
    for index in range(_count(form.get("reason_count"), MAX_ROWS) + 1):
        tid = form.get(f"rt{index}_id", "").strip()[:64]
        de, en = form.get(f"rt{index}_de", "").strip(), form.get(f"rt{index}_en", "").strip()
        if not tid or form.get(f"rt{index}_remove") or not (de or en) or tid in seen:
            continue
        seen.add(tid)
        templates.append({"id": tid, "de": de[:500], "en": en[:500]})
    with services().sessions() as db:
        site, user = _admin_site(db, site_id)
        data = copy.deepcopy(site.settings or {})
        data["reason_templates"] = templates
        _save_settings(db, site, user, data)
    return redirect(url_for("admin.settings", site_id=site_id) + "#reasons")


@bp.route("/<site_id>/callback", methods=["POST"])
@login_required
def callback(site_id: str) -> ResponseReturnValue:
    """Change the URL that decisions are sent to."""
    with services().sessions() as db:
        site, user = _admin_site(db, site_id)
        try:
            sites.set_callback_url(
                db, site, request.form.get("callback_url", "").strip(), actor=_actor(user)
            )
        except sites.SiteError as exc:
            db.rollback()
            flash(gettext("Not saved: %(error)s", error=str(exc)), "error")
            return _settings_page(db, site, status=422)
        db.commit()
        flash(gettext("Saved."))
    return redirect(url_for("admin.settings", site_id=site_id) + "#callback")


@bp.route("/<site_id>/rotate-key", methods=["POST"])
@login_required
def rotate_key(site_id: str) -> ResponseReturnValue:
    """Issue a new key; the old one stays valid for the chosen overlap. The secret shows once."""
    try:
        hours = float(request.form.get("overlap_hours", "24"))
    except ValueError:
        abort(400)
    if not 0.0 <= hours <= MAX_KEY_OVERLAP.total_seconds() / 3600:  # also refuses nan
        abort(400)
    overlap = timedelta(hours=hours)
    with services().sessions() as db:
        site, user = _admin_site(db, site_id)
        key_id, secret = sites.rotate_key(
            db, services().settings.secret_key, site, overlap=overlap, actor=_actor(user)
        )
        db.commit()
        response = make_response(_settings_page(db, site, new_key=(key_id, secret)))
    # The secret is on this page once: never cached.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/<site_id>/corpus", methods=["POST"])
@login_required
def corpus(site_id: str) -> ResponseReturnValue:
    """Choose the copy-detection corpus group (sites with the same group share their corpus)."""
    group = request.form.get("corpus_group", "").strip()[:200] or None
    with services().sessions() as db:
        site, user = _admin_site(db, site_id)
        if group is not None and group != site.corpus_group:
            members = db.scalars(
                sa.select(Site.id).where(Site.corpus_group == group, Site.id != site.id)
            ).all()
            # Sharing a corpus shows one paper's texts to another's copy detection: a site
            # joins a group only when the admin also runs every paper already in it.
            if any(user.roles.get(member) != ADMIN for member in members):
                flash(
                    gettext(
                        "This group holds papers you do not administer: only an admin "
                        "of every paper in the group can add this site."
                    )
                )
                return redirect(url_for("admin.settings", site_id=site_id) + "#corpus")
        before = {"corpus_group": site.corpus_group}
        site.corpus_group = group
        audit.record(
            db,
            _actor(user),
            "site.corpus_group_changed",
            site_id=site.id,
            target_type="site",
            target_id=site.id,
            before=before,
            after={"corpus_group": group},
        )
        db.commit()
        flash(gettext("Saved."))
    return redirect(url_for("admin.settings", site_id=site_id) + "#corpus")


@bp.route("/<site_id>/model", methods=["POST"])
@login_required
def model(site_id: str) -> ResponseReturnValue:
    """Put a kept version of the site's likely_rejected model in use (or the general model)."""
    raw = request.form.get("version", "")
    version = None if raw == "general" else _int_or_400(raw)
    with services().sessions() as db:
        _site, user = _admin_site(db, site_id)
        try:
            site_models.activate(db, site_id, version, actor=_actor(user))
        except ValueError:
            abort(400)
        db.commit()
        flash(gettext("Saved."))
    return redirect(url_for("admin.settings", site_id=site_id) + "#model")


def _int_or_400(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        abort(400)


# --- word lists --------------------------------------------------------------------------


def _entry_from(values: dict[str, Any]) -> dict[str, Any]:
    """Build a stored word-list entry from form or CSV values (strings); validate it."""
    term = str(values.get("term", "")).strip()
    weight_raw = str(values.get("weight", "") or "1").strip().replace(",", ".")
    try:
        weight = float(weight_raw)
    except ValueError:
        raise lexicon_core.LexiconError(f"weight {weight_raw!r} is not a number") from None

    def flag(name: str, default: bool) -> bool:
        raw = values.get(name)
        if raw is None or raw == "":
            return default
        return str(raw).strip().lower() in ("1", "true", "on", "yes", "ja")

    entry = {
        "term": term,
        "category": str(values.get("category", "") or "site").strip()[:100],
        "weight": weight,
        "explanation": str(values.get("explanation", "")).strip()[:500],
        "signal": str(values.get("signal", "") or "inflammatory").strip(),
        "whole_word": flag("whole_word", False),
        "compound_part": flag("compound_part", True),
        "obfuscation_tolerant": flag("obfuscation_tolerant", True),
    }
    lexicon_core.validate_entry(_as_entry(entry))
    return entry


def _last_values() -> dict[str, str]:
    """Return the form's fields, the last value of each (a checkbox follows its hidden 0)."""
    return {key: request.form.getlist(key)[-1] for key in request.form}


def _as_entry(stored: dict[str, Any]) -> LexiconEntry:
    try:
        config = parse_site_config({"lexicon": [stored]})
    except SiteConfigError as exc:
        raise lexicon_core.LexiconError(str(exc)) from None
    return config.lexicon[0]


def _lexicon_page(
    db: Session, site: Site, *, test: dict[str, Any] | None = None, status: int = 200
) -> ResponseReturnValue:
    entries = (site.settings or {}).get("lexicon") or []
    open_count = db.scalar(
        sa.select(sa.func.count())
        .select_from(Submission)
        .where(Submission.site_id == site.id, Submission.status == SCORED)
    )
    page = render_template(
        "admin/lexicon.html",
        site=site,
        entries=entries,
        signals=("inflammatory", "toxicity"),
        test=test,
        open_count=open_count,
    )
    return page, status


@bp.route("/<site_id>/lexicon")
@login_required
def lexicon(site_id: str) -> ResponseReturnValue:
    """Show the site's word list with forms to add, edit, remove, test, import and export."""
    with services().sessions() as db:
        site, _user = _admin_site(db, site_id)
        return _lexicon_page(db, site)


def _store_lexicon(db: Session, site: Site, user: CurrentUser, entries: list[Any]) -> bool:
    data = copy.deepcopy(site.settings or {})
    data["lexicon"] = entries
    return _save_settings(db, site, user, data)


@bp.route("/<site_id>/lexicon", methods=["POST"])
@login_required
def lexicon_change(site_id: str) -> ResponseReturnValue:
    """Add, edit or remove one entry (action = add | save | remove, index for the latter)."""
    form = request.form
    action = form.get("action", "")
    with services().sessions() as db:
        site, user = _admin_site(db, site_id)
        entries = list((site.settings or {}).get("lexicon") or [])
        index = -1
        if action in ("save", "remove"):
            try:
                index = int(form.get("index", ""))
            except ValueError:
                abort(400)
            if not 0 <= index < len(entries):
                abort(400)
        if action == "remove":
            del entries[index]
        elif action in ("add", "save"):
            try:
                entry = _entry_from(_last_values())
            except lexicon_core.LexiconError as exc:
                flash(gettext("Not saved: %(error)s", error=str(exc)), "error")
                return _lexicon_page(db, site, status=422)
            if action == "add":
                if len(entries) >= LEXICON_MAX_ENTRIES:
                    abort(400)
                entries.append(entry)
            else:
                entries[index] = entry
        else:
            abort(400)
        _store_lexicon(db, site, user, entries)
    return redirect(url_for("admin.lexicon", site_id=site_id))


@bp.route("/<site_id>/lexicon/test", methods=["POST"])
@login_required
def lexicon_test(site_id: str) -> ResponseReturnValue:
    """Show what one entry (new or changed) matches in a sample text, without saving it."""
    sample = request.form.get("sample", "")[:10_000]
    with services().sessions() as db:
        site, _user = _admin_site(db, site_id)
        try:
            entry = _entry_from(_last_values())
            hits = lexicon_core.match(sample, [_as_entry(entry)], builtin=False)
        except lexicon_core.LexiconError as exc:
            return _lexicon_page(
                db, site, test={"error": str(exc), "sample": sample, "entry": None}, status=422
            )
        pieces: list[tuple[str, bool]] = []
        at = 0
        for hit in sorted(hits, key=lambda h: h.start):
            if hit.start < at:
                continue
            pieces.append((sample[at : hit.start], False))
            pieces.append((sample[hit.start : hit.end], True))
            at = hit.end
        pieces.append((sample[at:], False))
        test = {"sample": sample, "entry": entry, "hits": hits, "pieces": pieces, "error": None}
        return _lexicon_page(db, site, test=test)


@bp.route("/<site_id>/lexicon.csv")
@login_required
def lexicon_export(site_id: str) -> ResponseReturnValue:
    """Download the site's word list as CSV."""
    with services().sessions() as db:
        site, _user = _admin_site(db, site_id)
        entries = (site.settings or {}).get("lexicon") or []
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=LEXICON_CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for entry in entries:
        writer.writerow({k: _csv_cell(entry.get(k, "")) for k in LEXICON_CSV_FIELDS})
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=word-list.csv"},
    )


def _csv_cell(value: Any) -> str:
    text = str(value).lower() if isinstance(value, bool) else str(value)
    # No formula injection when the file is opened in a spreadsheet.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


@bp.route("/<site_id>/lexicon/import", methods=["POST"])
@login_required
def lexicon_import(site_id: str) -> ResponseReturnValue:
    """Add the entries of an uploaded CSV (same columns as the export); replace if asked."""
    upload = request.files.get("file")
    if upload is None:
        abort(400)
    try:
        text = upload.read(2_000_000).decode("utf-8-sig")
    except UnicodeDecodeError:
        abort(400, gettext("The file must be UTF-8 CSV."))
    rows = list(csv.DictReader(io.StringIO(text)))
    with services().sessions() as db:
        site, user = _admin_site(db, site_id)
        imported = []
        for number, row in enumerate(rows, start=2):
            try:
                imported.append(_entry_from(row))
            except lexicon_core.LexiconError as exc:
                flash(gettext("Line %(n)d: %(error)s", n=number, error=str(exc)), "error")
                return _lexicon_page(db, site, status=422)
        existing = (
            [] if request.form.get("replace") else list((site.settings or {}).get("lexicon") or [])
        )
        if len(existing) + len(imported) > LEXICON_MAX_ENTRIES:
            abort(400)
        _store_lexicon(db, site, user, existing + imported)
    return redirect(url_for("admin.lexicon", site_id=site_id))


@bp.route("/<site_id>/rescore", methods=["POST"])
@login_required
def rescore(site_id: str) -> ResponseReturnValue:
    """Score the open queue again with the current settings (word list, thresholds)."""
    with services().sessions() as db:
        site, user = _admin_site(db, site_id)
        ids = requeue_open(db, site.id, actor=_actor(user))
        db.commit()
    sent = sum(1 for sid in ids if services().dispatcher.enqueue_score(sid))
    log.info("rescore: site %s, %d items requeued, %d enqueued", site_id, len(ids), sent)
    flash(gettext("%(n)d open items are being scored again.", n=len(ids)))
    return redirect(url_for("admin.lexicon", site_id=site_id))


# --- dashboard ---------------------------------------------------------------------------

DASHBOARD_DAYS = 30
DASHBOARD_MAX_RESULTS = 20_000


def _percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


@bp.route("/<site_id>/dashboard")
@login_required
def dashboard(site_id: str) -> ResponseReturnValue:
    """Volumes per day, share flagged per signal, decision times, callbacks, queue length."""
    at = now()
    since = at - timedelta(days=DASHBOARD_DAYS)
    with services().sessions() as db:
        site, _user = _admin_site(db, site_id)
        received = db.scalars(
            sa.select(Submission.received_at)
            .where(Submission.site_id == site_id, Submission.received_at >= since)
            .limit(DASHBOARD_MAX_RESULTS * 10)
        ).all()
        per_day: dict[str, int] = {}
        for day in range(DASHBOARD_DAYS - 1, -1, -1):
            per_day[(at - timedelta(days=day)).strftime("%m-%d")] = 0
        for when in received:
            key = when.strftime("%m-%d")
            if key in per_day:
                per_day[key] += 1
        results = db.scalars(
            sa.select(Result.data)
            .join(Submission, Submission.id == Result.submission_id)
            .where(Submission.site_id == site_id, Result.created_at >= since)
            .order_by(Result.created_at.desc())
            .limit(DASHBOARD_MAX_RESULTS)
        ).all()
        flagged: dict[str, int] = dict.fromkeys(THRESHOLD_SIGNALS, 0)
        for data in results:
            for name, sig in (data.get("signals") or {}).items():
                if name in flagged and isinstance(sig, dict) and sig.get("flagged"):
                    flagged[name] += 1
        decided = db.execute(
            sa.select(Submission.received_at, Submission.decided_at).where(
                Submission.site_id == site_id,
                Submission.decided_at.is_not(None),
                Submission.decided_at >= since,
            )
        ).all()
        hours = [(d - r).total_seconds() / 3600 for r, d in decided if d is not None]
        deliveries = dict(
            db.execute(
                sa.select(CallbackDelivery.status, sa.func.count())
                .where(CallbackDelivery.site_id == site_id, CallbackDelivery.created_at >= since)
                .group_by(CallbackDelivery.status)
            ).all()
        )
        failed_attempts = db.scalar(
            sa.select(sa.func.count())
            .select_from(CallbackAttempt)
            .join(CallbackDelivery, CallbackDelivery.id == CallbackAttempt.delivery_id)
            .where(
                CallbackDelivery.site_id == site_id,
                CallbackAttempt.attempted_at >= since,
                CallbackAttempt.error.is_not(None),
            )
        )
        open_counts = dict(
            db.execute(
                sa.select(Submission.status, sa.func.count())
                .where(Submission.site_id == site_id, Submission.status.in_(OPEN_STATUSES))
                .group_by(Submission.status)
            ).all()
        )
    total = len(results)
    volume_chart = charts.bar_chart(gettext("Submissions per day"), list(per_day.items()))
    flagged_chart = charts.bar_chart(
        gettext("Share flagged per signal"),
        [
            (str(SIGNAL_LABELS.get(n, n)), round(100 * c / total, 1) if total else 0.0)
            for n, c in flagged.items()
        ],
        unit=" %",
    )
    callback_chart = charts.bar_chart(
        gettext("Callbacks by state"),
        [(str(k), float(v)) for k, v in sorted(deliveries.items())]
        + [(gettext("failed attempts"), float(failed_attempts or 0))],
    )
    return render_template(
        "admin/dashboard.html",
        site=site,
        days=DASHBOARD_DAYS,
        volume_chart=volume_chart,
        flagged_chart=flagged_chart,
        callback_chart=callback_chart,
        scored_total=total,
        decided=len(hours),
        median_hours=_percentile(hours, 0.5),
        p90_hours=_percentile(hours, 0.9),
        open_counts=open_counts,
        dead=deliveries.get(DEAD, 0),
    )


# --- audit log ---------------------------------------------------------------------------


def _audit_query(site_id: str) -> sa.Select[AuditEvent, str]:
    args = request.args
    query = (
        sa.select(AuditEvent, User.email)
        .outerjoin(User, AuditEvent.actor == sa.literal("user:") + User.id)
        .where(AuditEvent.site_id == site_id)
    )
    if args.get("action"):
        query = query.where(AuditEvent.action.startswith(args["action"][:100]))
    if args.get("actor"):
        like = "%" + args["actor"][:200].replace("%", "").replace("_", "") + "%"
        query = query.where(sa.or_(AuditEvent.actor.like(like), User.email.like(like)))
    if args.get("target"):
        query = query.where(AuditEvent.target_id == args["target"][:200])
    for name, op in (("since", ">="), ("until", "<")):
        raw = args.get(name, "")
        if not raw:
            continue
        try:
            day = datetime.strptime(raw[:10], "%Y-%m-%d").replace(tzinfo=UTC)
        except ValueError:
            abort(400)
        if op == ">=":
            query = query.where(AuditEvent.at >= day)
        else:
            query = query.where(AuditEvent.at < day + timedelta(days=1))
    return query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())


@bp.route("/<site_id>/audit")
@login_required
def audit_log(site_id: str) -> ResponseReturnValue:
    """List the site's audit events, newest first, filterable, paginated, as CSV on request."""
    with services().sessions() as db:
        site, _user = _admin_site(db, site_id)
        query = _audit_query(site_id)
        if request.args.get("format") == "csv":
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow(
                ["at", "actor", "who", "action", "target_type", "target_id", "before", "after"]
            )
            for event, email in db.execute(query.limit(AUDIT_CSV_MAX_ROWS)):
                writer.writerow(
                    [
                        event.at.isoformat(),
                        event.actor,
                        email or "",
                        event.action,
                        event.target_type or "",
                        event.target_id or "",
                        _json(event.before),
                        _json(event.after),
                    ]
                )
            return Response(
                out.getvalue(),
                mimetype="text/csv",
                headers={"Content-Disposition": "attachment; filename=audit.csv"},
            )
        try:
            page = max(1, int(request.args.get("page", "1")))
        except ValueError:
            page = 1
        rows = db.execute(
            query.offset((page - 1) * AUDIT_PAGE_SIZE).limit(AUDIT_PAGE_SIZE + 1)
        ).all()
        actions = list(
            db.scalars(
                sa.select(AuditEvent.action)
                .where(AuditEvent.site_id == site_id)
                .distinct()
                .order_by(AuditEvent.action)
            )
        )
        return render_template(
            "admin/audit.html",
            site=site,
            rows=rows[:AUDIT_PAGE_SIZE],
            has_next=len(rows) > AUDIT_PAGE_SIZE,
            page=page,
            actions=actions,
            json=_json,
            filters={
                k: request.args.get(k, "") for k in ("action", "actor", "target", "since", "until")
            },
        )


def _json(value: Any) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)
