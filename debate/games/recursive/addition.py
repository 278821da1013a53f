"""A step-checkable computation written as text, for judges that read: a running sum of T
additions, x_{t+1} = x_t + a_t, from a two-digit x_0 with one-digit a_t (small enough for a
135M-parameter model to check a line). One line per step ("47 + 8 = 55"). A liar's trace slips
once, at a random step, by one (a carry or counting slip) and adds correctly after it, so its
final claim is wrong by the slip.

Bisection over two traces is the engine game's rule (`bisection.py`): both sides commit to the
midpoint value, the dispute keeps the half where they first disagree; with an exact honest side
and a liar who follows its trace it ends at the liar's slip. What the judge reads afterwards is
one line with its two candidate results (`step_view`); judging without debate, both whole traces
(`trace_view`).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

SLIPS = np.array([1, -1])


class Traces(NamedTuple):
  x0_N: np.ndarray
  addends_NxT: np.ndarray
  honest_NxT1: np.ndarray   # the true running sums x_0..x_T
  liar_NxT1: np.ndarray     # one slip at `slip_step`, right after it
  slip_step_N: np.ndarray


def traces(rng: np.random.Generator, n: int, steps: int) -> Traces:
  x0 = rng.integers(10, 100, n)
  adds = rng.integers(1, 10, (n, steps))
  honest = np.concatenate([x0[:, None], x0[:, None] + np.cumsum(adds, 1)], 1)
  k = rng.integers(0, steps, n)
  slip = rng.choice(SLIPS, n)
  liar = honest + np.where(np.arange(steps + 1)[None] > k[:, None], slip[:, None], 0)
  return Traces(x0, adds, honest, liar, k)


def bisect(a_T1: np.ndarray, b_T1: np.ndarray) -> int:
  """The step [lo, lo + 1] a bisection over two traces ends at (they agree at 0, differ at T)."""
  lo, hi = 0, len(a_T1) - 1
  while hi - lo > 1:
    mid = (lo + hi) // 2
    if a_T1[mid] == b_T1[mid]:
      lo = mid
    else:
      hi = mid
  return lo


def trace_text(adds, sums) -> str:
  return "\n".join(f"{s} + {a} = {n}" for s, a, n in zip(sums[:-1], adds, sums[1:]))


def step_view(x: int, a: int, results: tuple[int, int]) -> dict:
  """One line for a likelihood judge: the prompt and the two claimed results."""
  return {"prompt": f"{x} + {a} =", "options": [f" {r}" for r in results]}


def trace_view(tr: Traces, i: int, honest_first: bool) -> dict:
  """Both whole traces as the two continuations (each line a step; the judge reads all T)."""
  texts = [trace_text(tr.addends_NxT[i], t[i]) for t in (tr.honest_NxT1, tr.liar_NxT1)]
  order = (0, 1) if honest_first else (1, 0)
  return {"prompt": "", "options": [texts[order[0]], texts[order[1]]]}
