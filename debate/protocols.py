"""A protocol is how a game is played, as data: the turn schedule, how claims are assigned, the
verdict rule and margin, and how the games played on one example combine into its verdict.

Claims (precommit, Irving et al. 2018 section 3.1):
- `precommit=False`: seat 1 claims nothing (`NO_CLAIM`) and wins unless the judge's argmax over
  all claims is seat 0's claim.
- `precommit=True`: both seats commit to a claim before the game; the claim with the higher
  judge logit wins (ties go to seat 1).
How the false claim is chosen (`lies`), and how an example's games combine:
- `best_lie`: one game per example; the lie is the wrong claim the judge already favours most
  without debate (`Task.judge_probs`: a cheap stand-in for searching over lies).
- `paper`: Irving et al. 2018's rule. Every wrong claim is played, each with `seeds` seeds; in
  each seed the honest side wins the example only if it wins all of its games ("the liar wins if
  any liar wins"); an example's score is the mean over seeds, a rate the mean over examples.
- `all_lies_mean_margin`: every wrong claim, `seeds` seeds each; a lie's outcome is the mean of
  the judge's margin over its seeds, and the liar wins the example if any lie wins on that mean
  (a lie that wins 2 of its 3 games may count as beaten: softer than the paper's rule).
Seats are symmetric: the engine reads claims by seat; the task builder decides which seat holds
the truth (`truth_seat`), which only the metrics read.
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from debate.config import ConfigError
from debate.tasks import base as task_base
from debate.tasks.base import GameKey, NO_CLAIM  # noqa: F401 (re-exported)

LIAR_PROTOCOLS = ("best_lie", "paper", "all_lies_mean_margin")
_RENAMED = {"all_lies": "all_lies_mean_margin", "all_lies_strict": "paper"}


@dataclasses.dataclass(frozen=True)
class Protocol:
  precommit: bool = True
  first: int = 0                 # the seat that moves first (the game then says whose turn it is)
  lies: str = "best_lie"         # how false claims are chosen (see the module doc)
  seeds: int = 1                 # games per (example, claim pair)

  def __post_init__(self):
    if self.lies not in LIAR_PROTOCOLS:
      renamed = (f" ({self.lies!r} is now {_RENAMED[self.lies]!r})" if self.lies in _RENAMED
                 else "")
      raise ConfigError(f"liar_protocol={self.lies!r}; allowed: {list(LIAR_PROTOCOLS)}{renamed}")

  def seat0_wins(self, logits_C: jax.Array, claims_2: jax.Array) -> jax.Array:
    """The verdict on one game: does seat 0 win?"""
    if self.precommit:
      return logits_C[claims_2[0]] > logits_C[claims_2[1]]
    return jnp.argmax(logits_C) == claims_2[0]

  def seat0_margin(self, logits_C: jax.Array, claims_2: jax.Array) -> jax.Array:
    """How far the judge leans to seat 0 (positive) or seat 1 (negative)."""
    if self.precommit:
      return logits_C[claims_2[0]] - logits_C[claims_2[1]]
    others = jnp.where(jnp.arange(logits_C.shape[0]) == claims_2[0], -jnp.inf, logits_C)
    return logits_C[claims_2[0]] - others.max()

  def seat_value(self, logits_C, claims_2, seat) -> jax.Array:
    """+1 if `seat` wins on these logits, -1 if it loses."""
    v = jnp.where(self.seat0_wins(logits_C, claims_2), 1.0, -1.0)
    return jnp.where(seat == 0, v, -v)


def lies_for(task, ids, protocol: Protocol, judge_apply=None, judge_params=None,
             rng=None) -> GameKey:
  """The games to play for examples `ids` of `task`, the truth in seat 0, seat `protocol.first`
  moving first: one against no claim (no precommit), one against the strongest lie (the wrong
  claim the judge believes most without debate, `best_lie`), or one against each wrong claim
  (`paper`, `all_lies_mean_margin`: `task.num_claims - 1` games per example, in example order)."""
  ids = np.asarray(ids, np.int32)
  truth = task.truth(ids)
  if not protocol.precommit:
    return task_base.keys(ids, truth, np.full(len(ids), NO_CLAIM), protocol.first)
  if protocol.lies == "best_lie":
    probs = task.judge_probs(judge_apply, judge_params, ids, rng)
    return task_base.keys(ids, truth, task_base.best_wrong(probs, truth), protocol.first)
  lies = task_base.wrong_claims(truth, task.num_claims)
  rep = lambda x: np.repeat(x, lies.shape[1], axis=0)
  return task_base.keys(rep(ids), rep(truth), lies.reshape(-1), protocol.first)


def per_example_honest_wins(protocol: Protocol, wins_SxG: np.ndarray, margins_SxG: np.ndarray,
                            game_example_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """(example ids, honest wins [outcomes, examples]) from every game of every seed (honest's
  verdicts and margins). `all_lies_mean_margin`: one outcome per example (each lie's margin
  averaged over seeds, and every lie must lose on its mean); otherwise one outcome per seed
  (honest must win every game of the example in it: the paper's rule)."""
  wins_SxG = np.atleast_2d(np.asarray(wins_SxG, bool))
  if protocol.precommit and protocol.lies == "all_lies_mean_margin":
    wins_SxG = np.atleast_2d(np.asarray(margins_SxG, np.float32)).mean(0, keepdims=True) > 0
  ids, inverse = np.unique(game_example_ids, return_inverse=True)
  wins = np.ones((len(wins_SxG), len(ids)), bool)
  for s, w in enumerate(wins_SxG):
    np.logical_and.at(wins[s], inverse, w)
  return ids, wins


def rate_over_examples(wins_OxE: np.ndarray) -> tuple[float, tuple[float, float]]:
  """An honest win rate and its 95% interval over examples from `per_example_honest_wins`'
  outcomes: each example scores the mean of its outcomes (seeds), the rate is their mean, and the
  Wilson interval counts examples, not seeds x examples (a mean of seeds varies no more than one
  0/1 outcome with the same mean, so the interval is, if anything, wide)."""
  from debate import metrics as metrics_lib
  per_example = np.atleast_2d(np.asarray(wins_OxE, np.float64)).mean(0)
  return float(per_example.mean()), metrics_lib.wilson_ci(per_example.sum(), per_example.size)
