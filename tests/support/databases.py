"""The two databases the storage and API tests run against: SQLite and a real PostgreSQL.

PostgreSQL comes from ``OWL_TEST_POSTGRES_URL`` (``.ci/run`` starts a server and sets it). Each
test gets an empty schema. Under pytest-xdist each worker has a database of its own, the URL's
with the worker's name appended (``owl_test_gw0``), which ``scripts/test.sh`` creates.
"""

from __future__ import annotations

import os

from sqlalchemy import create_engine, make_url, text

from tests.support.binaries import missing

POSTGRES_ENV = "OWL_TEST_POSTGRES_URL"


def postgres_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if url and worker:
        named = make_url(url)
        return named.set(database=f"{named.database}_{worker}").render_as_string(
            hide_password=False)
    if url:
        return url
    missing(f"{POSTGRES_ENV} is not set: no PostgreSQL server to test against "
            "(scripts/test.sh starts one)")


def reset_postgres(url: str) -> None:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def database_url_for(kind: str, tmp_path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'bridge.db'}"
    url = postgres_url()
    reset_postgres(url)
    return url
