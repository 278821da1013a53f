"""REINFORCE on labels sampled by a policy, rewarded by debate or by its alternatives."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from debate import rewards
from debate.config import ConfigError
from debate.train import trainer
from judges import mnist_judge as judge_lib

SOURCES = ("truth", "debate", "judge", "distilled")


def make_rl_loss(source: str, judge_apply, reward_model_apply, k: int, entropy: float):
  """REINFORCE with the batch-mean baseline and an entropy bonus."""

  def reward_of(batch, actions, rng, aux):
    if source == "truth":
      return (actions == batch["label"]).astype(jnp.float32)
    if source == "random":  # A control: a reward that carries no information.
      return jax.random.bernoulli(rng, 0.5, actions.shape).astype(jnp.float32)
    if source == "debate":
      return jnp.take_along_axis(batch["table"], actions[:, None], 1)[:, 0].astype(jnp.float32)
    image = batch["image"].astype(jnp.float32) / 255.0
    if source == "judge":
      mask = judge_lib.sample_masks(rng, image, k)
      return (judge_apply(aux, mask, image).argmax(-1) == actions).astype(jnp.float32)
    if source == "distilled":
      logits = reward_model_apply(aux, image)
      return (jnp.take_along_axis(logits, actions[:, None], 1)[:, 0] > 0).astype(jnp.float32)
    raise ConfigError(f"reward source {source!r}; allowed: {list(SOURCES)}")

  def loss_fn(model, batch, rng, aux):
    act_rng, rew_rng = jax.random.split(rng)
    logits = model(batch["image"].astype(jnp.float32) / 255.0)
    logp = jax.nn.log_softmax(logits)
    actions = jax.random.categorical(act_rng, logits)
    reward = jax.lax.stop_gradient(reward_of(batch, actions, rew_rng, aux))
    advantage = reward - reward.mean()
    chosen = jnp.take_along_axis(logp, actions[:, None], 1)[:, 0]
    ent = -(jnp.exp(logp) * logp).sum(-1).mean()
    loss = -(advantage * chosen).mean() - entropy * ent
    return loss, {"reward": reward.mean(), "entropy": ent}

  return loss_fn


def policy_accuracy_fn(test_u8, test_labels):
  functional = trainer.functionalize(lambda r: rewards.PolicyNet(rngs=r))
  f = jax.jit(lambda p, x: functional.module(p)(x.astype(jnp.float32) / 255.0).argmax(-1))
  x = jnp.asarray(test_u8)

  def acc(params, step):
    return {"accuracy": float((np.asarray(f(params, x)) == test_labels).mean())}
  return acc
