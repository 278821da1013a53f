"""The baselines bisection must beat, with the judge's budget of k step evaluations.

Spot-checking: one prover shows a whole trace for its claim (true or, half the time, a lying
trace wrong at one step or at many); the judge evaluates k random steps of it and accepts the
claim iff all of them are right. It catches a single wrong step with probability k/T.
The judge alone: k steps from x_0 reach the claim only if k >= T; otherwise it guesses.
"""
from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

from debate.games.recursive import computation as comp


class Checked(NamedTuple):
  correct: np.ndarray   # float in {0.5, 1}: the verdict's accuracy over the game's true and
                        # false claim (each shown half the time)
  caught: np.ndarray    # bool, the lying trace was rejected


def play(rng: np.random.Generator, games: int, steps: int, k: int, kind: str = "one",
         rate: float = 0.05, chunk: int = 250) -> Checked:
  caught = []
  for start in range(0, games, chunk):
    n = min(chunk, games - start)
    seeds = rng.integers(0, 2**31 - 1, n).astype(np.int32)
    x0 = rng.integers(0, comp.M, n).astype(np.int32)
    truth = np.asarray(comp.true_traces(seeds, x0, jnp.zeros(steps)))[:, -1].astype(np.int32)
    claim = (truth + rng.integers(1, comp.M, n)) % comp.M
    mask = comp.corruption_masks(rng, n, steps, kind, rate)
    lie = np.asarray(comp.lying_traces(seeds, x0, jnp.asarray(mask), claim)).astype(np.int64)
    t = np.stack([rng.choice(steps, min(k, steps), replace=False) for _ in range(n)])
    before = np.take_along_axis(lie, t, 1)
    after = np.take_along_axis(lie, t + 1, 1)
    right = np.asarray(comp.step(seeds[:, None].astype(np.int64), t, before)) == after
    caught.append(~right.all(1))
  caught = np.concatenate(caught)
  # A true trace passes every check: the true claim is always accepted.
  return Checked(0.5 + 0.5 * caught.astype(np.float64), caught)


def judge_alone(rng: np.random.Generator, games: int, steps: int, k: int) -> np.ndarray:
  """bool [games]: the judge's verdict is right (it computes the claim iff k >= T)."""
  if k >= steps:
    return np.ones(games, bool)
  return rng.random(games) < 0.5
