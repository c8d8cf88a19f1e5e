"""Synthetic but realistic indicators for load and search benchmarks.

Built from the seed library's vocabulary: seed names are split into a stem and a metric suffix
(接种 + 率, 群众 + 满意度) and recombined with place/object prefixes, sectors, departments, units and
the category tree. Real catalogues repeat names a lot (every department has 群众满意度 and 预算执行率),
so a share of the names are seed names or common indicators as they are.

Output rows use the canonical import fields: code, name, kind, level1, level2, sector, department,
unit, comparator, value, raw_value, definition, keywords, basis.

CLI: ``python -m bench.generate N [--seed S] > indicators.jsonl``
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

SEED_DIR = Path(__file__).resolve().parent.parent / "loaders" / "seed"

# Metric suffixes, longest first so that 满意度 is preferred over 度.
SUFFIXES = (
    "满意度", "覆盖率", "完成率", "合格率", "及时率", "达标率", "到位率", "增长率", "执行率", "使用率",
    "知晓率", "发生率", "规范度", "利用率", "普及率", "准确率", "占比", "人数", "人次", "次数", "数量",
    "面积", "里程", "时间", "成本", "能力", "水平", "情况", "率", "数", "量",
)  # fmt: skip
PREFIXES = (
    "农村", "城乡", "全省", "全市", "县级", "乡镇", "社区", "重点区域", "贫困地区", "山区", "城区", "项目区",
    "新建", "改造", "年度", "季度", "累计", "受益", "适龄", "困难群众", "特殊群体", "基层", "省级", "市级",
)  # fmt: skip
OBJECTS = (
    "群众", "服务对象", "受益群众", "患者", "学生", "家长", "企业", "参训学员", "游客", "农户", "居民",
    "社会公众", "使用单位", "监管对象", "从业人员", "受助对象", "村民", "职工",
)  # fmt: skip
COMMON_NAMES = (
    "预算执行率", "资金到位率", "政府采购执行率", "项目按期完成率", "资金使用合规性", "财务管理制度健全性",
    "三公经费控制率", "会议计划完成率", "培训计划完成率", "参训率", "培训合格率", "购置设备验收合格率",
    "购置计划完成率", "资金拨付及时率", "结转结余率", "绩效自评完成率", "群众满意度", "服务对象满意度",
)  # fmt: skip
PLACES = (
    "",
    "",
    "",
    "济南市",
    "临沂市",
    "滨州市",
    "青岛市",
    "烟台市",
    "潍坊市",
    "济宁市",
    "泰安市",
    "威海市",
)
DEPT_BY_SECTOR = {
    "卫生健康": "卫生健康委员会", "交通运输": "交通运输厅", "水利": "水利厅", "教育": "教育厅",
    "农业农村": "农业农村厅", "生态环境": "生态环境厅", "住房城乡建设": "住房和城乡建设厅",
    "文化旅游": "文化和旅游厅", "社会保障": "人力资源和社会保障厅", "科技": "科学技术厅",
    "自然资源": "自然资源厅", "林业": "林业局", "商务": "商务厅", "体育": "体育局", "公共安全": "公安厅",
    "市场监管": "市场监督管理局", "气象": "气象局", "人才工作": "人力资源和社会保障厅",
    "出入境检验检疫": "海关", "通用": "财政厅",
}  # fmt: skip
EXTRA_SECTORS = (
    "教育(义务教育)", "教育(职业教育)", "卫生健康(基本公共卫生)", "卫生健康(医疗保障)", "水利(农村饮水)",
    "农业农村(高标准农田)", "农业农村(乡村振兴)", "生态环境(大气污染防治)", "住房城乡建设(老旧小区改造)",
    "交通运输(农村公路)", "社会保障(养老服务)", "社会保障(就业补助)", "文化旅游(公共文化)", "林业(造林绿化)",
)  # fmt: skip
TARGET_LEVELS = (
    ("产出指标", "数量指标"), ("产出指标", "数量指标"), ("产出指标", "质量指标"), ("产出指标", "时效指标"),
    ("成本指标", "经济成本指标"), ("效益指标", "社会效益指标"), ("效益指标", "经济效益指标"),
    ("效益指标", "生态效益指标"), ("效益指标", "可持续影响指标"), ("满意度指标", "服务对象满意度指标"),
)  # fmt: skip
KINDS = (("sector", 70), ("common", 15), ("department_duty", 10), ("department_strategic", 5))
DEFINITION_TEMPLATES = (
    "反映{name}情况,用以衡量{sector}领域{stem}工作的实施效果。",
    "{name}=实际{stem}数/计划{stem}数×100%。",
    "考核{obj}对{stem}工作的{suffix}, 通过问卷调查等方式获取。",
    "{stem}{suffix}达到{value}{unit}以上, 数据来源为{dept}年度统计报表。",
    "按照{basis}要求, 统计期内{place}{stem}{suffix}。",
)


@lru_cache(maxsize=1)
def _vocabulary() -> dict[str, Any]:
    rows = [
        json.loads(line)
        for line in (SEED_DIR / "seed_indicators.jsonl").read_text("utf-8").splitlines()
        if line
    ]
    bases = [
        json.loads(line) for line in (SEED_DIR / "legal_bases.jsonl").read_text("utf-8").splitlines() if line
    ]
    stems: list[tuple[str, str]] = []
    for r in rows:
        name = re.sub(r"[((].*?[))]", "", r["name"]).strip()
        for suf in SUFFIXES:
            if name.endswith(suf) and len(name) > len(suf) + 1:
                stems.append((name[: -len(suf)].removeprefix("是否"), suf))
                break
    values = [
        (r.get("unit") or "", r.get("comparator") or "", r.get("value") or "", r.get("raw_value") or "")
        for r in rows
        if r.get("value")
    ]
    percent = [v for v in values if v[0] == "%"]
    other = [v for v in values if v[0] not in ("%", "")]
    sectors = sorted({r["sector"] for r in rows} | set(EXTRA_SECTORS))
    raw_levels = sorted({(r["level1"], r["level2"]) for r in rows})
    return {
        "names": [r["name"] for r in rows],
        "stems": stems,
        "percent_values": percent,
        "other_values": other,
        "sectors": sectors,
        "raw_levels": raw_levels,
        "bases": [f"{b['doc_no']} {b['title']}" for b in bases],
    }


def _department(rng: random.Random, sector: str) -> str:
    top = re.split(r"[(/]", sector, maxsplit=1)[0]
    dept = DEPT_BY_SECTOR.get(top, "财政厅")
    place = rng.choice(PLACES)
    # City departments are 局 where the province has a 厅.
    return f"{place}{dept.replace('厅', '局')}" if place else f"山东省{dept}"


def _name(rng: random.Random, vocab: dict[str, Any]) -> tuple[str, str, str]:
    """(name, stem, suffix) from one of several realistic patterns."""
    roll = rng.random()
    stem, suffix = rng.choice(vocab["stems"])
    if roll < 0.25:
        name = str(rng.choice(vocab["names"]))
        return name, stem, suffix
    if roll < 0.35:
        name = rng.choice(COMMON_NAMES)
        return name, name[:-3], name[-3:]
    if roll < 0.45:
        return f"{rng.choice(OBJECTS)}满意度", rng.choice(OBJECTS), "满意度"
    if roll < 0.75:
        suffix = rng.choice(SUFFIXES) if rng.random() < 0.3 else suffix
        return f"{rng.choice(PREFIXES)}{stem}{suffix}", stem, suffix
    if roll < 0.9:
        return f"{stem}{suffix}", stem, suffix
    other, _ = rng.choice(vocab["stems"])
    return f"{rng.choice(PREFIXES)}{other[:4]}{stem}{suffix}", stem, suffix


def generate_indicators(n: int, *, seed: int = 0) -> Iterator[dict[str, Any]]:
    """Yield ``n`` synthetic indicators (canonical import fields), deterministic for a given seed."""
    rng = random.Random(seed)
    vocab = _vocabulary()
    kinds = [k for k, _ in KINDS]
    kind_weights = [w for _, w in KINDS]
    for i in range(n):
        name, stem, suffix = _name(rng, vocab)
        sector = rng.choice(vocab["sectors"])
        dept = _department(rng, sector)
        kind = rng.choices(kinds, kind_weights)[0]
        level1, level2 = rng.choice(TARGET_LEVELS) if rng.random() < 0.8 else rng.choice(vocab["raw_levels"])
        if name.endswith("满意度") and rng.random() < 0.8:
            level1, level2 = "满意度指标", "服务对象满意度指标"
        # Rates and degrees carry percentages; counts, areas and times their own units.
        ratio = name.endswith(("率", "度", "占比", "比例"))
        unit, comparator, value, raw_value = rng.choice(vocab["percent_values" if ratio else "other_values"])
        basis = rng.choice(vocab["bases"]) if rng.random() < 0.2 else ""
        definition = ""
        if rng.random() < 0.4:
            definition = rng.choice(DEFINITION_TEMPLATES).format(
                name=name, stem=stem, suffix=suffix, sector=sector, obj=rng.choice(OBJECTS),
                value=value or "90", unit=unit or "%", dept=dept, basis=basis or "相关政策文件",
                place=rng.choice(PREFIXES),
            )  # fmt: skip
        keywords = sorted({stem[:4], suffix} - {""}) if rng.random() < 0.5 else []
        yield {
            "code": f"ZB{rng.randrange(10**9):09d}{i:06d}",
            "name": name,
            "kind": kind,
            "level1": level1,
            "level2": level2,
            "sector": sector,
            "department": dept,
            "unit": unit,
            "comparator": comparator,
            "value": value,
            "raw_value": raw_value,
            "definition": definition,
            "keywords": keywords,
            "basis": basis,
        }


def main(argv: list[str] | None = None) -> None:
    """CLI entry point: write N indicators as JSON lines to stdout."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("n", type=int)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    out = sys.stdout
    for row in generate_indicators(args.n, seed=args.seed):
        out.write(json.dumps(row, ensure_ascii=False))
        out.write("\n")


if __name__ == "__main__":
    main()
