"""The task interface: examples with a ground truth, turned into games by the engine.

A task holds N examples, each with `num_claims` possible answers of which one is true (MNIST: ten
digits; a two-option reading question: two). The engine never reads a task's data: it asks for
the true claim of examples (`truth`), builds games from small keys (`examples(GameKey)`: which
example, each seat's claim, who moves first, which seat holds the truth), and asks the task for
the judge's belief without debate (`judge_probs`), from which the strongest lie is chosen.
Protocols (`debate/protocols.py`), self-play, tournaments and the uses of debate
(`debate/verdicts.py`, `rewards.py`, `rl.py`, `distill.py`) are written against this and
`debate.games.base.Game` alone.

For the uses of debate that train a model on the examples (a policy for RL, a distilled reward
model, a classifier), a task also offers `inputs(ids)`: what such a model reads (MNIST: the
image), as a dict of numpy arrays with leading dim N.
"""
from __future__ import annotations

from typing import Any, NamedTuple, Protocol

import jax
import jax.numpy as jnp
import numpy as np

from debate.games.base import Game

NO_CLAIM = -1  # Seat 1's claim when it commits to none (the open protocol).


class GameKey(NamedTuple):
  """What rebuilds a batch of games from a task (leading dim N); small, so that the self-play
  replay buffer stores keys rather than examples."""
  example_id: np.ndarray  # int32, the task's example
  claims_2: np.ndarray    # int32 [N, 2], each seat's claim (seat 1: NO_CLAIM without precommit)
  first: np.ndarray       # int32, the seat that moves first
  truth_seat: np.ndarray  # int32, the seat that claims the truth (read by the metrics only)


class Task(Protocol):
  name: str
  game: Game
  num_claims: int

  def __len__(self) -> int:
    """Number of examples."""

  def truth(self, ids: np.ndarray) -> np.ndarray:
    """int32 [N]: the true claim of each example."""

  def examples(self, key: GameKey) -> Any:
    """The games' examples (a pytree of numpy arrays, leading dim N) for `game`."""

  def sample_keys(self, rng: np.random.Generator, n: int, precommit: bool,
                  first: int) -> GameKey:
    """n games for self-play (`TaskDefaults`: random examples, a random wrong claim)."""

  def judge_probs(self, judge_apply, judge_params, ids: np.ndarray, rng: jax.Array) -> np.ndarray:
    """float [N, num_claims]: the judge's belief in each claim with no debate (on random views
    of the example): what the strongest lie is chosen from."""

  def inputs(self, ids: np.ndarray) -> dict[str, np.ndarray]:
    """What a model trained on the examples reads (a policy, a reward model), leading dim N."""


class TaskDefaults:
  """Defaults a task may inherit: random self-play games, and the judge's belief without debate
  after random play (`random_view_probs`)."""

  def sample_keys(self, rng: np.random.Generator, n: int, precommit: bool,
                  first: int) -> GameKey:
    return sample_keys(self, rng, n, precommit, first)

  def judge_probs(self, judge_apply, judge_params, ids, rng) -> np.ndarray:
    return random_view_probs(self, judge_apply, judge_params, ids, rng)


def keys(ids, truth, lies, first: int, truth_seat: int = 0) -> GameKey:
  """Games of the truth against `lies` (or NO_CLAIM), the truth in `truth_seat`."""
  ids, truth, lies = (np.asarray(x, np.int32) for x in (ids, truth, lies))
  pair = [truth, lies] if truth_seat == 0 else [lies, truth]
  n = len(ids)
  return GameKey(ids, np.stack(pair, 1).astype(np.int32), np.full(n, first, np.int32),
                 np.full(n, truth_seat, np.int32))


def sample_keys(task: Task, rng: np.random.Generator, n: int, precommit: bool,
                first: int) -> GameKey:
  """n games on random examples, with a uniformly random wrong claim in a random seat
  (precommit), or the truth in seat 0 against no claim (the open protocol reads seat 0's)."""
  c = task.num_claims
  ids = rng.integers(0, len(task), n).astype(np.int32)
  truth = task.truth(ids)
  lie = (truth + rng.integers(1, c, n)) % c if precommit else np.full(n, NO_CLAIM)
  seat = (rng.integers(0, 2, n) if precommit else np.zeros(n)).astype(np.int32)
  claims = np.where(seat[:, None] == 0, np.stack([truth, lie], 1), np.stack([lie, truth], 1))
  return GameKey(ids, claims.astype(np.int32), np.full(n, first, np.int32), seat)


def with_truth_in_seat0(key: GameKey) -> GameKey:
  return key._replace(claims_2=np.where(key.truth_seat[:, None] == 0, key.claims_2,
                                        key.claims_2[:, ::-1]),
                      truth_seat=np.zeros_like(key.truth_seat))


def best_wrong(probs_NxC: np.ndarray, truth_N: np.ndarray) -> np.ndarray:
  """The wrong claim the judge believes most, per example."""
  p = np.array(probs_NxC, np.float32)
  p[np.arange(len(p)), np.asarray(truth_N)] = -1.0
  return p.argmax(-1).astype(np.int32)


def wrong_claims(truth_N: np.ndarray, num_claims: int) -> np.ndarray:
  """int32 [N, num_claims - 1]: every wrong claim of each example, in increasing order."""
  truth = np.asarray(truth_N)
  out = np.arange(num_claims)[None, :].repeat(len(truth), 0)
  return out[out != truth[:, None]].reshape(len(truth), num_claims - 1).astype(np.int32)


def random_view_probs(task: Task, judge_apply, judge_params, ids, rng, views: int = 16,
                      batch: int = 256) -> np.ndarray:
  """The judge's mean probability of each claim after a uniformly random game (random legal
  moves from the start, `Game.random_completion`), over `views` draws: a `judge_probs` for any
  game."""
  game = task.game

  @jax.jit
  def mean_probs(params, rng, examples):
    state0 = jax.vmap(game.init)(examples)
    n = jax.tree.leaves(state0)[0].shape[0]

    def one(r):
      final = jax.vmap(game.random_completion)(jax.random.split(r, n), examples, state0)
      view = jax.vmap(game.judge_view)(examples, final)
      return jax.nn.softmax(judge_apply(params, *view))
    return jax.lax.map(one, jax.random.split(rng, views)).mean(0)

  ids = np.asarray(ids, np.int32)
  truth = task.truth(ids)
  out = []
  for start in range(0, len(ids), batch):
    sl = slice(start, start + batch)
    ex = task.examples(keys(ids[sl], truth[sl], truth[sl], 0))
    out.append(np.asarray(mean_probs(judge_params, jax.random.fold_in(rng, start),
                                     jax.tree.map(jnp.asarray, ex))))
  return np.concatenate(out)
