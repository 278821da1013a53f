"""A protocol is how a game is played, as data: the turn schedule, how claims are assigned, the
verdict rule and margin, and how the games played on one example combine into its verdict.

Claims (precommit, Irving et al. 2018 section 3.1):
- `precommit=False`: seat 1 claims nothing (`NO_CLAIM`) and wins unless the judge's argmax over
  all labels is seat 0's claim.
- `precommit=True`: both seats commit to a label before the game; the label with the higher
  judge logit wins (ties go to seat 1).
How the false claim is chosen (`lies`), and how an example's games combine:
- `best_lie`: one game per example; the lie is the wrong label the judge already favours most on
  random k-pixel masks (a cheap stand-in for searching over lies).
- `all_lies`: the paper's protocol: every wrong label is played, each with `seeds` seeds; a lie's
  outcome is the mean of the judge's margin over its seeds, and the liar wins the example if any
  lie wins on that mean.
- `all_lies_strict`: every lie, and the truth must win every game of a seed (each seed scored
  on its own).
Seats are symmetric: the engine reads claims by seat; the task builder decides which seat holds
the truth (`truth_seat`), which only the metrics read.
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from debate.config import ConfigError

NO_CLAIM = -1
LIAR_PROTOCOLS = ("best_lie", "all_lies", "all_lies_strict")


@dataclasses.dataclass(frozen=True)
class Protocol:
  precommit: bool = True
  first: int = 0                 # the seat that moves first; turns alternate
  lies: str = "best_lie"         # how false claims are chosen (see the module doc)
  seeds: int = 1                 # games per (example, claim pair)

  def __post_init__(self):
    if self.lies not in LIAR_PROTOCOLS:
      raise ConfigError(f"liar_protocol={self.lies!r}; allowed: {list(LIAR_PROTOCOLS)}")

  def seat_to_move(self, turn):
    return (self.first + turn) % 2

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

  @property
  def games_per_example(self) -> int:
    return 9 if self.precommit and self.lies.startswith("all_lies") else 1


def best_lies(judge_apply, judge_params, images_f32, labels, k: int, rng, masks: int = 16,
              batch: int = 500) -> np.ndarray:
  """For each image, the wrong label with the highest mean judge probability over random masks."""
  from judges import mnist_judge as judge_lib

  @jax.jit
  def mean_probs(params, rng, image_BxHxW):
    def one(r):
      mask = judge_lib.sample_masks(r, image_BxHxW, k)
      return jax.nn.softmax(judge_apply(params, mask, image_BxHxW))
    return jax.lax.map(one, jax.random.split(rng, masks)).mean(0)

  out = []
  for start in range(0, len(labels), batch):
    p = np.array(mean_probs(judge_params, jax.random.fold_in(rng, start),
                            images_f32[start:start + batch]))
    p[np.arange(len(p)), labels[start:start + batch]] = -1.0
    out.append(p.argmax(-1))
  return np.concatenate(out).astype(np.int32)


def expand(images, labels, ids, protocol: Protocol, judge_apply=None, judge_params=None, k=None,
           rng=None):
  """Games to play for each image: (images, labels, lie claims, image_ids) arrays; the truth is
  the other claim."""
  if not protocol.precommit:
    return images, labels, np.full(len(labels), NO_CLAIM, np.int32), ids
  if protocol.lies == "best_lie":
    return images, labels, best_lies(judge_apply, judge_params, images, labels, k, rng), ids
  lies = np.stack([[c for c in range(10) if c != y] for y in labels])  # [N, 9]
  rep = lambda x: np.repeat(x, 9, axis=0)
  return rep(images), rep(labels), lies.reshape(-1).astype(np.int32), rep(ids)


def per_image_honest_wins(protocol: Protocol, wins_SxG: np.ndarray, margins_SxG: np.ndarray,
                          game_image_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """(image ids, honest wins [outcomes, images]) from every game of every seed (honest's
  verdicts and margins). `all_lies`: one outcome per image (each lie's margin averaged over
  seeds, and every lie must lose on its mean); otherwise one outcome per seed (honest must win
  every game of the image in it)."""
  wins_SxG = np.atleast_2d(np.asarray(wins_SxG, bool))
  if protocol.precommit and protocol.lies == "all_lies":
    wins_SxG = np.atleast_2d(np.asarray(margins_SxG, np.float32)).mean(0, keepdims=True) > 0
  ids, inverse = np.unique(game_image_ids, return_inverse=True)
  wins = np.ones((len(wins_SxG), len(ids)), bool)
  for s, w in enumerate(wins_SxG):
    np.logical_and.at(wins[s], inverse, w)
  return ids, wins
