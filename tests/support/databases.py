"""The two databases the storage and API tests run against: SQLite and a real PostgreSQL.

PostgreSQL comes from ``OWL_TEST_POSTGRES_URL`` (``.ci/run`` starts a server and sets it). Each
test gets an empty schema.
"""

from __future__ import annotations

import os

import pytest
from sqlalchemy import create_engine, text

POSTGRES_ENV = "OWL_TEST_POSTGRES_URL"


def postgres_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if url:
        return url
    message = f"{POSTGRES_ENV} is not set: no PostgreSQL server to test against (.ci/run starts one)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


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
