"""REINFORCE on claims sampled by a policy, rewarded by debate or by its alternatives, for any
task: the policy reads the task's `inputs` and gives a logit per claim.

Reward sources (`SOURCES`): `truth` (1 if the sampled claim is the true one: the ceiling),
`debate` (the verdict table's entry), `judge` (1 if the judge alone, `judge_alone(aux, inputs,
rng) -> logits_BxC`, picks the claim), `distilled` (1 if the reward model's logit is positive),
and `random` (a control that carries no information).

The estimator: `samples` claims drawn per example (each with its own reward draw), the mean
reward of the whole batch as the baseline, and an entropy bonus. The bonus matters: with 0.01,
one seed of two of the truth reward stopped at 85.6% with one digit never answered (once no
image of a class samples its label, nothing raises it again); 0.05 trained every seed we tried
past 96% (docs/RESULTS.md, section 3c). A leave-one-out baseline over one example's samples
(RLOO) is worse here: a group whose samples all miss gets no gradient at all.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from debate.config import ConfigError
from debate.train import trainer

SOURCES = ("truth", "debate", "judge", "distilled")


def _repeat(tree, k: int):
  return jax.tree.map(lambda x: jnp.repeat(x, k, axis=0), tree)


def make_rl_loss(source: str, judge_alone, reward_model_apply, entropy: float, samples: int = 1):
  """REINFORCE with the batch-mean baseline and an entropy bonus, `samples` claims per example;
  `batch["inputs"]` is what the policy reads, and `batch["label"]` (truth) or `batch["table"]`
  (debate) the reward's data."""
  if source not in SOURCES + ("random",):
    raise ConfigError(f"reward source {source!r}; allowed: {list(SOURCES)}")
  if samples < 1:
    raise ConfigError(f"samples={samples!r}; allowed: an integer >= 1")

  def reward_of(batch, actions_BxK, rng, aux):
    b, k = actions_BxK.shape
    if source == "truth":
      return (actions_BxK == batch["label"][:, None]).astype(jnp.float32)
    if source == "random":  # A control: a reward that carries no information.
      return jax.random.bernoulli(rng, 0.5, actions_BxK.shape).astype(jnp.float32)
    if source == "debate":
      return jnp.take_along_axis(batch["table"], actions_BxK, 1).astype(jnp.float32)
    if source == "judge":  # A fresh random view of the example for every sample.
      picks = judge_alone(aux, _repeat(batch["inputs"], k), rng).argmax(-1).reshape(b, k)
      return (picks == actions_BxK).astype(jnp.float32)
    logits_BxC = reward_model_apply(aux, batch["inputs"])  # distilled
    return (jnp.take_along_axis(logits_BxC, actions_BxK, 1) > 0).astype(jnp.float32)

  def loss_fn(model, batch, rng, aux):
    act_rng, rew_rng = jax.random.split(rng)
    logits_BxC = model(**batch["inputs"])
    logp_BxC = jax.nn.log_softmax(logits_BxC)
    actions_BxK = jax.random.categorical(act_rng, logits_BxC[:, None, :],
                                         shape=(logits_BxC.shape[0], samples))
    reward_BxK = jax.lax.stop_gradient(reward_of(batch, actions_BxK, rew_rng, aux))
    advantage_BxK = reward_BxK - reward_BxK.mean()
    chosen_BxK = jnp.take_along_axis(logp_BxC, actions_BxK, 1)
    ent = -(jnp.exp(logp_BxC) * logp_BxC).sum(-1).mean()
    loss = -(advantage_BxK * chosen_BxK).mean() - entropy * ent
    return loss, {"reward": reward_BxK.mean(), "entropy": ent}

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
