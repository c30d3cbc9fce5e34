"""The migrations build exactly the tables the models describe, on both databases."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from sla_bridge.storage.database import Database
from sla_bridge.storage.schema import Base


def test_the_migrated_schema_is_the_schema_of_the_models(database_url):
    db = Database(database_url)
    try:
        db.upgrade()
        assert db.is_current()
        with db.engine.connect() as connection:
            # types are left out: UtcDateTime is text on SQLite, timestamptz on PostgreSQL
            context = MigrationContext.configure(connection, opts={"compare_type": False})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        db.dispose()
