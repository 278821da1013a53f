"""What self-play trains, and the learner's losses on replay positions.

A game's learned debaters come from a `Network` that the game (or its experiment) supplies: a
flax module, how it scores an observation's moves and value, and the search's `guide` built from
it. The learner trains whatever network it is handed; it never reads an observation itself.

AlphaZero: cross-entropy of the policy against the search's visit shares, plus the squared error
of the value against the verdict. Policy gradient (the baseline): the played move's log-probability
weighted by the verdict minus the value (an actor-critic advantage), plus the same value loss.
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from debate.games.base import Observation

ALGORITHMS = ("alphazero", "policy_gradient")

# (module, observations) -> (move logits_BxA with -inf on illegal moves, value_B in [-1, 1] for
# the observer).
Evaluate = Callable[[Any, Observation], tuple[jax.Array, jax.Array]]


class Network(NamedTuple):
  """A learned debater's network, supplied by the game."""
  init: Callable[[Any], Any]   # nnx.Rngs -> the module
  evaluate: Evaluate
  guide: Callable              # (net_params, example_B, state_B[, env]) -> (logits, value)
  hints: bool = False          # reads `Observation.hints` (greedy's response to every move)


def make_network(init, evaluate: Evaluate, current_seat, hints: bool = False) -> Network:
  """The network and its guide: `evaluate` from the seat to move (`current_seat(example,
  state)`, the game's `Game.current_seat`). With `hints`, the guide also takes the search's
  `Env` and computes `move_hints` for the position (`guide.wants_hints`)."""
  from debate.train.trainer import functionalize
  functional = functionalize(init)

  def guide(net_params, example_B, state_B, env=None):
    seat = jax.vmap(current_seat)(example_B, state_B)
    extra = None
    if hints:
      from debate.debaters.simple import move_hints
      if env is None:
        raise ValueError("this network reads move hints: its guide needs the search's Env")
      extra = move_hints(env, example_B, state_B)
    return evaluate(functional.module(net_params), Observation(example_B, state_B, seat, extra))

  guide.functional = functional
  guide.wants_hints = hints
  return Network(init, evaluate, guide, hints)


def make_loss(algorithm: str, evaluate: Evaluate, value_weight: float = 1.0):

  def loss_fn(net, batch, rng, aux):
    del rng, aux
    obs = Observation(batch["example"], batch["state"], batch["seat"], batch.get("hints"))
    logits, value = evaluate(net, obs)
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
