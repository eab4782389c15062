"""Alembic environment: the URL comes from giftcerts' config (REFLEX_DB_URL) unless the
caller passed a connection (tests and `giftcerts migrate` do)."""

from contextlib import contextmanager

from alembic import context
from sqlmodel import SQLModel

import giftcerts.models  # noqa: F401  (registers the tables)
from giftcerts import config as gc_config
from giftcerts import db

target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url") or gc_config.db_url()
    engine = db.engine(url)
    with engine.connect() as conn, _sqlite_foreign_keys_off(conn):
        _run(conn)
        conn.commit()


@contextmanager
def _sqlite_foreign_keys_off(conn):
    """SQLite alters a table by copying it (batch mode): with foreign keys enforced, dropping the
    old copy of a table that others reference (certificates) fails once it has rows. SQLite's
    own procedure for such changes: enforcement off (it can only be switched outside a
    transaction), the references checked before the commit (`_run`), and on again after."""
    if conn.dialect.name != "sqlite":
        yield
        return
    raw = conn.connection.driver_connection  # no transaction is open yet (autocommit driver)
    raw.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        raw.execute("PRAGMA foreign_keys=ON")


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        # SQLite's DDL is transactional too: one transaction for the whole run, so that a
        # migration refusing (a downgrade that would lose data) leaves the database where it
        # was rather than at whichever revision the ones before it reached.
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()
        if connection.dialect.name == "sqlite":
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"the migration would leave rows referencing missing ones: {broken[:5]}")


if context.is_offline_mode():
    raise SystemExit("Offline migrations are not supported; run `giftcerts migrate`.")
run_migrations_online()
