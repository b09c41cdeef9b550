"""Table DDL DuckDB lacks, made the way PostgreSQL makes it: SERIAL and identity columns."""

from __future__ import annotations

from pglast import ast
from pglast.enums import AlterTableType, ConstrType, DropBehavior, ObjectType

from hati.errors import FeatureNotSupported
from hati.pg import (
    alter_checks,
    coltypes,
    emulate,
    foreignkeys,
    indexes,
    inherits,
    partitions,
    rebuild,
    sequences,
    storagehints,
    triggerdefs,
)
from hati.pg.translate import Translation, upsert
from hati.pg.translate.schema import const

_SERIAL = {
    "serial": "int4",
    "serial4": "int4",
    "bigserial": "int8",
    "serial8": "int8",
    "smallserial": "int2",
    "serial2": "int2",
}
MAX_IDENTIFIER = 63  # PostgreSQL truncates longer names


def serial_columns(stmt: ast.Node, ctx: Translation) -> ast.Node:
    """``SERIAL`` and ``GENERATED ... AS IDENTITY`` columns, which DuckDB lacks, made as
    PostgreSQL makes them: an integer NOT NULL DEFAULT nextval('<table>_<col>_seq'), the
    sequence created just before the table. The sequence lives in ``main`` (also for a
    table created in a branch: its rows draw from the same sequence, so a merge brings
    no duplicate ids)."""
    if not isinstance(stmt, ast.CreateStmt):
        return stmt
    table = stmt.relation.relname
    for elt in stmt.tableElts or ():
        if not isinstance(elt, ast.ColumnDef) or elt.typeName is None:
            continue
        names = [n.sval for n in elt.typeName.names]
        serial = _SERIAL.get(names[-1]) if len(names) == 1 or names[0] == "pg_catalog" else None
        constraints = list(elt.constraints or ())
        identity = [c for c in constraints if c.contype == ConstrType.CONSTR_IDENTITY]
        if serial is None and not identity:
            continue
        seq = f"{table}_{elt.colname}_seq"[:MAX_IDENTIFIER]
        # the sequence is of the column's type (AS integer for serial), as PostgreSQL's
        number = serial or (names[-1] if names[-1] in sequences.TYPES else "int8")
        ctx.pre.extend(sequences.serial_sql(f'main."{seq.replace(chr(34), chr(34) * 2)}"', number))
        if serial is not None:
            elt.typeName = ast.TypeName(
                names=(ast.String(sval="pg_catalog"), ast.String(sval=serial))
            )
        qualified = 'main."' + seq.replace('"', '""') + '"'
        nextval = ast.FuncCall(funcname=(ast.String(sval="nextval"),), args=(const(qualified),))
        kept = [
            c
            for c in constraints
            if c.contype not in (ConstrType.CONSTR_IDENTITY, ConstrType.CONSTR_DEFAULT)
        ]
        elt.constraints = (
            ast.Constraint(contype=ConstrType.CONSTR_DEFAULT, raw_expr=nextval),
            ast.Constraint(contype=ConstrType.CONSTR_NOTNULL),
            *kept,
        )
    return stmt


# PostgreSQL types DuckDB knows under another name (or not in pg_catalog).


def several_steps(stmt: ast.Node, ctx: Translation) -> ast.Node:
    """Statements DuckDB runs only as several of its own (``emulate.py``): DROP TABLE
    and TRUNCATE of several tables, TRUNCATE ... RESTART IDENTITY, ALTER TABLE with
    several actions or actions DuckDB lacks, ALTER SEQUENCE, RENAME
    CONSTRAINT, constraint names of CREATE TABLE; partial indexes."""
    if isinstance(stmt, ast.DropStmt):
        _drop(stmt, ctx)
    elif isinstance(stmt, ast.TruncateStmt):
        _truncate(stmt, ctx)
    elif isinstance(stmt, ast.AlterTableStmt) and stmt.objtype == ObjectType.OBJECT_TABLE:
        _alter_table(stmt, ctx)
    elif isinstance(stmt, ast.AlterTableStmt) and stmt.objtype == ObjectType.OBJECT_INDEX:
        _alter_index(stmt, ctx)
    elif isinstance(stmt, ast.RenameStmt):
        _rename(stmt, ctx)
    elif isinstance(stmt, ast.AlterSeqStmt | ast.CreateSeqStmt | ast.AlterTableStmt):
        _sequence(stmt, ctx)
    elif isinstance(stmt, ast.CreateStmt):
        _create(stmt, ctx)
    elif isinstance(stmt, ast.IndexStmt):
        _index(stmt)
    if isinstance(stmt, ast.IndexStmt) and stmt.whereClause is not None:
        if stmt.unique:
            raise FeatureNotSupported(
                "partial unique indexes are not supported",
                hint="DuckDB indexes every row: enforce the condition in the application, "
                "or make the index unique over all rows.",
            )
        stmt.whereClause = None  # an index without the predicate answers every query alike
    return stmt


_NATIVE_ALTER = frozenset({AlterTableType.AT_AddColumn, AlterTableType.AT_ColumnDefault})


def _alter_table(stmt: ast.AlterTableStmt, ctx: Translation) -> None:
    for c in stmt.cmds or ():
        if isinstance(c.def_, ast.Constraint | ast.ColumnDef):
            (c.def_,) = _plain_elements((c.def_,))
    cmds = stmt.cmds = tuple(x for c in stmt.cmds or () for x in _column_constraints(c))
    for c in cmds:
        if c.subtype == AlterTableType.AT_AddColumn and isinstance(c.def_, ast.ColumnDef):
            alter_checks.system_name(c.def_.colname)
    typed = tuple(d for c in cmds for d in [_declared(c)] if d is not None)
    if len(cmds) > 1 or typed or any(c.subtype not in _NATIVE_ALTER or _checked(c) for c in cmds):
        ctx.steps = [_alter_step(stmt, c) for c in cmds]
    if typed:
        ctx.steps.append(coltypes.Record(stmt.relation, typed))


def _checked(cmd: ast.AlterTableCmd) -> bool:
    """ADD COLUMN (the table's children get it too) and SET DEFAULT 'constant' (read as
    the column's type): checked when they run (alter_checks.py)."""
    if cmd.subtype == AlterTableType.AT_AddColumn:
        return True
    return cmd.subtype == AlterTableType.AT_ColumnDefault and isinstance(cmd.def_, ast.A_Const)


def _rename(stmt: ast.RenameStmt, ctx: Translation) -> None:
    """ALTER INDEX / TABLE ... RENAME TO (indexes.py), RENAME CONSTRAINT."""
    if stmt.renameType == ObjectType.OBJECT_INDEX:
        ctx.steps = [indexes.RenameIndex(stmt)]
    elif stmt.renameType == ObjectType.OBJECT_TABLE:  # ALTER TABLE may rename a sequence
        ctx.steps = [sequences.RenameSequence(stmt, otherwise=indexes.RenameTable(stmt))]
    elif stmt.renameType == ObjectType.OBJECT_SEQUENCE:
        ctx.steps = [sequences.RenameSequence(stmt)]
    elif (
        stmt.renameType == ObjectType.OBJECT_COLUMN and stmt.relationType == ObjectType.OBJECT_TABLE
    ):
        ctx.steps = [alter_checks.RenameColumn(stmt, not stmt.relation.inh)]
    elif stmt.renameType == ObjectType.OBJECT_TABCONSTRAINT:
        ctx.steps = [emulate.RenameConstraint(stmt.relation, stmt.subname, stmt.newname)]


def _index(stmt: ast.IndexStmt) -> None:
    """What PostgreSQL's btree knows and DuckDB's index need not: storage hints
    (``WITH (fillfactor=...)``), operator classes (``int4_ops``, ``text_pattern_ops``:
    DuckDB compares a type's values one way), CONCURRENTLY (nothing else writes while
    DuckDB builds it), INCLUDE columns (which no lookup needs); and an index without a
    name gets the one PostgreSQL chooses (``<table>_<columns>_idx``)."""
    stmt.options = None
    stmt.concurrent = False
    stmt.indexIncludingParams = None
    parts = []
    for e in stmt.indexParams or ():
        e.opclass = None
        e.opclassopts = None
        if upsert.bytewise(e.collation):
            e.collation = None  # DuckDB's keys compare byte-wise, as COLLATE "C" does
        parts.append(e.name or "expr")
    if stmt.idxname is None and stmt.relation is not None:
        stmt.idxname = "_".join([str(stmt.relation.relname), *parts, "idx"])[:MAX_IDENTIFIER]


def _alter_index(stmt: ast.AlterTableStmt, ctx: Translation) -> None:
    """ALTER INDEX ... ALTER COLUMN n SET STATISTICS (indexes.py); the rest of ALTER
    INDEX tunes PostgreSQL's storage (``SET (fillfactor = ...)``) or is refused."""
    steps: list[object] = []
    for cmd in stmt.cmds or ():
        if cmd.subtype == AlterTableType.AT_SetStatistics:
            steps.append(indexes.IndexStatistics(stmt.relation, cmd))
        else:
            raise FeatureNotSupported(
                f"ALTER INDEX {cmd.subtype.name[3:]} is not supported",
                hint="Drop the index and create it again as you want it.",
            )
    ctx.steps = steps


def _drop(stmt: ast.DropStmt, ctx: Translation) -> None:
    stmt.concurrent = False  # DROP INDEX CONCURRENTLY: nothing waits on DuckDB's index
    objects = stmt.objects or ()
    if len(objects) < 2:
        return
    one = [
        ast.DropStmt(
            objects=(o,),
            removeType=stmt.removeType,
            behavior=stmt.behavior,
            missing_ok=stmt.missing_ok,
            concurrent=stmt.concurrent,
        )
        for o in objects
    ]
    if stmt.removeType == ObjectType.OBJECT_TABLE:
        ctx.steps = [emulate.DropTables(tuple(one))]
    else:
        ctx.steps = list(one)


def _truncate(stmt: ast.TruncateStmt, ctx: Translation) -> None:
    rels = stmt.relations or ()
    if len(rels) < 2 and not stmt.restart_seqs and stmt.behavior != DropBehavior.DROP_CASCADE:
        return
    steps: list[object] = [ast.TruncateStmt(relations=(rv,), restart_seqs=False) for rv in rels]
    if stmt.restart_seqs:
        steps += [emulate.RestartIdentity(rv) for rv in rels]
    ctx.steps = steps


def _sequence(stmt: ast.Node, ctx: Translation) -> None:
    """CREATE SEQUENCE as DuckDB reads it; ALTER SEQUENCE applied when it runs, to the
    sequence as it is then (pg/sequences.py)."""
    if isinstance(stmt, ast.CreateSeqStmt):
        ctx.steps = sequences.create(stmt)
    elif isinstance(stmt, ast.AlterSeqStmt):
        options = tuple(stmt.options or ())
        ctx.steps = [sequences.AlterSequence(stmt.sequence, options, bool(stmt.missing_ok))]
    elif isinstance(stmt, ast.AlterTableStmt) and stmt.objtype == ObjectType.OBJECT_SEQUENCE:
        logged = (AlterTableType.AT_SetLogged, AlterTableType.AT_SetUnLogged)
        if all(c.subtype in logged for c in stmt.cmds or ()):
            ctx.steps = [sequences.Unchanged(stmt.relation, bool(stmt.missing_ok))]


_TIMING = (
    ConstrType.CONSTR_ATTR_DEFERRABLE,
    ConstrType.CONSTR_ATTR_NOT_DEFERRABLE,
    ConstrType.CONSTR_ATTR_DEFERRED,
    ConstrType.CONSTR_ATTR_IMMEDIATE,
)


def _deferred() -> FeatureNotSupported:
    return FeatureNotSupported(
        "INITIALLY DEFERRED constraints are not supported",
        detail="hati checks every constraint when a row is written.",
        hint="Declare the constraint NOT DEFERRABLE (the default), or order the writes so "
        "that each one leaves the data valid.",
    )


def plain_constraints(constraints: tuple[ast.Node, ...]) -> tuple[ast.Node, ...]:
    """Constraints as DuckDB writes them, meaning what PostgreSQL's mean: NO INHERIT
    dropped (hati's children inherit no CHECK), DEFERRABLE [INITIALLY IMMEDIATE] checked
    as written (nothing defers it), MATCH FULL of a one-column foreign key the same as
    MATCH SIMPLE. What would mean something else is refused (0A000)."""
    out = []
    for c in constraints:
        if not isinstance(c, ast.Constraint):
            out.append(c)
            continue
        if c.contype == ConstrType.CONSTR_ATTR_DEFERRED or c.initdeferred:
            raise _deferred()
        if c.contype in _TIMING:
            continue
        c.is_no_inherit = False
        c.deferrable = False
        if c.nulls_not_distinct:
            raise FeatureNotSupported(
                "UNIQUE NULLS NOT DISTINCT is not supported",
                detail="DuckDB's unique constraints let any number of rows hold NULL.",
                hint="Make the column NOT NULL, or use a sentinel value instead of NULL.",
            )
        if c.contype == ConstrType.CONSTR_FOREIGN and c.fk_matchtype == "f":
            if len(c.fk_attrs or ()) > 1:
                raise FeatureNotSupported(
                    "MATCH FULL foreign keys of several columns are not supported",
                    hint="Add a CHECK that the columns are all NULL or none is, and use "
                    "MATCH SIMPLE.",
                )
            c.fk_matchtype = "s"
        out.append(c)
    return tuple(out)


_TABLE_LEVEL = (
    ConstrType.CONSTR_CHECK,
    ConstrType.CONSTR_PRIMARY,
    ConstrType.CONSTR_UNIQUE,
    ConstrType.CONSTR_FOREIGN,
)


def _column_constraints(cmd: ast.AlterTableCmd) -> tuple[ast.AlterTableCmd, ...]:
    """ADD COLUMN c ... CHECK / PRIMARY KEY / UNIQUE / REFERENCES, which DuckDB refuses:
    the column, then each of those constraints added on it."""
    col = cmd.def_
    if cmd.subtype != AlterTableType.AT_AddColumn or not isinstance(col, ast.ColumnDef):
        return (cmd,)
    moved = [c for c in col.constraints or () if c.contype in _TABLE_LEVEL]
    if not moved:
        return (cmd,)
    col.constraints = tuple(c for c in col.constraints if c not in moved) or None
    name = (ast.String(sval=col.colname),)
    out = [cmd]
    for c in moved:
        if c.contype == ConstrType.CONSTR_FOREIGN:
            c.fk_attrs = name
        elif c.contype != ConstrType.CONSTR_CHECK:
            c.keys = name
        out.append(ast.AlterTableCmd(subtype=AlterTableType.AT_AddConstraint, def_=c))
    return tuple(out)


def _plain_elements(elts: tuple[ast.Node, ...]) -> tuple[ast.Node, ...]:
    for e in elts:
        if isinstance(e, ast.ColumnDef) and e.constraints:
            e.constraints = plain_constraints(e.constraints) or None
    return plain_constraints(elts)


def _create(stmt: ast.CreateStmt, ctx: Translation) -> None:
    alter_checks.created(stmt)
    stmt.tableElts = _plain_elements(stmt.tableElts or ()) or stmt.tableElts
    stmt.options = None  # WITH (fillfactor=...): storage hints of PostgreSQL's heap
    if stmt.relation.relpersistence == "u":
        stmt.relation.relpersistence = "p"  # UNLOGGED: DuckDB's WAL is the file's own
    if stmt.partbound is not None:  # PARTITION OF: a name hati keeps (partitions.py)
        parent = (stmt.inhRelations or (None,))[0]
        ctx.steps = [
            partitions.DefinePartition(
                stmt.relation, parent, stmt.partbound, stmt.partspec, stmt.if_not_exists
            )
        ]
        return
    spec, stmt.partspec = stmt.partspec, None
    parents, stmt.inhRelations = stmt.inhRelations, None  # INHERITS (inherits.py)
    kept_by_hati = foreignkeys.strip(stmt)  # foreign keys with actions (foreignkeys.py)
    named: list[tuple[str, str]] = []
    for default, c, col in rebuild.constraints(stmt):
        del default
        if c.conname:
            named.append((rebuild.duck_name(stmt, c, col.colname if col else None), c.conname))
    steps: list[object] = [emulate.RecordNames(stmt.relation, tuple(named))] if named else []
    steps += kept_by_hati
    types = coltypes.of_create(stmt)
    if types is not None:
        steps.append(types)
    if spec is not None:
        steps.append(partitions.DefineRoot(stmt.relation, spec))
    like = any(isinstance(e, ast.TableLikeClause) for e in stmt.tableElts or ())
    if parents or like:  # INHERITS, LIKE: columns read when the table is made
        if types is not None:
            types.replace_all = False  # the step records the columns it took first
        ctx.steps = [inherits.DefineChild(stmt, tuple(parents or ())), *steps]
    elif steps:
        ctx.steps = [stmt, *steps]


def _declared(cmd: ast.AlterTableCmd) -> tuple[str, str, str, int | None] | None:
    """The character type an ADD COLUMN / ALTER COLUMN ... TYPE declares."""
    c = cmd.def_
    if cmd.subtype == AlterTableType.AT_AddColumn and isinstance(c, ast.ColumnDef):
        return coltypes.declared(c)
    if cmd.subtype == AlterTableType.AT_AlterColumnType and isinstance(c, ast.ColumnDef):
        return coltypes.declared(ast.ColumnDef(colname=cmd.name, typeName=c.typeName))
    return None


def _alter_step(stmt: ast.AlterTableStmt, cmd: ast.AlterTableCmd) -> object:
    """One action of an ALTER TABLE as a step of its own."""
    c = cmd.def_
    if cmd.subtype in storagehints.ACTIONS:
        return storagehints.StorageHint(stmt.relation, cmd)
    if cmd.subtype in triggerdefs.ENABLING:
        return triggerdefs.enable(stmt, cmd)
    if cmd.subtype == AlterTableType.AT_AddConstraint and isinstance(c, ast.Constraint):
        c.skip_validation, c.initially_valid = False, True  # NOT VALID: checked all the same
    if cmd.subtype == AlterTableType.AT_AddConstraint and foreignkeys.has_actions(c):
        return foreignkeys.Define(stmt.relation, c)
    action = alter_checks.CheckedAction(
        ast.AlterTableStmt(
            relation=stmt.relation, cmds=(cmd,), objtype=stmt.objtype, missing_ok=stmt.missing_ok
        ),
        only=not stmt.relation.inh,
    )
    if cmd.subtype == AlterTableType.AT_DropConstraint:
        return foreignkeys.DropConstraint(action)
    if cmd.subtype in (AlterTableType.AT_AddInherit, AlterTableType.AT_DropInherit):
        add = cmd.subtype == AlterTableType.AT_AddInherit
        return inherits.AlterInherit(stmt.relation, c, add)
    if cmd.subtype == AlterTableType.AT_ValidateConstraint:
        return emulate.ValidateConstraint(stmt.relation, cmd.name)
    return action


SETUP_SQL = (
    emulate.NAMES_SQL
    + foreignkeys.SETUP_SQL
    + partitions.SETUP_SQL
    + inherits.SETUP_SQL
    + triggerdefs.SETUP_SQL
)
