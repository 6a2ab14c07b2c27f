"""Insert-if-absent on both backends, so concurrent identical requests never raise."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

# One statement per (dialect, table, unique columns), its values passed as parameters:
# building `.values(**row)` anew on every call cost about a third of the insert's CPU
# (coercing each value, then a fresh cache key), once per accepted submission.
_STATEMENTS: dict[tuple[str, str, tuple[str, ...]], Any] = {}


def insert_if_absent(
    session: Session, table: Table, values: dict[str, Any], unique: Sequence[str]
) -> bool:
    """Insert a row unless one with the same `unique` columns exists; tell whether it did.

    PostgreSQL's ON CONFLICT waits for a concurrent inserter to finish, and SQLite takes
    one writer at a time, so a following SELECT sees the winner's row.
    """
    dialect = session.get_bind().dialect.name
    key = (dialect, table.name, tuple(unique))
    stmt = _STATEMENTS.get(key)
    if stmt is None:
        if dialect == "postgresql":
            stmt = postgresql.insert(table)
        elif dialect == "sqlite":
            stmt = sqlite.insert(table)
        else:  # pragma: no cover - only the two supported backends
            raise RuntimeError(f"unsupported database dialect {dialect!r}")
        # RETURNING rather than rowcount: psycopg reports -1 for ORM-session executions.
        stmt = stmt.on_conflict_do_nothing(index_elements=list(unique)).returning(table.c.id)
        _STATEMENTS[key] = stmt
    return session.execute(stmt, values).first() is not None
