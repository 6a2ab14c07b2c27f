"""The queue surface (filled in by its issue)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("queue", __name__)
