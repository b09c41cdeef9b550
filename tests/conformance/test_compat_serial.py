"""SERIAL / BIGSERIAL columns as PostgreSQL has them: a sequence-backed integer default."""

from __future__ import annotations

from contextlib import closing

import sqlalchemy as sa


def test_serial_on_main_and_in_a_branch(hati_server) -> None:
    with closing(hati_server.connect()) as conn:
        cur = conn.cursor()
        cur.execute("CREATE TABLE items (id SERIAL PRIMARY KEY, name TEXT NOT NULL)")
        assert cur.statusmessage == "CREATE TABLE"
        cur.execute("INSERT INTO items (name) VALUES ('a'), ('b') RETURNING id")
        assert sorted(cur.fetchall()) == [(1,), (2,)]
        cur.execute("SELECT branch_create('s')")
        cur.execute("SET hatidata_branch = 's'")
        cur.execute("INSERT INTO items (name) VALUES ('in branch') RETURNING id")
        assert cur.fetchall() == [(3,)]
        cur.execute("CREATE TABLE notes (n BIGSERIAL, body TEXT)")
        cur.execute("INSERT INTO notes (body) VALUES ('x'), ('y')")
        cur.execute("SELECT n, body FROM notes ORDER BY n")
        assert cur.fetchall() == [(1, "x"), (2, "y")]
        cur.execute("RESET hatidata_branch")
        cur.execute("INSERT INTO items (name) VALUES ('c') RETURNING id")
        assert cur.fetchall() == [(4,)]  # main and the branch share the sequence
        cur.execute("SELECT * FROM branch_merge('s', 'branch_wins')")
        cur.execute("SELECT id, name FROM items ORDER BY id")
        assert cur.fetchall() == [(1, "a"), (2, "b"), (3, "in branch"), (4, "c")]
        cur.execute("INSERT INTO notes (body) VALUES ('after merge') RETURNING n")
        assert cur.fetchall() == [(3,)]


def test_serial_column_named_like_the_type_and_bad_sql(hati_server) -> None:
    with closing(hati_server.connect()) as conn:
        cur = conn.cursor()
        cur.execute("CREATE TABLE t (serial_no serial, note TEXT DEFAULT 'serial')")
        cur.execute("INSERT INTO t (note) VALUES (DEFAULT) RETURNING serial_no, note")
        assert cur.fetchall() == [(1, "serial")]


def test_sqlalchemy_integer_primary_key(hati_server) -> None:
    """SQLAlchemy's PostgreSQL dialect creates an integer primary key as SERIAL."""
    engine = sa.create_engine(
        f"postgresql+psycopg2://tester@{hati_server.host}:{hati_server.port}/hati"
    )
    md = sa.MetaData()
    users = sa.Table(
        "users",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(40), nullable=False),
    )
    md.create_all(engine)
    with engine.begin() as c:
        r = c.execute(users.insert().values(name="ada"))
        assert r.inserted_primary_key == (1,)
        c.execute(users.insert(), [{"name": "bob"}, {"name": "cy"}])
    with engine.connect() as c:
        assert c.execute(sa.select(users.c.id, users.c.name).order_by(users.c.id)).all() == [
            (1, "ada"),
            (2, "bob"),
            (3, "cy"),
        ]
    engine.dispose()
