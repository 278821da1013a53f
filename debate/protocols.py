"""How the liar's claim is chosen, and how games per image combine into one verdict.

- `none`: no precommit; the liar claims nothing and wins if the judge's argmax is any wrong label.
- `all_lies`: the paper's precommit protocol: 9 games per image, one per possible lie; the liar
  wins the image if any lie wins.
- `best_lie`: one game per image; the liar commits to the wrong label the judge already favours
  most on random k-pixel masks (a cheap stand-in for searching over lies).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from debate.config import ConfigError
from debate.games import mnist_pixels as g
from judges import mnist_judge as judge_lib

LIAR_PROTOCOLS = ("best_lie", "all_lies")


def best_lies(judge_apply, judge_params, images_f32, labels, k: int, rng, masks: int = 16,
              batch: int = 500) -> np.ndarray:
  """For each image, the wrong label with the highest mean judge probability over random masks."""

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


def expand(images, labels, ids, protocol: str, precommit: bool, judge_apply=None,
           judge_params=None, k=None, rng=None):
  """Games to play for each image: returns (images, labels, liar_claims, image_ids) arrays."""
  if not precommit:
    return images, labels, np.full(len(labels), g.NO_CLAIM, np.int32), ids
  if protocol == "best_lie":
    return images, labels, best_lies(judge_apply, judge_params, images, labels, k, rng), ids
  if protocol == "all_lies":
    lies = np.stack([[c for c in range(10) if c != y] for y in labels])  # [N, 9]
    rep = lambda x: np.repeat(x, 9, axis=0)
    return rep(images), rep(labels), lies.reshape(-1).astype(np.int32), rep(ids)
  raise ConfigError(f"liar_protocol={protocol!r}; allowed: {list(LIAR_PROTOCOLS)}")


def per_image_honest_wins(game_wins: np.ndarray, game_image_ids: np.ndarray) -> tuple[np.ndarray,
                                                                                      np.ndarray]:
  """Honest wins an image only if it wins every game played on it (the liar needs one lie)."""
  ids, inverse = np.unique(game_image_ids, return_inverse=True)
  wins = np.ones(len(ids), bool)
  np.logical_and.at(wins, inverse, game_wins.astype(bool))
  return ids, wins
