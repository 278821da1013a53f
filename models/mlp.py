"""A policy-value MLP over a game's feature vector: a logit per action and a value in [-1, 1]
(the learned debaters of small games, such as recursive bisection)."""
from __future__ import annotations

import jax.numpy as jnp
from flax import nnx


class PolicyValueMLP(nnx.Module):

  def __init__(self, features: int, actions: int, hidden: int = 64, *, rngs: nnx.Rngs):
    self.h1 = nnx.Linear(features, hidden, rngs=rngs)
    self.h2 = nnx.Linear(hidden, hidden, rngs=rngs)
    self.policy = nnx.Linear(hidden, actions, rngs=rngs)
    self.value = nnx.Linear(hidden, 1, rngs=rngs)

  def __call__(self, x_BxF):
    h = nnx.relu(self.h2(nnx.relu(self.h1(x_BxF))))
    return self.policy(h), jnp.tanh(self.value(h)[:, 0])
