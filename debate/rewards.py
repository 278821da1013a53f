"""Debate verdicts as rewards, and the distilled reward model R(image, label).

`debate_verdicts` is the one primitive every use of debate calls: precommit MNIST debates between
two claimed labels per image, both sides searched by the same debater, judged by the sparse judge.
The claimed label `a` wins when the judge's logit for `a` beats the logit for `b`.

For a policy's answer `a`, the opponent argues for the strongest alternative: the debaters see the
whole image (and so the truth), so the alternative is the true label when `a` is wrong and the
judge's favourite wrong label when `a` is right (`strongest_alternative`). The learner never sees a
label: only the verdict.

The distilled reward model scores every label of an image in one forward pass:
`RewardModel(image) -> logits_Bx10`, `sigmoid(logits[a])` = P(a wins the debate).
Use it from another project with `load_reward_model(workdir)` (see `ScoredRewardModel.score`).
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from debate import io, protocols, rollout
from debate.config import ConfigError
from debate.debaters import make_debater
from debate.games import mnist_pixels as g


@dataclasses.dataclass
class DebateSettings:
  k: int = 6
  debater: str = "mcts"
  sims: int = 16
  batch_size: int = 256


def strongest_alternative(labels, answers, best_lie) -> np.ndarray:
  """The opponent's claim against `answers`: the truth if the answer is wrong, else the best lie."""
  labels, answers = np.asarray(labels), np.asarray(answers)
  return np.where(answers == labels, np.asarray(best_lie), labels).astype(np.int32)


def debate_verdicts(judge_apply, judge_params, images_f32, claim_a, claim_b, settings:
                    DebateSettings, mesh=None, seed: int = 0) -> dict[str, np.ndarray]:
  """Plays one precommit debate per row: `a` (moving first) against `b` (who has the last word).

  Returns `a_wins` (bool), the judge's final `margin` (logit a - logit b) and the number of
  judge calls spent per game.
  """
  images_f32 = np.asarray(images_f32, np.float32)
  claim_a, claim_b = np.asarray(claim_a, np.int32), np.asarray(claim_b, np.int32)
  if (claim_a == claim_b).any():
    raise ValueError("each debate needs two different claims")
  slots = g.slots_for(images_f32)
  # Claim a sits in seat 0 and moves first, claim b in seat 1; the precommit verdict reads only
  # the two claims, so which one is true does not matter here.
  examples = g.make_examples(images_f32, claim_a, claim_b, 0, slots)
  player, d = debate_player(judge_apply, settings, slots, mesh)
  ndata = 1 if mesh is None else mesh.shape["data"]
  out = rollout.run_batched(player, jax.random.PRNGKey(seed), judge_params, examples,
                            settings.batch_size, multiple=ndata)
  calls = settings.k * (d.judge_calls(slots) + 1)
  return {"a_wins": out["seat0_wins_B"], "margin": out["seat0_margin_B"], "judge_calls": calls}


def debate_player(judge_apply, settings: DebateSettings, slots: int, mesh=None):
  """(jitted player, debater): precommit games, seat 0 (claim a) first, both seats the same
  debater; the player takes `(rng, judge_params, seat_params, examples)`."""
  game = g.MnistPixels(settings.k, slots)
  protocol = protocols.Protocol(precommit=True, first=0)
  d = make_debater(settings.debater, game, protocol, judge_apply, sims=settings.sims)
  return rollout.make_player(mesh, game=game, protocol=protocol, debaters=(d, d),
                             judge_apply=judge_apply), d


def verdict_table(judge_apply, judge_params, images_f32, labels, settings: DebateSettings,
                  mesh=None, seed: int = 0, rng=None) -> dict[str, np.ndarray]:
  """Debate verdict for every (image, label): V[i, a] = 1 if claim a wins against the strongest
  alternative. Nine games per image (each wrong label against the truth); the truth's own entry
  is its game against the best lie, which is one of the nine."""
  n = len(labels)
  labels = np.asarray(labels, np.int32)
  rng = jax.random.PRNGKey(seed) if rng is None else rng
  best = protocols.best_lies(judge_apply, judge_params, images_f32, labels, settings.k, rng)
  lies = np.stack([[c for c in range(10) if c != y] for y in labels]).reshape(-1)
  rep_images = np.repeat(images_f32, 9, axis=0)
  rep_labels = np.repeat(labels, 9)
  res = debate_verdicts(judge_apply, judge_params, rep_images, lies, rep_labels, settings, mesh,
                        seed)
  lie_wins = res["a_wins"].reshape(n, 9)
  table = np.zeros((n, 10), bool)
  table[np.arange(n)[:, None], lies.reshape(n, 9)] = lie_wins
  # The truth wins unless its strongest opponent, the best lie, won.
  best_pos = np.array([[c for c in range(10) if c != y].index(b) for y, b in zip(labels, best)])
  table[np.arange(n), labels] = ~lie_wins[np.arange(n), best_pos]
  return {"table_Nx10": table, "best_lie": best, "judge_calls_per_game": res["judge_calls"],
          "games": 9 * n}


class SmallCNN(nnx.Module):
  """conv-relu-pool x2, dense-relu, 10 logits, on the full 28x28 image."""

  def __init__(self, width: int, dense: int, kernel: int, *, rngs: nnx.Rngs):
    k = (kernel, kernel)
    self.conv1 = nnx.Conv(1, width, k, padding="SAME", rngs=rngs)
    self.conv2 = nnx.Conv(width, 2 * width, k, padding="SAME", rngs=rngs)
    self.dense = nnx.Linear(7 * 7 * 2 * width, dense, rngs=rngs)
    self.out = nnx.Linear(dense, 10, rngs=rngs)

  def __call__(self, image_BxHxW: jax.Array) -> jax.Array:
    h = image_BxHxW.astype(jnp.float32)[..., None]
    h = nnx.max_pool(nnx.relu(self.conv1(h)), (2, 2), (2, 2))
    h = nnx.max_pool(nnx.relu(self.conv2(h)), (2, 2), (2, 2))
    return self.out(nnx.relu(self.dense(h.reshape(h.shape[0], -1))))


class RewardModel(SmallCNN):
  """R(image): 10 logits, one per claimed label, of P(that claim wins the debate)."""

  def __init__(self, width: int = 32, dense: int = 256, *, rngs: nnx.Rngs):
    super().__init__(width, dense, 3, rngs=rngs)


def reward_model_flops(width: int = 32, dense: int = 256) -> int:
  conv1 = 28 * 28 * 9 * width
  conv2 = 14 * 14 * 9 * width * 2 * width
  fc = 7 * 7 * 2 * width * dense + dense * 10
  return 2 * (conv1 + conv2 + fc)


class PolicyNet(SmallCNN):
  """The RL policy (and the untrusted classifiers): full image to 10 label logits."""

  def __init__(self, width: int = 16, dense: int = 128, *, rngs: nnx.Rngs):
    super().__init__(width, dense, 5, rngs=rngs)


# Save and load ------------------------------------------------------------------------------------

@dataclasses.dataclass
class ScoredRewardModel:
  """A trained reward model: `score(images, labels)` -> P(label wins the debate), one pass."""
  params: Any
  meta: dict

  def __post_init__(self):
    from debate.train.trainer import functionalize
    width, dense = self.meta["width"], self.meta["dense"]
    functional = functionalize(lambda r: RewardModel(width, dense, rngs=r))
    self._logits = jax.jit(lambda p, x: functional.module(p)(x))

  def logits(self, images_BxHxW) -> jax.Array:
    """images: float in [0, 1] (or uint8, scaled here), shape [B, 28, 28]."""
    x = jnp.asarray(images_BxHxW)
    if x.dtype == jnp.uint8:
      x = x.astype(jnp.float32) / 255.0
    return self._logits(self.params, x)

  def score(self, images_BxHxW, labels_B) -> np.ndarray:
    labels = jnp.asarray(labels_B, jnp.int32)
    logits = self.logits(images_BxHxW)
    return np.asarray(jax.nn.sigmoid(jnp.take_along_axis(logits, labels[:, None], 1)[:, 0]))


def save_reward_model(workdir: str, params, meta: dict) -> None:
  import orbax.checkpoint as ocp
  path = os.path.abspath(os.path.join(workdir, "reward_model"))
  ckptr = ocp.StandardCheckpointer()
  ckptr.save(os.path.join(path, "params"), jax.device_get(params), force=True)
  ckptr.wait_until_finished()
  io.atomic_write_json(os.path.join(path, "reward_model.json"), meta)


def load_reward_model(workdir: str) -> ScoredRewardModel:
  """Loads the reward model saved by `configs/distill_reward.py` in `workdir`."""
  import orbax.checkpoint as ocp
  path = os.path.abspath(os.path.join(workdir, "reward_model"))
  meta_path = os.path.join(path, "reward_model.json")
  if not os.path.exists(meta_path):
    raise ConfigError(f"{workdir!r} holds no reward model ({meta_path} is missing); allowed: the "
                      "workdir of a finished configs/distill_reward.py run")
  params = ocp.StandardCheckpointer().restore(os.path.join(path, "params"))
  return ScoredRewardModel(jax.tree.map(jnp.asarray, params), io.read_json(meta_path))
