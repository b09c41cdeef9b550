"""The Python functions jsonb's operators and the regexp functions run as, in DuckDB."""

from __future__ import annotations

import gc

import duckdb

from hati.pg import jsonb, regex
from hati.pg.install import register


def test_functions_answer_after_a_collection_and_null_in_a_list() -> None:
    con = duckdb.connect()
    register(con, jsonb)
    register(con, regex)
    gc.collect()  # the registered callables must outlive their registration
    got = con.execute(
        "SELECT hati_jsonb_text('null'), hati_jsonb_text('\"x\"'), "
        "hati_regexp_match('abc', 'z', ''), hati_regexp_match('abc', '(b)(c)', ''), "
        "hati_jsonb_contains('{\"a\": [1, 2]}', '{\"a\": [2]}'), "
        'hati_jsonb_out(\'{"bb": 1, "a": 1.50, "a": 2e2}\')'
    ).fetchall()
    assert got == [([], ["x"], [], [["b", "c"]], True, '{"a": 200, "bb": 1}')]


def test_bytea_input_forms() -> None:
    assert regex.bytea_input("\\x De Ad") == b"\xde\xad"
    assert regex.bytea_input("a\\000b\\\\") == b"a\x00b\\"
    assert regex.encode_escape(b"a\x00\xff\\") == "a\\000\\377\\\\"
