"""Claims about a long computation (`debate.games.recursive.computation`): N instances (a seed
for the step coefficients and a start value), each claim "after T steps from x_0 the value is y".
A wrong claim's seat holds a lying trace that goes wrong at one uniformly random step
(`corruption="one"`) or at many (`"many"`: each step with probability `rate`, at least one),
drawn from the instance, the claim and the task's seed, so a game key rebuilds the same
example."""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from debate.games.recursive import bisection, computation
from debate.tasks import base as task_base


class BisectionTask(task_base.TaskDefaults):
  name = "bisection"
  num_claims = computation.M

  def __init__(self, n: int, log2_steps: int, seed: int, corruption: str = "one",
               rate: float = 0.1):
    if corruption not in ("one", "many"):
      raise ValueError(f"corruption={corruption!r}; allowed: one, many")
    rng = np.random.default_rng(seed)
    self.seed = int(seed)
    self.seeds = rng.integers(0, 2**31 - 1, n).astype(np.int32)
    self.x0 = rng.integers(0, computation.M, n).astype(np.int32)
    self.corruption, self.rate = corruption, float(rate)
    self.game = bisection.Bisection(log2_steps)
    self._truth = None

  @classmethod
  def of(cls, seeds, x0, log2_steps: int, seed: int, corruption: str = "one",
         rate: float = 0.1) -> "BisectionTask":
    """A task over given instances (seeds and start values)."""
    task = cls(0, log2_steps, seed, corruption, rate)
    task.seeds, task.x0 = np.asarray(seeds, np.int32), np.asarray(x0, np.int32)
    return task

  @property
  def steps(self) -> int:
    return self.game.steps

  def __len__(self):
    return len(self.x0)

  def traces(self, ids) -> np.ndarray:
    """uint8 [len(ids), T + 1]: the true computations."""
    ids = np.asarray(ids)
    return np.asarray(computation.true_traces(self.seeds[ids], self.x0[ids],
                                              jnp.zeros(self.steps)))

  def truth(self, ids):
    if self._truth is None:  # T steps per instance, once
      self._truth = np.concatenate([self.traces(c)[:, -1] for c in
                                    np.array_split(np.arange(len(self)), max(1, len(self) // 256))
                                    ]).astype(np.int32)
    return self._truth[np.asarray(ids)]

  def corruption_mask(self, example_id: int, claim: int) -> np.ndarray:
    rng = np.random.default_rng([self.seed, int(example_id), int(claim)])
    return computation.corruption_masks(rng, 1, self.steps, self.corruption, self.rate)[0]

  def lies(self, ids, rng: np.random.Generator) -> np.ndarray:
    """A uniformly random wrong claim per instance."""
    truth = self.truth(ids)
    return ((truth + rng.integers(1, computation.M, len(truth))) % computation.M).astype(np.int32)

  def examples(self, key: task_base.GameKey) -> bisection.Example:
    ids = np.asarray(key.example_id)
    claims = np.asarray(key.claims_2, np.int32)
    truth = self.truth(ids)
    true = self.traces(ids)
    out = np.repeat(true[:, None], 2, 1)
    for s in range(2):
      wrong = np.flatnonzero(claims[:, s] != truth)
      if len(wrong):
        mask = np.stack([self.corruption_mask(ids[i], claims[i, s]) for i in wrong])
        out[wrong, s] = np.asarray(computation.lying_traces(
            self.seeds[ids[wrong]], self.x0[ids[wrong]], jnp.asarray(mask), claims[wrong, s]))
    return bisection.Example(self.seeds[ids], self.x0[ids], out, claims,
                             np.asarray(key.first, np.int32), np.asarray(key.truth_seat, np.int32))

  def inputs(self, ids):
    ids = np.asarray(ids)
    return {"seed": self.seeds[ids], "x0": self.x0[ids]}
