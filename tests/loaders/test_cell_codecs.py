"""The CSV/XLSX cell encodings are exact inverses: formula escape, list cells, duty references."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loaders.fields import join_list_cell, measure_ref, parse_measure_ref, split_list_cell
from loaders.readers import Format, read_records, unescape_formula
from loaders.text import normalize_text
from loaders.writers import escape_formula, write_csv, write_xlsx

# Text as the service stores it: normalised (no line breaks, no outer spaces), often hostile.
stored_text = st.text(
    alphabet=st.sampled_from(list("'=+-@、,，;；|【】\\ 甲乙a1\n%")), min_size=1, max_size=12
).map(normalize_text).filter(bool)


@given(stored_text)
def test_unescape_undoes_escape(text: str) -> None:
    assert unescape_formula(escape_formula(text)) == text


@pytest.mark.parametrize(("text", "escaped"), [("'=不是公式", "''=不是公式"), ("'abc", "''abc"), ("a'b", "a'b")])
def test_a_leading_apostrophe_is_escaped_too(text: str, escaped: str) -> None:
    assert escape_formula(text) == escaped
    assert unescape_formula(escaped) == text


def test_a_hand_typed_apostrophe_stays() -> None:
    assert unescape_formula("'abc") == "'abc"


@pytest.mark.parametrize("name", ["keywords", "budget_types", "duties", "strategic_goals"])
@given(items=st.lists(stored_text, max_size=4))
def test_list_cells_read_back_as_written(name: str, items: list[str]) -> None:
    cell = join_list_cell(name, items)
    assert (split_list_cell(name, cell) if cell is not None else []) == items


@pytest.mark.parametrize(
    ("name", "typed", "items"),
    [
        ("keywords", "资助、助学;奖学金|补助", ["资助", "助学", "奖学金", "补助"]),
        ("budget_types", "一般公共预算,政府性基金预算", ["一般公共预算", "政府性基金预算"]),
        ("duties", "负责全省学生资助工作、组织实施国家助学政策", ["负责全省学生资助工作、组织实施国家助学政策"]),
        ("duties", "负责资助、助学\n管理资金", ["负责资助、助学", "管理资金"]),
        ("strategic_goals", "教育强省;人才强省", ["教育强省;人才强省"]),
    ],
)
def test_cells_people_type(name: str, typed: str, items: list[str]) -> None:
    assert split_list_cell(name, typed) == items


@given(department=st.none() | stored_text, name=stored_text)
def test_measure_refs_read_back(department: str | None, name: str) -> None:
    assert parse_measure_ref(measure_ref(department, name)) == (department, name)


def test_measure_ref_forms() -> None:
    assert measure_ref(None, "负责资助") == "负责资助"
    assert measure_ref("财政厅", "管理资金") == "【财政厅】管理资金"
    assert parse_measure_ref("【重点】") == (None, "【重点】")  # nothing after the brackets: a plain name


@pytest.mark.parametrize("fmt", [Format.csv, Format.xlsx])
def test_a_hand_made_sheet_with_typed_keywords(fmt: Format) -> None:
    rows = [{"name": "资助政策知晓率", "keywords": "资助、助学", "duties": "负责资助、助学"}]
    data = write_csv(rows, profile="chinese") if fmt is Format.csv else write_xlsx(rows, profile="chinese")
    [record] = read_records(data, fmt)
    assert record.fields["keywords"] == ["资助", "助学"]
    assert record.fields["duties"] == ["负责资助、助学"]
