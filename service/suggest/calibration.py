"""Confidence of a suggestion: a logistic model over the ranking's own evidence, fitted on labelled targets.

The features of a shown item are what the ranking already knows about it (text relevance, the name
inside the text, context, whether it is of the target's field, generic, a quantity that fits, its score
relative to the list's best). ``fit`` learns the coefficients from (features, was-it-gold) pairs —
``bench.suggest_eval --calibrate`` fits them on the development set and writes ``calibration.json``;
its k-fold fits them on the other folds only. The probability is shown as 高/中/低 and rows under
``floor`` are not shown at all (better fewer rows than wrong ones).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["FEATURES", "Calibration", "fit", "load"]

FEATURES = ("text", "fuzzy", "context", "on_field", "generic", "quantity_fit", "relative")
PATH = Path(__file__).with_name("calibration.json")


@dataclass(frozen=True)
class Calibration:
    coef: tuple[float, ...] = (2.0, 1.0, 1.0, 1.0, 0.0, 1.0, 2.0)
    intercept: float = -3.5
    high: float = 0.5
    mid: float = 0.25
    floor: float = 0.08
    fitted_on: dict[str, object] = field(default_factory=dict)

    def probability(self, x: Sequence[float]) -> float:
        z = self.intercept + sum(c * v for c, v in zip(self.coef, x, strict=True))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def label(self, p: float) -> str:
        return "高" if p >= self.high else "中" if p >= self.mid else "低"

    def to_json(self) -> str:
        return json.dumps(
            {
                "features": FEATURES,
                "coef": [round(c, 4) for c in self.coef],
                "intercept": round(self.intercept, 4),
                "high": self.high,
                "mid": self.mid,
                "floor": self.floor,
                "fitted_on": self.fitted_on,
            },
            ensure_ascii=False,
            indent=2,
        )


def load(path: Path = PATH) -> Calibration:
    if not path.exists():
        return Calibration()
    data = json.loads(path.read_text(encoding="utf-8"))
    if tuple(data.get("features", ())) != FEATURES:
        return Calibration()  # written for other features: the neutral defaults are safer
    return Calibration(
        coef=tuple(float(c) for c in data["coef"]),
        intercept=float(data["intercept"]),
        high=float(data.get("high", 0.5)),
        mid=float(data.get("mid", 0.25)),
        floor=float(data.get("floor", 0.08)),
        fitted_on=dict(data.get("fitted_on", {})),
    )


def fit(
    x: Sequence[Sequence[float]], y: Sequence[bool], *, l2: float = 1.0, base: Calibration | None = None
) -> Calibration:
    """L2-regularised logistic regression by Newton's method (a few hundred rows, seven features)."""
    base = base or Calibration()
    a = np.asarray(x, dtype=float)
    t = np.asarray(y, dtype=float)
    if len(a) == 0 or t.min() == t.max():
        return base
    a = np.hstack([a, np.ones((len(a), 1))])
    w = np.zeros(a.shape[1])
    reg = np.full(a.shape[1], l2)
    reg[-1] = 0.0  # the intercept is not shrunk
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-np.clip(a @ w, -30, 30)))
        grad = a.T @ (p - t) + reg * w
        hess = (a * (p * (1 - p))[:, None]).T @ a + np.diag(reg + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return Calibration(
        coef=tuple(float(c) for c in w[:-1]),
        intercept=float(w[-1]),
        high=base.high,
        mid=base.mid,
        floor=base.floor,
        fitted_on={"rows": len(t), "positives": int(t.sum())},
    )
