"""Accuracy with confidence intervals, calibration, and small summaries of verdicts."""
from __future__ import annotations

import math

import numpy as np


def wilson_ci(successes: float, n: int, z: float = 1.96) -> tuple[float, float]:
  """95% Wilson score interval for a binomial proportion."""
  if n == 0:
    return (float("nan"), float("nan"))
  p = successes / n
  denom = 1 + z * z / n
  centre = (p + z * z / (2 * n)) / denom
  half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
  return (max(0.0, centre - half), min(1.0, centre + half))


def difference_ci(s1: float, n1: int, s2: float, n2: int) -> tuple[float, float, float]:
  """(p1 - p2, its 95% interval) of two independent proportions: Newcombe's hybrid score
  interval, from the two Wilson intervals."""
  p1, p2 = s1 / n1, s2 / n2
  (l1, u1), (l2, u2) = wilson_ci(s1, n1), wilson_ci(s2, n2)
  d = p1 - p2
  return (d, d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2),
          d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2))


def mean_ci(values) -> dict[str, float]:
  """Mean and normal-approximation 95% interval over independent values (e.g. seeds)."""
  x = np.asarray(values, np.float64).reshape(-1)
  half = 1.96 * x.std(ddof=1) / math.sqrt(x.size) if x.size > 1 else float("nan")
  return {"mean": float(x.mean()), "ci95": [float(x.mean() - half), float(x.mean() + half)],
          "n": int(x.size)}


def expected_calibration_error(prob_pos, outcome, bins: int = 15) -> float:
  """ECE of binary probabilities against 0/1 outcomes, equal-width bins."""
  p = np.asarray(prob_pos, np.float64).reshape(-1)
  y = np.asarray(outcome, np.float64).reshape(-1)
  edges = np.linspace(0, 1, bins + 1)
  idx = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
  ece = 0.0
  for b in range(bins):
    sel = idx == b
    if sel.any():
      ece += sel.mean() * abs(p[sel].mean() - y[sel].mean())
  return float(ece)


def multiclass_ece(probs_NxC, labels_N, bins: int = 15) -> float:
  """Top-label ECE for a classifier."""
  probs = np.asarray(probs_NxC)
  conf = probs.max(-1)
  correct = probs.argmax(-1) == np.asarray(labels_N)
  return expected_calibration_error(conf, correct, bins)


def brier(prob_pos, outcome) -> float:
  p = np.asarray(prob_pos, np.float64)
  y = np.asarray(outcome, np.float64)
  return float(np.mean((p - y) ** 2))


def fmt_pct(rate: float, ci: tuple[float, float] | list[float] | None = None) -> str:
  if ci is None:
    return f"{100 * rate:.1f}%"
  return f"{100 * rate:.1f}% [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"


def paired_difference_ci(a, b, z: float = 1.96) -> tuple[float, float, float]:
  """Mean of a - b over paired outcomes (the same questions under two protocols; 0/1, or 0.5 for
  a tie) with a normal 95% interval on the per-question differences: tighter than treating the
  two protocols' games as independent, because a question's difficulty cancels."""
  d = np.asarray(a, np.float64) - np.asarray(b, np.float64)
  if len(d) == 0:
    return float("nan"), float("nan"), float("nan")
  m = float(d.mean())
  se = float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else float("inf")
  return m, m - z * se, m + z * se
