"""XLSX writers never produce a workbook openpyxl cannot open, whatever characters older data holds."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from loaders.writers import write_target_table, write_xlsx

HOSTILE = ["坏字符\uffff尾", "坏\ufffe字", "孤\ud800代理", "控\x00制\x1b符"]


@pytest.mark.parametrize("text", HOSTILE)
def test_write_xlsx_opens_with_xml_illegal_text(text: str) -> None:
    for profile in ("canonical", "platform"):
        data = write_xlsx([{"code": "X-1", "name": text}], profile=profile, sheet_title=text)
        sheet = load_workbook(io.BytesIO(data)).active
        names = [c.value for row in sheet.iter_rows(min_row=2) for c in row if isinstance(c.value, str)]
        assert any(n.startswith(text[0]) for n in names), names


@pytest.mark.parametrize("text", HOSTILE)
def test_target_table_opens_with_xml_illegal_text(text: str) -> None:
    data = write_target_table([["产出指标", "数量指标", text, "≥95", "%", "X-1"]], goal=text)
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet["C4"].value.startswith(text[0])
