"""REINFORCE on claims sampled by a policy, rewarded by debate or by its alternatives, for any
task: the policy reads the task's `inputs` and gives a logit per claim.

Reward sources (`SOURCES`): `truth` (1 if the sampled claim is the true one: the ceiling),
`debate` (the verdict table's entry), `judge` (1 if the judge alone, `judge_alone(aux, inputs,
rng) -> logits_BxC`, picks the claim), `distilled` (1 if the reward model's logit is positive),
and `random` (a control that carries no information).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from debate.config import ConfigError
from debate.train import trainer

SOURCES = ("truth", "debate", "judge", "distilled")


def make_rl_loss(source: str, judge_alone, reward_model_apply, entropy: float):
  """REINFORCE with the batch-mean baseline and an entropy bonus; `batch["inputs"]` is what the
  policy reads, and `batch["label"]` (truth) or `batch["table"]` (debate) the reward's data."""

  def reward_of(batch, actions, rng, aux):
    if source == "truth":
      return (actions == batch["label"]).astype(jnp.float32)
    if source == "random":  # A control: a reward that carries no information.
      return jax.random.bernoulli(rng, 0.5, actions.shape).astype(jnp.float32)
    if source == "debate":
      return jnp.take_along_axis(batch["table"], actions[:, None], 1)[:, 0].astype(jnp.float32)
    if source == "judge":
      return (judge_alone(aux, batch["inputs"], rng).argmax(-1) == actions).astype(jnp.float32)
    if source == "distilled":
      logits = reward_model_apply(aux, batch["inputs"])
      return (jnp.take_along_axis(logits, actions[:, None], 1)[:, 0] > 0).astype(jnp.float32)
    raise ConfigError(f"reward source {source!r}; allowed: {list(SOURCES)}")

  def loss_fn(model, batch, rng, aux):
    act_rng, rew_rng = jax.random.split(rng)
    logits = model(**batch["inputs"])
    logp = jax.nn.log_softmax(logits)
    actions = jax.random.categorical(act_rng, logits)
    reward = jax.lax.stop_gradient(reward_of(batch, actions, rew_rng, aux))
    advantage = reward - reward.mean()
    chosen = jnp.take_along_axis(logp, actions[:, None], 1)[:, 0]
    ent = -(jnp.exp(logp) * logp).sum(-1).mean()
    loss = -(advantage * chosen).mean() - entropy * ent
    return loss, {"reward": reward.mean(), "entropy": ent}

  return loss_fn


def policy_accuracy_fn(make_policy, test_inputs: dict, test_truth):
  """`(params, step) -> {"accuracy"}`: how often the policy's most likely claim is the truth on
  held-out examples; `make_policy(rngs)` builds the policy module."""
  functional = trainer.functionalize(make_policy)
  f = jax.jit(lambda p, x: functional.module(p)(**x).argmax(-1))
  x = jax.tree.map(jnp.asarray, test_inputs)

  def acc(params, step):
    return {"accuracy": float((np.asarray(f(params, x)) == np.asarray(test_truth)).mean())}
  return acc
