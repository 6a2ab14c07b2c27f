"""Durable state: SQLAlchemy 2 models, repositories and Alembic migrations."""
