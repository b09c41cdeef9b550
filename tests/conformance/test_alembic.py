"""A real Alembic migration against hati: the typical operations (create_table,
add_column, drop_column, create_index, create_foreign_key, create_unique_constraint,
alter_column nullable, rename_table), then SQLAlchemy's reflection of the result, on main
and in a branch."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import pytest
import sqlalchemy as sa

alembic = pytest.importorskip("alembic")
from alembic import command  # noqa: E402
from alembic.config import Config  # noqa: E402

pytestmark = pytest.mark.server

ENV = """
from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config
engine = engine_from_config(
    config.get_section(config.config_ini_section), prefix="sqlalchemy.", poolclass=pool.NullPool
)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()
"""

MIGRATION = """
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade():
    op.create_table(
        "author",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(80), nullable=True),
    )
    op.create_table(
        "book",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("title", sa.String(200)),
        sa.Column("author_id", sa.Integer),
        sa.Column("obsolete", sa.Integer),
    )
    op.create_table("scratch", sa.Column("x", sa.Integer))
    op.add_column("book", sa.Column("isbn", sa.String(13)))
    op.drop_column("book", "obsolete")
    op.create_index("ix_book_title", "book", ["title"])
    op.create_unique_constraint("uq_book_isbn", "book", ["isbn"])
    op.create_foreign_key("fk_book_author", "book", "author", ["author_id"], ["id"])
    op.alter_column("author", "name", existing_type=sa.String(80), nullable=False)
    op.rename_table("scratch", "notes")


def downgrade():
    pass
"""


def _migrate(tmp_path: Path, url: str) -> None:
    scripts = tmp_path / "migrations"
    (scripts / "versions").mkdir(parents=True)
    (scripts / "env.py").write_text(ENV)
    (scripts / "script.py.mako").write_text("")
    (scripts / "versions" / "0001_first.py").write_text(MIGRATION)
    cfg = Config()
    cfg.set_main_option("script_location", str(scripts))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(cfg, "head")


def _check(engine: sa.Engine) -> None:
    insp = sa.inspect(engine)
    assert set(insp.get_table_names()) >= {"author", "book", "notes", "alembic_version"}
    assert "scratch" not in insp.get_table_names()
    cols = {c["name"]: c for c in insp.get_columns("book")}
    assert set(cols) == {"id", "title", "author_id", "isbn"}
    assert insp.get_columns("author")[1]["nullable"] is False
    # As on PostgreSQL, the unique constraint's index is listed, marked as its.
    indexes = {i["name"]: i for i in insp.get_indexes("book")}
    assert set(indexes) == {"ix_book_title", "uq_book_isbn"}
    assert indexes["ix_book_title"]["column_names"] == ["title"]
    assert not indexes["ix_book_title"]["unique"]
    assert indexes["uq_book_isbn"].get("duplicates_constraint") == "uq_book_isbn"
    assert [(u["name"], u["column_names"]) for u in insp.get_unique_constraints("book")] == [
        ("uq_book_isbn", ["isbn"])
    ]
    fks = insp.get_foreign_keys("book")
    assert [(f["name"], f["constrained_columns"], f["referred_table"]) for f in fks] == [
        ("fk_book_author", ["author_id"], "author")
    ]
    assert insp.get_pk_constraint("book")["constrained_columns"] == ["id"]
    md = sa.MetaData()
    md.reflect(engine)
    assert {"author", "book", "notes"} <= set(md.tables)
    with engine.begin() as c:
        c.execute(sa.text("INSERT INTO author (id, name) VALUES (1, 'ann')"))
        c.execute(sa.text("INSERT INTO book (id, title, author_id) VALUES (1, 't', 1)"))
        version = c.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    assert version == "0001"
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as c:
        c.execute(sa.text("INSERT INTO book (id, title, author_id) VALUES (2, 't', 99)"))
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as c:
        c.execute(sa.text("INSERT INTO author (id) VALUES (2)"))


def test_alembic_migration_on_main(tmp_path, hati_server) -> None:
    url = f"postgresql+psycopg2://tester@{hati_server.host}:{hati_server.port}/hati"
    _migrate(tmp_path, url)
    engine = sa.create_engine(url)
    try:
        _check(engine)
    finally:
        engine.dispose()


def test_alembic_migration_in_a_branch(tmp_path, hati_server) -> None:
    with closing(hati_server.connect()) as conn:
        conn.cursor().execute("SELECT branch_create('mig')")
    url = (
        f"postgresql+psycopg2://tester@{hati_server.host}:{hati_server.port}/hati"
        "?options=-c%20hatidata_branch%3Dmig"
    )
    _migrate(tmp_path, url)
    engine = sa.create_engine(url)
    try:
        _check(engine)
    finally:
        engine.dispose()
    main = sa.create_engine(
        f"postgresql+psycopg2://tester@{hati_server.host}:{hati_server.port}/hati"
    )
    try:
        assert "book" not in sa.inspect(main).get_table_names()
    finally:
        main.dispose()
