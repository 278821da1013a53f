"""The learner's losses for the policy-value network, on replay positions.

AlphaZero: cross-entropy of the policy against the search's visit shares, plus the squared error
of the value against the verdict. Policy gradient (the baseline): the played move's log-probability
weighted by the verdict minus the value (an actor-critic advantage), plus the same value loss.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from debate.games import mnist_pixels as g
from models import policy_value as pv

ALGORITHMS = ("alphazero", "policy_gradient")


def make_loss(algorithm: str, value_weight: float = 1.0):

  def loss_fn(net, batch, rng, aux):
    del rng, aux
    obs = g.Observation(g.Example(**batch["example"]), g.State(**batch["state"]), batch["seat"])
    logits, value = pv.evaluate(net, obs)
    legal = jnp.isfinite(logits)
    logp = jax.nn.log_softmax(jnp.where(legal, logits, -1e30), axis=-1)
    logp = jnp.where(legal, logp, 0.0)
    target = batch["policy"]
    value_loss = jnp.mean((value - batch["value"]) ** 2)
    if algorithm == "alphazero":
      policy_loss = -jnp.mean(jnp.sum(target * logp, -1))
    else:  # The played move (weight 1 in `policy`), weighted by the advantage.
      advantage = jax.lax.stop_gradient(batch["value"] - value)
      policy_loss = -jnp.mean(advantage * jnp.sum(target * logp, -1))
    p = jnp.exp(logp) * legal
    entropy = -jnp.mean(jnp.sum(p * logp, -1))
    loss = policy_loss + value_weight * value_loss
    return loss, {"policy_loss": policy_loss, "value_loss": value_loss, "entropy": entropy,
                  "illegal_mass": jnp.mean(jnp.sum(jax.nn.softmax(logits, -1) * ~legal, -1))}

  return loss_fn
