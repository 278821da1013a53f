"""Monte Carlo tree search debaters (`debate/search`): mctx's tree and PUCT, a uniform or learned
prior, leaves valued by a random completion and the judge, the judge on the partial view, or a
learned value. The move played is the most visited child (ties by value, then at random). The
action weights are the root's visit shares with the uniform prior, and with a learned prior the
prior improved by the search's Q-values (Gumbel MuZero's policy target, `improved_policy`)."""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import mctx

from debate.debaters.base import Debater, DebaterOutput, Env
from debate.search import evaluators


def make_mcts(game, protocol, judge_apply, num_simulations: int, c_puct: float = 1.0, *,
              evaluator: str = "rollout", prior: str = "uniform", guide=None,
              name: str = "mcts", sample: bool = False) -> Debater:
  """`sample`: play a move drawn from the visit shares (self-play's exploration) instead of the
  most visited one."""

  def apply(params, rng, obs, legal_BxA, *, batch_axes=()):
    env = Env(game, protocol, judge_apply, params["judge"], tuple(batch_axes))
    search_rng, tie_rng = jax.random.split(rng)
    tree = evaluators.search_tree(search_rng, env, obs.example, obs.state, num_simulations,
                                  c_puct, evaluator=evaluator, prior=prior, guide=guide,
                                  net_params=params.get("net"))
    summary = tree.summary()
    tie = env.random(functools.partial(jax.random.uniform, maxval=1e-6), tie_rng,
                     summary.visit_counts.shape)
    # Most visited; ties broken by value, then at random.
    score = summary.visit_counts + 1e-3 * jnp.tanh(summary.qvalues) + tie
    visits = jnp.where(legal_BxA, summary.visit_counts, 0).astype(jnp.float32)
    if prior == "uniform":
      weights = visits / jnp.maximum(visits.sum(-1, keepdims=True), 1.0)
    else:
      weights = improved_policy(tree, legal_BxA)
    if sample:
      gumbel = env.random(jax.random.gumbel, jax.random.fold_in(tie_rng, 1), visits.shape)
      score = jnp.log(jnp.maximum(weights, 1e-30)) + gumbel
    action = jnp.argmax(jnp.where(legal_BxA, score, -jnp.inf), axis=-1).astype(jnp.int32)
    return DebaterOutput(action, weights, summary.value)

  leaf = (lambda a: 1) if evaluator == "net" else (lambda a: num_simulations + 1)
  if getattr(guide, "wants_hints", False):  # Move hints at the root and every expanded node.
    calls = lambda a: leaf(a) + (num_simulations + 1) * a
  else:
    calls = leaf
  return Debater(name, apply, judge_calls=calls)


def improved_policy(tree, legal_BxA) -> jax.Array:
  """The root's prior improved by the search (Danihelka et al. 2022, Gumbel MuZero): softmax of
  the prior logits plus the completed, scaled Q-values (unvisited children get the mixed value).
  With few simulations the visit shares mostly repeat the prior; this target moves toward the
  moves the search found good, which is what the network should learn."""
  root = jnp.zeros((), jnp.int32)
  q = jax.vmap(mctx.qtransform_completed_by_mix_value, in_axes=(0, None))(tree, root)
  logits = tree.children_prior_logits[:, 0]
  return jax.nn.softmax(jnp.where(legal_BxA, logits + q, -jnp.inf), axis=-1)
