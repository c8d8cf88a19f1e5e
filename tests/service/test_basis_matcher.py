"""Free-text legal bases find the edition they mean."""

from __future__ import annotations

from datetime import date

from service.legal_bases.service import BasisMatcher
from service.models import LegalBasis

OLD = LegalBasis(id=1, doc_no="GB 5749-2006", title="生活饮用水卫生标准", kind="standard",
                 status="superseded", effective_on=date(2007, 7, 1))  # fmt: skip
NEW = LegalBasis(id=2, doc_no="GB 5749-2022", title="生活饮用水卫生标准", kind="standard",
                 status="in_force", effective_on=date(2023, 4, 1))  # fmt: skip


def test_a_bare_title_means_the_edition_in_force() -> None:
    assert BasisMatcher.build([OLD, NEW]).match("依据《生活饮用水卫生标准》") == [2]
    assert BasisMatcher.build([NEW, OLD]).match("依据《生活饮用水卫生标准》") == [2]


def test_a_numbered_edition_means_that_edition_only() -> None:
    matcher = BasisMatcher.build([OLD, NEW])
    assert matcher.match("GB 5749-2006《生活饮用水卫生标准》") == [1]
    assert matcher.match("GB 5749-2022《生活饮用水卫生标准》第4.1条") == [2]
    assert matcher.match("无关文字") == []
