"""SQLAlchemy 2 Core and ORM over psycopg2 and psycopg 3: DDL, DML, reflection."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


@pytest.fixture(params=["psycopg2", "psycopg"])
def engine(request, hati_server):
    e = sa.create_engine(
        f"postgresql+{request.param}://u@{hati_server.host}:{hati_server.port}/hati"
    )
    yield e
    e.dispose()


class Base(DeclarativeBase):
    pass


class Agent(Base):
    __tablename__ = "agents"
    # SERIAL is not supported by DuckDB: explicit keys (see report).
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(sa.String(50))
    score: Mapped[float | None]


def test_orm_create_insert_select_update(engine):
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        s.add_all([Agent(id=1, name="a", score=1.5), Agent(id=2, name="b", score=None)])
        s.commit()
    with Session(engine) as s:
        a = s.get(Agent, 1)
        assert (a.name, a.score) == ("a", 1.5)
        a.name = "a2"
        s.commit()
    with Session(engine) as s:
        names = s.scalars(sa.select(Agent.name).order_by(Agent.id)).all()
        assert names == ["a2", "b"]
        s.delete(s.get(Agent, 2))
        s.commit()
        assert s.scalar(sa.select(sa.func.count()).select_from(Agent)) == 1


def test_core_and_reflection(engine):
    md = sa.MetaData()
    t = sa.Table(
        "events",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("ts", sa.DateTime),
        sa.Column("ok", sa.Boolean),
    )
    md.create_all(engine)
    with engine.begin() as c:
        c.execute(
            t.insert(), [{"id": 1, "kind": "x", "ok": True}, {"id": 2, "kind": "y", "ok": None}]
        )
    with engine.connect() as c:
        rows = c.execute(sa.select(t.c.id, t.c.kind).where(t.c.ok.is_(True))).all()
        assert rows == [(1, "x")]
        assert (
            c.execute(sa.text("SELECT count(*) FROM events WHERE kind = :k"), {"k": "y"}).scalar()
            == 1
        )

    insp = sa.inspect(engine)
    assert "events" in insp.get_table_names()
    assert not any(n.startswith("_h") for n in insp.get_table_names())
    cols = {c["name"]: c for c in insp.get_columns("events")}
    assert list(cols) == ["id", "kind", "ts", "ok"]
    assert isinstance(cols["id"]["type"], sa.Integer)
    assert isinstance(cols["kind"]["type"], sa.String)
    assert isinstance(cols["ts"]["type"], sa.DateTime)
    assert isinstance(cols["ok"]["type"], sa.Boolean)
    assert cols["kind"]["nullable"] is False
    assert insp.get_pk_constraint("events")["constrained_columns"] == ["id"]
    reflected = sa.Table("events", sa.MetaData(), autoload_with=engine)
    assert [c.name for c in reflected.primary_key] == ["id"]


def test_error_rolls_back_and_engine_recovers(engine):
    with engine.connect() as c:
        with pytest.raises(sa.exc.ProgrammingError) as exc:
            c.execute(sa.text("SELEC 1"))
        assert (
            exc.value.orig.sqlstate == "42601"
            if hasattr(exc.value.orig, "sqlstate")
            else (exc.value.orig.pgcode == "42601")
        )
        c.rollback()
        assert c.execute(sa.text("SELECT 1")).scalar() == 1


def test_create_all_with_ondelete_cascade(engine):
    """``ondelete="CASCADE"`` / ``"SET NULL"``: create_all works, deleting a parent row
    deletes (or detaches) its children, and a child without parent is refused."""
    md = sa.MetaData()
    owner = sa.Table(
        "owners", md, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False)
    )
    pet = sa.Table(
        "pets",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("owner_id", sa.ForeignKey("owners.id", ondelete="CASCADE"), nullable=False),
    )
    toy = sa.Table(
        "toys",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("pet_id", sa.ForeignKey("pets.id", ondelete="SET NULL")),
    )
    md.drop_all(engine)
    md.create_all(engine)
    with engine.begin() as c:
        c.execute(owner.insert(), [{"id": 1}, {"id": 2}])
        c.execute(pet.insert(), [{"id": 10, "owner_id": 1}, {"id": 11, "owner_id": 2}])
        c.execute(toy.insert(), [{"id": 100, "pet_id": 10}, {"id": 101, "pet_id": 11}])
    with engine.begin() as c:
        c.execute(owner.delete().where(owner.c.id == 1))
    with engine.connect() as c:
        assert c.execute(sa.select(pet.c.id)).scalars().all() == [11]
        assert c.execute(sa.select(toy.c.id, toy.c.pet_id).order_by(toy.c.id)).all() == [
            (100, None),
            (101, 11),
        ]
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as c:
        c.execute(pet.insert(), [{"id": 12, "owner_id": 7}])
    (fk,) = sa.inspect(engine).get_foreign_keys("pets")
    assert (fk["constrained_columns"], fk["referred_table"], fk["referred_columns"]) == (
        ["owner_id"],
        "owners",
        ["id"],
    )
    assert fk["options"] == {"ondelete": "CASCADE"}
    reflected = sa.MetaData()
    reflected.reflect(engine, only=["owners", "pets", "toys"])
    (toy_fk,) = reflected.tables["toys"].foreign_keys
    assert (toy_fk.target_fullname, toy_fk.ondelete) == ("pets.id", "SET NULL")
    md.drop_all(engine)
