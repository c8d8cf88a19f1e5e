"""Domain vocabulary shared by the service, the loaders and the graph.

Enum values are the canonical English identifiers stored in the database and
returned by the API; the alias tables accept what real Chinese tables write.
"""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    common = "common"
    department_strategic = "department_strategic"
    department_duty = "department_duty"
    sector = "sector"


class Comparator(StrEnum):
    ge = "ge"
    le = "le"
    eq = "eq"
    gt = "gt"
    lt = "lt"
    approx = "approx"
    qualitative = "qualitative"


class ValueBasis(StrEnum):
    plan = "plan"
    industry = "industry"
    historical = "historical"
    budget_standard = "budget_standard"
    other = "other"


class Direction(StrEnum):
    positive = "positive"
    negative = "negative"


class Horizon(StrEnum):
    annual = "annual"
    mid_term = "mid_term"


class IndicatorStatus(StrEnum):
    draft = "draft"
    proposed = "proposed"
    standard = "standard"
    superseded = "superseded"
    retired = "retired"


class BasisKind(StrEnum):
    law = "law"
    regulation = "regulation"
    duty_mandate = "duty_mandate"
    plan = "plan"
    policy = "policy"
    national_standard = "national_standard"
    industry_standard = "industry_standard"
    other = "other"


class BasisStatus(StrEnum):
    in_force = "in_force"
    superseded = "superseded"
    repealed = "repealed"


class Framework(StrEnum):
    """Category frameworks the tree holds side by side."""

    target = "target"  # 产出/成本/效益/满意度 (财预〔2021〕101号)
    evaluation = "evaluation"  # 决策/过程/产出/效益 (财预〔2020〕10号)
    legacy = "legacy"  # 投入/过程/产出/效果 (older common frameworks)
    department = "department"  # 部门战略/部门职责/共性
    unclassified = "unclassified"  # 未归类: levels no rule could map


KIND_ALIASES: dict[str, Kind] = {
    "共性": Kind.common,
    "共性指标": Kind.common,
    "部门战略": Kind.department_strategic,
    "部门战略指标": Kind.department_strategic,
    "战略指标": Kind.department_strategic,
    "部门职责": Kind.department_duty,
    "部门职责指标": Kind.department_duty,
    "职责指标": Kind.department_duty,
    "职能指标": Kind.department_duty,
    "部门职能": Kind.department_duty,
    "分行业分领域": Kind.sector,
    "分行业分领域指标": Kind.sector,
    "行业指标": Kind.sector,
    "个性指标": Kind.sector,
}

COMPARATOR_ALIASES: dict[str, Comparator] = {
    "≥": Comparator.ge,
    ">=": Comparator.ge,
    "≧": Comparator.ge,
    "大于等于": Comparator.ge,
    "不低于": Comparator.ge,
    "不少于": Comparator.ge,
    "≤": Comparator.le,
    "<=": Comparator.le,
    "≦": Comparator.le,
    "小于等于": Comparator.le,
    "不高于": Comparator.le,
    "不超过": Comparator.le,
    "=": Comparator.eq,
    "==": Comparator.eq,
    "等于": Comparator.eq,
    ">": Comparator.gt,
    "大于": Comparator.gt,
    "<": Comparator.lt,
    "小于": Comparator.lt,
    "≈": Comparator.approx,
    "~": Comparator.approx,
    "约等于": Comparator.approx,
    "定性": Comparator.qualitative,
}

COMPARATOR_SYMBOLS: dict[Comparator, str] = {
    Comparator.ge: "≥",
    Comparator.le: "≤",
    Comparator.eq: "=",
    Comparator.gt: ">",
    Comparator.lt: "<",
    Comparator.approx: "≈",
    Comparator.qualitative: "定性",
}

VALUE_BASIS_ALIASES: dict[str, ValueBasis] = {
    "计划标准": ValueBasis.plan,
    "计划": ValueBasis.plan,
    "行业标准": ValueBasis.industry,
    "行业": ValueBasis.industry,
    "历史标准": ValueBasis.historical,
    "历史": ValueBasis.historical,
    "预算支出标准": ValueBasis.budget_standard,
    "其他标准": ValueBasis.other,
    "其他": ValueBasis.other,
}

DIRECTION_ALIASES: dict[str, Direction] = {
    "正向": Direction.positive,
    "正向指标": Direction.positive,
    "反向": Direction.negative,
    "反向指标": Direction.negative,
}

HORIZON_ALIASES: dict[str, Horizon] = {
    "年度": Horizon.annual,
    "0": Horizon.annual,
    "中期": Horizon.mid_term,
    "中长期": Horizon.mid_term,
    "1": Horizon.mid_term,
}

STATUS_ALIASES: dict[str, IndicatorStatus] = {
    "草稿": IndicatorStatus.draft,
    "拟定": IndicatorStatus.proposed,
    "待审": IndicatorStatus.proposed,
    "标准": IndicatorStatus.standard,
    "现行": IndicatorStatus.standard,
    "有效": IndicatorStatus.standard,
    "已替代": IndicatorStatus.superseded,
    "被替代": IndicatorStatus.superseded,
    "废止": IndicatorStatus.retired,
    "停用": IndicatorStatus.retired,
    "已停用": IndicatorStatus.retired,
}

BASIS_KIND_ALIASES: dict[str, BasisKind] = {
    "法律": BasisKind.law,
    "法律法规": BasisKind.law,
    "法规": BasisKind.regulation,
    "行政法规": BasisKind.regulation,
    "三定": BasisKind.duty_mandate,
    "三定职责": BasisKind.duty_mandate,
    "部门三定职责": BasisKind.duty_mandate,
    "规划": BasisKind.plan,
    "政策": BasisKind.policy,
    "政策文件": BasisKind.policy,
    "国家标准": BasisKind.national_standard,
    "行业标准": BasisKind.industry_standard,
    "其他": BasisKind.other,
}

BASIS_STATUS_ALIASES: dict[str, BasisStatus] = {
    "现行": BasisStatus.in_force,
    "有效": BasisStatus.in_force,
    "被替代": BasisStatus.superseded,
    "已替代": BasisStatus.superseded,
    "废止": BasisStatus.repealed,
    "已废止": BasisStatus.repealed,
}

BOOL_TRUE = frozenset({"1", "true", "yes", "y", "是", "★", "√", "核心", "必选", "必填"})
BOOL_FALSE = frozenset({"0", "false", "no", "n", "否", "", "非核心", "可选"})

# The category frameworks seeded into every new database: level1 → level2 labels.
CATEGORY_TREE: dict[Framework, dict[str, list[str]]] = {
    Framework.target: {
        "产出指标": ["数量指标", "质量指标", "时效指标"],
        "成本指标": ["经济成本指标", "社会成本指标", "生态环境成本指标"],
        "效益指标": ["经济效益指标", "社会效益指标", "生态效益指标", "可持续影响指标"],
        "满意度指标": ["服务对象满意度指标"],
    },
    Framework.evaluation: {
        "决策": ["项目立项", "绩效目标", "资金投入"],
        "过程": ["资金管理", "组织实施"],
        "产出": ["产出数量", "产出质量", "产出时效", "产出成本"],
        "效益": ["项目效益", "满意度"],
    },
    Framework.legacy: {
        "投入": ["项目立项", "资金落实"],
        "过程": ["业务管理", "财务管理"],
        "产出": ["产出数量", "产出质量", "产出时效", "产出成本"],
        "效果": ["经济效益", "社会效益", "环境效益", "可持续影响", "服务对象满意度"],
    },
    Framework.department: {
        "部门战略": ["战略目标"],
        "部门职责": ["履职效能"],
        "共性": ["预算执行", "预算管理", "资产管理"],
    },
    Framework.unclassified: {"未归类": []},
}

UNCLASSIFIED = "未归类"


# Lifecycle moves (ISO 11179-style registration status). Retired is final; a superseded indicator
# may still be retired. Any other move is refused with 409.
LIFECYCLE: dict[IndicatorStatus, frozenset[str]] = {
    IndicatorStatus.draft: frozenset({"proposed", "standard", "retired"}),
    IndicatorStatus.proposed: frozenset({"draft", "standard", "retired"}),
    IndicatorStatus.standard: frozenset({"superseded", "retired"}),
    IndicatorStatus.superseded: frozenset({"retired"}),
    IndicatorStatus.retired: frozenset(),
}


class ProposalState(StrEnum):
    draft = "draft"
    submitted = "submitted"
    in_review = "in_review"
    changes_requested = "changes_requested"
    approved = "approved"
    rejected = "rejected"
    withdrawn = "withdrawn"


class ProposalMove(StrEnum):
    submit = "submit"  # the proposer's side
    withdraw = "withdraw"  # the proposer's side
    start_review = "start_review"  # a reviewer or finance
    request_changes = "request_changes"
    approve = "approve"
    reject = "reject"


# The review workflow of proposals, declared once: (state, move) → next state; any other move is 409.
PROPOSAL_MOVES: dict[tuple[ProposalState, ProposalMove], ProposalState] = {
    (ProposalState.draft, ProposalMove.submit): ProposalState.submitted,
    (ProposalState.changes_requested, ProposalMove.submit): ProposalState.submitted,
    (ProposalState.submitted, ProposalMove.start_review): ProposalState.in_review,
    (ProposalState.in_review, ProposalMove.request_changes): ProposalState.changes_requested,
    (ProposalState.in_review, ProposalMove.approve): ProposalState.approved,
    (ProposalState.in_review, ProposalMove.reject): ProposalState.rejected,
    **{
        (state, ProposalMove.withdraw): ProposalState.withdrawn
        for state in (
            ProposalState.draft,
            ProposalState.submitted,
            ProposalState.in_review,
            ProposalState.changes_requested,
        )
    },
}
# Items, title and reason may be edited only here (the proposer's turn).
PROPOSAL_EDITABLE = frozenset({ProposalState.draft, ProposalState.changes_requested})
PROPOSAL_CLOSED = frozenset({ProposalState.approved, ProposalState.rejected, ProposalState.withdrawn})
