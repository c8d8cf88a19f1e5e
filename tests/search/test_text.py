"""Analyzer: normalisation, index terms, query terms, synonyms, private jieba dictionaries."""

from __future__ import annotations

from pathlib import Path

import jieba

from service.search.text import Analyzer, compact, load_synonyms, normalize


class TestNormalize:
    def test_full_width_and_punctuation(self) -> None:
        assert normalize("　满意度！") == "满意度"
        # Runs are space separated; symbols and non-Latin letters (μ) are separators.
        assert normalize("ＰＭ２．５年均浓度（μg/m³）") == "pm2 5 年均浓度 g m3"
        assert compact("普通国省干线公路路面使用性能指数(PQI)") == "普通国省干线公路路面使用性能指数pqi"

    def test_cjk_compatibility_ideographs_fold(self) -> None:
        assert normalize("\uf9b4") == "領"  # NFKC folds the compatibility form


class TestIndexTerms:
    def test_bigrams_find_words_inside_compounds(self, analyzer: Analyzer) -> None:
        terms = analyzer.index_terms("适龄儿童疫苗接种率")
        assert {"接种", "种率", "疫苗", "接种率"} <= set(terms)

    def test_unigrams_only_when_asked(self, analyzer: Analyzer) -> None:
        assert "率" in analyzer.index_terms("接种率")
        assert "率" not in analyzer.index_terms("接种率", unigrams=False)
        # A lone character has no bigram and is always kept.
        assert "率" in analyzer.index_terms("接种 率", unigrams=False)

    def test_stop_words_split_runs_but_stay_searchable(self, analyzer: Analyzer) -> None:
        terms = analyzer.index_terms("培训的满意度")
        assert "训的" not in terms
        assert "的满" not in terms
        assert {"培训", "满意", "意度", "满意度"} <= set(terms)
        assert "是否" in analyzer.index_terms("是否取得预期成果")

    def test_light_analysis_skips_jieba(self, analyzer: Analyzer) -> None:
        terms = analyzer.index_terms("适龄儿童疫苗接种率", unigrams=False, words=False)
        assert "接种率" not in terms
        assert "接种" in terms

    def test_latin_and_digits(self, analyzer: Analyzer) -> None:
        assert {"pqi", "gb", "5749"} <= set(analyzer.index_terms("PQI 达到 GB 5749"))


class TestQueryTerms:
    def test_synonyms_expand_with_lower_weight(self, analyzer: Analyzer) -> None:
        terms = analyzer.query_terms("满意率")
        assert terms[:2] == ["满意", "意率"]
        assert "意度" in terms
        weights = analyzer.analyze_query("满意率").weighted_terms()
        assert weights["意率"] == 1.0
        assert weights["意度"] < 1.0

    def test_latin_synonym_needs_a_whole_token(self, analyzer: Analyzer) -> None:
        assert len(analyzer.analyze_query("km").variants) > 1
        assert len(analyzer.analyze_query("kmh").variants) == 1

    def test_stop_word_only_query_is_kept(self, analyzer: Analyzer) -> None:
        assert analyzer.analyze_query("是否").variants[0].units == ("是否",)

    def test_empty_query(self, analyzer: Analyzer) -> None:
        assert analyzer.analyze_query("！？ ").variants == ()


class TestSynonymFile:
    def test_default_table_is_symmetric(self) -> None:
        table = load_synonyms()
        assert "满意率" in table["满意度"]
        assert "满意度" in table["满意率"]
        assert {"乡村公路", "四好农村路"} <= set(table["农村公路"])
        assert "km" in table["公里"]
        assert 15 <= len({frozenset([k, *v]) for k, v in table.items()}) <= 60

    def test_custom_file(self, tmp_path: Path) -> None:
        path = tmp_path / "syn.txt"
        path.write_text("# comment\n甲乙, 丙丁，戊己  # trailing\n\nＡＢ cd\n", encoding="utf-8")
        assert load_synonyms(path) == {
            "甲乙": ["丙丁", "戊己"],
            "丙丁": ["甲乙", "戊己"],
            "戊己": ["甲乙", "丙丁"],
            "ab": ["cd"],
            "cd": ["ab"],
        }


class TestPrivateDictionary:
    def test_user_words_do_not_leak(self) -> None:
        word = "鳏寡孤独补助"
        one = Analyzer(synonyms={})
        two = Analyzer(synonyms={})
        assert word not in one.index_terms(word)
        assert one.add_words([word]) == 1
        assert word in one.index_terms(word)
        assert word not in two.index_terms(word)
        assert not jieba.dt.FREQ.get(word)

    def test_words_before_first_use_are_applied_lazily(self) -> None:
        analyzer = Analyzer(["鳏寡孤独补助"], synonyms={})
        assert analyzer.add_words(["鳏寡孤独救助"]) == 0  # queued: the dictionary is not loaded yet
        assert "鳏寡孤独救助" in analyzer.index_terms("鳏寡孤独救助资金")

    def test_long_user_words_are_skipped(self) -> None:
        analyzer = Analyzer(synonyms={}, max_user_word_len=4)
        analyzer.index_terms("预热")
        assert analyzer.add_words(["鳏寡孤独补助资金"]) == 0
