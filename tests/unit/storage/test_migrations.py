from service.settings import Settings
from service.storage import migrate


def test_migrations_match_models(settings: Settings) -> None:
    # Raises when a model changed without a migration (alembic check), on both backends.
    migrate.check(settings)
