"""The `:name` → `$n` translation the database layer applies once per SQL text."""

from __future__ import annotations

import pytest

from mais_runtime.db import Result, ResultError, compile_sql


def test_names_become_positions_in_order_of_first_use() -> None:
    sql, names = compile_sql("SELECT * FROM t WHERE a = :a AND b = :b OR a2 = :a")
    assert sql == "SELECT * FROM t WHERE a = $1 AND b = $2 OR a2 = $1"
    assert names == ("a", "b")


def test_casts_quoted_text_and_comments_are_left_alone() -> None:
    sql, names = compile_sql(
        "SELECT CAST(:id AS uuid), :d::date, 'at 10:30 :not_a_param', \"odd:col\", to_char(x, 'HH24:MI')"
        " -- :nor_this\n FROM t /* :nor :that */ WHERE $$ :body $$ = :v AND e = 'it''s :x'"
    )
    assert names == ("id", "d", "v")
    assert sql == (
        "SELECT CAST($1 AS uuid), $2::date, 'at 10:30 :not_a_param', \"odd:col\", to_char(x, 'HH24:MI')"
        " -- :nor_this\n FROM t /* :nor :that */ WHERE $$ :body $$ = $3 AND e = 'it''s :x'"
    )


def test_an_escaped_colon_is_a_colon_and_a_statement_without_parameters_is_unchanged() -> None:
    assert compile_sql(r"SELECT 'a' || E'\:' , x\:y") == (r"SELECT 'a' || E'\:' , x:y", ())
    assert compile_sql("SELECT 1") == ("SELECT 1", ())


def test_the_translation_is_cached_per_text() -> None:
    sql = "SELECT :cached_probe"
    assert compile_sql(sql) is compile_sql(sql)


def test_an_empty_result_answers_like_sqlalchemys() -> None:
    result = Result([], b"UPDATE 0")
    assert result.rowcount == 0
    assert result.first() is None and result.scalar() is None and result.one_or_none() is None
    assert result.all() == [] and result.mappings().all() == [] and result.scalars().first() is None
    with pytest.raises(ResultError, match="exactly one row"):
        result.one()
    with pytest.raises(ResultError, match="exactly one row"):
        result.scalar_one()
    assert Result([], "INSERT 0 3").rowcount == 3
    assert Result([], b"BEGIN").rowcount == -1
