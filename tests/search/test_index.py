"""SearchIndex against the seed library: ranking, filters, facets, cursors, upserts, concurrency."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace

import pytest

from service.search import index as index_module
from service.search.index import IndexDoc, SearchHit, SearchIndex
from service.search.text import Analyzer
from tests.search.factories import category_id

RURAL_ROADS = "交通运输(农村公路)"


def names(index: SearchIndex, by_code: Mapping[str, IndexDoc], q: str, limit: int = 10) -> list[str]:
    return [by_code[h.code].name for h in index.search(q, limit=limit).hits]


def all_hits(
    index: SearchIndex, q: str | None, *, filters: Mapping[str, str | Sequence[str]] | None = None
) -> list[SearchHit]:
    return index.search(q, filters=filters, limit=10_000, facet_fields=()).hits


def page_through(
    index: SearchIndex, q: str | None, *, limit: int, between_pages: list[list[IndexDoc]] | None = None
) -> list[str]:
    """Codes of every page, following cursors; upserts ``between_pages[i]`` after page i."""
    codes: list[str] = []
    cursor: str | None = None
    page_no = 0
    while True:
        page = index.search(q, limit=limit, cursor=cursor, facet_fields=())
        assert len(page.hits) <= limit
        codes.extend(h.code for h in page.hits)
        if between_pages and page_no < len(between_pages):
            index.upsert(between_pages[page_no], version=100 + page_no)
        page_no += 1
        cursor = page.next_cursor
        if cursor is None:
            return codes


class TestRanking:
    def test_satisfaction_first(self, seed_index: SearchIndex, by_code: dict[str, IndexDoc]) -> None:
        top = names(seed_index, by_code, "满意度")
        assert len(top) == 10
        assert all("满意" in n for n in top), top

    def test_rural_roads_sector_first_without_flooding(
        self, seed_index: SearchIndex, by_code: dict[str, IndexDoc]
    ) -> None:
        in_sector = {d.code for d in by_code.values() if d.sector == RURAL_ROADS}
        page = seed_index.search("农村公路", limit=len(in_sector))
        assert {h.code for h in page.hits} == in_sector
        # The names that literally say 农村公路 lead.
        assert {by_code[h.code].name for h in page.hits[:2]} == {"农村公路纳入考核", "中等及以上农村公路占比"}
        # Docs with only 农村 or only 公路 are not dragged in.
        hits = {by_code[h.code].name for h in all_hits(seed_index, "农村公路")}
        assert "农村饮水工程覆盖服务人口数" not in hits
        assert "干线公路优良等路比例" not in hits

    def test_vaccination_rate(self, seed_index: SearchIndex, by_code: dict[str, IndexDoc]) -> None:
        assert "适龄儿童疫苗接种率" in names(seed_index, by_code, "接种率", limit=3)

    def test_word_inside_a_name(self, seed_index: SearchIndex, by_code: dict[str, IndexDoc]) -> None:
        assert "适龄儿童疫苗接种率" in names(seed_index, by_code, "接种", limit=50)

    def test_full_width_query(self, seed_index: SearchIndex) -> None:
        plain = [h.code for h in all_hits(seed_index, "满意度")]
        assert [h.code for h in all_hits(seed_index, "　满意度！")] == plain
        assert [h.code for h in all_hits(seed_index, "（满意度）")] == plain
        assert len(all_hits(seed_index, "ＰＱＩ")) == 1

    def test_synonym_finds_other_wording(self, seed_index: SearchIndex, by_code: dict[str, IndexDoc]) -> None:
        hits = [by_code[h.code].name for h in all_hits(seed_index, "满意率")]
        assert hits[0] == "气象服务公众满意率"  # the wording typed ranks first
        assert "群众满意度" in hits
        assert sum("满意度" in n for n in hits) >= 20

    def test_one_character_query(self, seed_index: SearchIndex, by_code: dict[str, IndexDoc]) -> None:
        hits = all_hits(seed_index, "率")
        assert len(hits) > 100
        assert all("率" in by_code[h.code].name for h in hits[:30])

    def test_exact_name_beats_longer_names(
        self, seed_index: SearchIndex, by_code: dict[str, IndexDoc]
    ) -> None:
        top = names(seed_index, by_code, "资金到位率", limit=4)
        assert top == ["资金到位率"] * 4

    def test_only_matching_docs(self, seed_index: SearchIndex) -> None:
        assert all_hits(seed_index, "量子纠缠") == []
        assert seed_index.search("量子纠缠").total == 0

    def test_order_is_score_then_code(self, seed_index: SearchIndex) -> None:
        hits = all_hits(seed_index, "率")
        keys = [(-h.score, h.code) for h in hits]
        assert keys == sorted(keys)
        assert len({h.code for h in hits}) == len(hits)

    def test_browse_orders_by_code(self, seed_index: SearchIndex, docs: list[IndexDoc]) -> None:
        page = seed_index.search(None, limit=5)
        assert [h.code for h in page.hits] == sorted(d.code for d in docs)[:5]
        assert page.total == len(docs) == len(seed_index)
        assert seed_index.search("！！", limit=5).hits == page.hits  # nothing searchable = browse


def doc_values(d: IndexDoc, key: str) -> set[str]:
    if key == "basis":
        return set(d.bases)
    if key == "category":
        return {str(c) for c in d.category_ids}
    return {getattr(d, key)}


def passes(d: IndexDoc, filters: Mapping[str, Sequence[str]], *, ignore: str = "") -> bool:
    """OR within a field, AND across fields; ``ignore`` skips one field (disjunctive facets)."""
    return all(doc_values(d, k) & set(v) for k, v in filters.items() if k != ignore)


class TestFiltersAndFacets:
    @pytest.mark.parametrize(
        "filters",
        [
            {"kind": ["sector", "common"]},
            {"sector": ["卫生健康", "科技(医学科研/医科院创新工程)"], "status": "standard"},
            {"level1": ["满意度指标", "项目效果"], "department": ["部门1", "部门2", "部门3"]},
            {"basis": "B1"},
            {"category": [str(category_id("满意度指标")), str(category_id("项目产出"))], "kind": "sector"},
            {
                "category": [
                    str(category_id("满意度指标", "服务对象满意度")),
                    str(category_id("产出指标", "质量指标")),
                ],
                "basis": ["B1", "B2"],
            },
        ],
    )
    @pytest.mark.parametrize("q", [None, "满意度", "率"])
    def test_against_brute_force(
        self,
        seed_index: SearchIndex,
        by_code: dict[str, IndexDoc],
        q: str | None,
        filters: dict[str, str | list[str]],
    ) -> None:
        wanted = {k: [v] if isinstance(v, str) else v for k, v in filters.items()}
        matching = [by_code[h.code] for h in all_hits(seed_index, q)]
        fields = ("kind", "sector", "department", "level1", "level2", "status", "basis", "category")
        page = seed_index.search(q, filters=filters, limit=10_000, facet_fields=fields)

        expected = [d.code for d in matching if passes(d, wanted)]
        assert page.total == len(expected) > 0
        assert [h.code for h in page.hits] == expected  # same order as without filters
        for field in fields:
            brute: Counter[str] = Counter()
            for d in matching:
                if passes(d, wanted, ignore=field):
                    brute.update(v for v in doc_values(d, field) if v)
            top = dict(sorted(brute.items(), key=lambda kv: (-kv[1], kv[0]))[:50])
            assert page.facets[field] == top, field

    def test_facets_capped_at_50(self, seed_index: SearchIndex) -> None:
        page = seed_index.search(None, facet_fields=("level2",))
        assert len(page.facets["level2"]) <= 50
        assert "" not in page.facets["level2"]

    def test_unknown_filter_or_facet(self, seed_index: SearchIndex) -> None:
        with pytest.raises(ValueError, match="unknown filter"):
            seed_index.search("率", filters={"colour": "red"})
        with pytest.raises(ValueError, match="unknown facet"):
            seed_index.search("率", facet_fields=("colour",))

    def test_unknown_value_matches_nothing(self, seed_index: SearchIndex) -> None:
        assert seed_index.search(None, filters={"sector": "不存在"}).total == 0


class TestCursor:
    @pytest.mark.parametrize("q", ["率", "满意度", None])
    def test_pages_give_the_full_list(self, seed_index: SearchIndex, q: str | None) -> None:
        full = [h.code for h in all_hits(seed_index, q)]
        assert len(full) > 7
        assert page_through(seed_index, q, limit=7) == full

    def test_stable_while_docs_change(self, fresh_index: SearchIndex, by_code: dict[str, IndexDoc]) -> None:
        full = [h.code for h in all_hits(fresh_index, "率")]
        untouched = by_code["S-00000"]  # 建立预防接种证: does not match 率
        assert untouched.code not in full
        new_match = replace(by_code[full[3]], code="S-99999")  # sorts after the first pages
        changes = [
            [replace(untouched, definition="修订后的解释")],
            [new_match],
            [replace(untouched, name="建立预防接种证(修订)")],
        ]
        paged = page_through(fresh_index, "率", limit=7, between_pages=changes)
        assert len(paged) == len(set(paged))
        assert [c for c in paged if c != "S-99999"] == full

    def test_cursor_of_another_query(self, seed_index: SearchIndex) -> None:
        cursor = seed_index.search("率", limit=3).next_cursor
        assert cursor
        with pytest.raises(ValueError, match="another query"):
            seed_index.search("满意度", cursor=cursor)
        with pytest.raises(ValueError, match="another query"):
            seed_index.search("率", filters={"kind": "sector"}, cursor=cursor)
        with pytest.raises(ValueError, match="malformed"):
            seed_index.search("率", cursor="not-a-cursor")

    def test_last_page_has_no_cursor(self, seed_index: SearchIndex) -> None:
        page = seed_index.search("接种率", limit=5)
        assert page.total == len(page.hits) == 1
        assert page.next_cursor is None


class TestWrites:
    def test_upsert_replaces_text(self, fresh_index: SearchIndex, by_code: dict[str, IndexDoc]) -> None:
        code = next(c for c, d in by_code.items() if d.name == "适龄儿童疫苗接种率")
        fresh_index.upsert([replace(by_code[code], name="学校卫生监督覆盖率")], version=2)
        assert code not in {h.code for h in all_hits(fresh_index, "接种率")}
        assert code in {h.code for h in all_hits(fresh_index, "卫生监督")}
        assert len(fresh_index) == len(by_code)
        assert fresh_index.version == 2

    def test_upsert_new_and_delete(self, fresh_index: SearchIndex, by_code: dict[str, IndexDoc]) -> None:
        fresh_index.upsert(
            [IndexDoc(code="N-1", name="四好农村路示范县创建数", sector=RURAL_ROADS)], version=3
        )
        assert len(fresh_index) == len(by_code) + 1
        assert fresh_index.search("示范县").hits[0].code == "N-1"
        assert fresh_index.search(None, filters={"sector": RURAL_ROADS}).facets["sector"][RURAL_ROADS] == 18
        fresh_index.delete(["N-1", "unknown"], version=4)
        assert "N-1" not in {h.code for h in all_hits(fresh_index, "示范县")}
        assert fresh_index.search(None, filters={"sector": RURAL_ROADS}).total == 17
        assert len(fresh_index) == len(by_code)
        assert fresh_index.version == 4

    def test_merges_keep_results(
        self, analyzer: Analyzer, docs: list[IndexDoc], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Many single upserts go through tiered and main merges; results equal a fresh build's."""
        monkeypatch.setattr(index_module, "MAIN_MERGE_MIN_POSTINGS", 2_000)
        grown = SearchIndex(analyzer)
        grown.replace_all(docs[:100], version=1)
        edited = {d.code: replace(d, definition=f"{d.definition}修订{i}") for i, d in enumerate(docs[:40])}
        for i, d in enumerate(docs[100:]):
            grown.upsert([d], version=2 + i)
            if i % 13 == 0 and edited:
                grown.upsert([edited.popitem()[1]], version=2 + i)
        assert grown.info()["stats_epoch"] > 1  # at least one main merge happened
        final = {d.code: d for d in docs}
        for d in docs[:40]:
            if d.code not in edited:
                final[d.code] = replace(d, definition=f"{d.definition}修订{docs.index(d)}")
        fresh = SearchIndex(analyzer)
        fresh.replace_all(final.values(), version=1)
        assert len(grown) == len(fresh) == len(docs)
        for q in ["满意度", "率", "农村公路", "修订", "接种", None]:
            a, b = grown.search(q, limit=1000), fresh.search(q, limit=1000)
            assert a.total == b.total, q
            assert {h.code for h in a.hits} == {h.code for h in b.hits}, q
            assert a.facets == b.facets, q

    def test_compaction_drops_dead_ids(self, fresh_index: SearchIndex, docs: list[IndexDoc]) -> None:
        doomed = [d.code for d in docs[: len(docs) // 2]]
        fresh_index.delete(doomed, version=5)
        info = fresh_index.info()
        assert info["doc_ids"] == info["docs"] == len(docs) - len(doomed)  # compacted
        assert info["segments"] == 1
        survivors = {d.code for d in docs[len(docs) // 2 :]}
        assert {h.code for h in all_hits(fresh_index, None)} == survivors
        # Codes were renumbered: replacing a survivor must still tombstone its old id.
        survivor = docs[-1]
        fresh_index.upsert([replace(survivor, name="量子纠缠测试")], version=6)
        assert [h.code for h in all_hits(fresh_index, "量子纠缠")] == [survivor.code]
        assert len(fresh_index) == len(survivors)

    def test_empty_index(self, analyzer: Analyzer) -> None:
        index = SearchIndex(analyzer)
        assert len(index) == 0
        assert index.version == 0
        page = index.search("满意度")
        assert (page.hits, page.total, page.next_cursor) == ([], 0, None)
        assert index.search(None).facets["kind"] == {}
        index.upsert([IndexDoc(code="A", name="群众满意度", kind="common")], version=1)
        assert [h.code for h in index.search("满意度").hits] == ["A"]

    def test_replace_all_swaps_everything(self, fresh_index: SearchIndex) -> None:
        fresh_index.replace_all([IndexDoc(code="X", name="唯一指标")], version=9)
        assert len(fresh_index) == 1
        assert fresh_index.version == 9
        assert fresh_index.search("满意度").total == 0
        assert [h.code for h in fresh_index.search("唯一").hits] == ["X"]

    def test_searches_during_upserts(self, fresh_index: SearchIndex, by_code: dict[str, IndexDoc]) -> None:
        expected_total = fresh_index.search("满意度").total
        errors: list[BaseException] = []
        stop = threading.Event()

        def reader() -> None:
            try:
                while not stop.is_set():
                    page = fresh_index.search("满意度", filters={"kind": ["sector", "common"]})
                    assert page.hits
                    assert fresh_index.search("满意度", facet_fields=()).total == expected_total
            except BaseException as e:
                errors.append(e)

        threads = [threading.Thread(target=reader) for _ in range(3)]
        for t in threads:
            t.start()
        docs = [d for d in by_code.values() if "满意" not in d.name and "满意" not in d.level1 + d.level2][
            :150
        ]
        for i, d in enumerate(docs):
            fresh_index.upsert([replace(d, definition=f"第{i}次修订")], version=10 + i)
        stop.set()
        for t in threads:
            t.join()
        assert not errors, errors[0]
