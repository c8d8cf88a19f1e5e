"""Small typed factories for engine tests."""

from __future__ import annotations

from typing import Any

from service.suggest.catalogue import SuggestDoc, sector_root_of

LEVELS = {
    "数量": ("产出指标", "数量指标"),
    "质量": ("产出指标", "质量指标"),
    "时效": ("产出指标", "时效指标"),
    "成本": ("成本指标", "经济成本指标"),
    "效益": ("效益指标", "社会效益指标"),
    "满意度": ("满意度指标", "服务对象满意度指标"),
}


def doc(code: str, name: str, dim: str = "数量", **fields: Any) -> SuggestDoc:
    level1, level2 = LEVELS[dim]
    sector = fields.pop("sector", None)
    return SuggestDoc(
        code=code,
        name=name,
        level1=level1,
        level2=level2,
        sector=sector,
        sector_root=sector_root_of(sector),
        **fields,
    )


def road_catalogue() -> list[SuggestDoc]:
    transport = "交通运输(农村公路)"
    return [
        doc("R1", "新改建农村公路里程", unit="公里", sector=transport, department="交通运输局"),
        doc("R2", "农村公路验收合格率", "质量", unit="%", sector=transport, department="交通运输局"),
        doc("R3", "项目按期完成率", "时效", unit="%", sector=transport, department="交通运输局"),
        doc("R4", "群众出行满意度", "满意度", unit="%", sector=transport, department="交通运输局"),
        doc("R5", "工程建设成本", "成本", unit="万元", sector=transport, department="交通运输局"),
        doc("E1", "义务教育学校改造覆盖率", unit="%", sector="教育", department="教育局"),
        doc("E2", "学生家长满意度", "满意度", unit="%", sector="教育", department="教育局"),
        doc("C1", "服务对象满意度", "满意度", unit="%", kind="common"),
        doc("C2", "服务对象满意度", "满意度", unit="%", kind="common", sector="卫生健康"),
        doc("C3", "服务对象满意度", "满意度", unit="%", kind="common", sector="水利"),
        doc("C4", "预算执行率", "时效", unit="%", kind="common"),
        doc("C5", "预算执行率", "时效", unit="%", kind="common", sector="水利"),
        doc("W1", "新建堤防长度", unit="公里", sector="水利", department="水利局"),
        doc("W2", "水利工程效益发挥情况", "效益", sector="水利", department="水利局"),
    ]
