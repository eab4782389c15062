"""Shared fixtures: the same core tests run on SQLite and on the local PostgreSQL.

PostgreSQL (127.0.0.1:5432, user postgres) is required, not optional: a run that cannot
reach it fails rather than silently testing SQLite alone. Each run uses a throwaway
database that is dropped at the end.
"""

from __future__ import annotations

import os
import secrets

import psycopg
import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

from giftcerts import db, migrate

PG_ADMIN_URL = os.environ.get("GIFTCERTS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _pg_url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'core.db'}"
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="session")
def postgres_url():
    name = f"giftcerts_test_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = _pg_url(name)
    migrate.upgrade(url)
    yield url
    db.dispose_all()
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _wipe(url: str) -> None:
    with db.write_session(url) as session:
        for table in reversed(SQLModel.metadata.sorted_tables):
            session.execute(sa.delete(table))


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request):
    """A migrated, empty database; each test runs once per backend."""
    url = request.getfixturevalue(f"{request.param}_url")
    _wipe(url)
    yield url
    _wipe(url)


@pytest.fixture
def sqlite_only_url(sqlite_url):
    _wipe(sqlite_url)
    yield sqlite_url
    _wipe(sqlite_url)
