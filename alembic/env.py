"""Alembic environment: the URL comes from giftcerts' config (REFLEX_DB_URL) unless the
caller passed a connection (tests and `giftcerts migrate` do)."""

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
    with engine.connect() as conn:
        _run(conn)
        conn.commit()


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("Offline migrations are not supported; run `giftcerts migrate`.")
run_migrations_online()
