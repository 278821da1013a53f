"""Monte Carlo tree search debaters with mctx (PUCT, uniform prior over legal reveals).

The tree's actions are candidate slots. Value at a leaf: the judge's verdict (+1/-1) at a terminal
state, reached by a uniformly random completion of the remaining reveals (one judge call per
simulation). Two-player zero-sum backup uses mctx's discount of -1 between plies. Illegal slots get
a prior of zero and are never selected (the root through `invalid_actions`, inner nodes through a
masked Q transform). The move played is the most visited child.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import mctx

from debate.debaters.base import Ctx, for_player
from debate.games import mnist_pixels as g

_ILLEGAL = -1e9


def _puct_qtransform(tree, node_index):
  """AlphaZero's PUCT Q: the mean value in [-1, 1], 0 for unvisited children, illegal masked."""
  q = jnp.where(tree.children_visits[node_index] > 0, tree.qvalues(node_index), 0.0)
  return jnp.where(tree.children_prior_logits[node_index] > _ILLEGAL / 2, q, _ILLEGAL)


def _prior(game, state):
  return jnp.where(jax.vmap(g.legal)(game, state), 0.0, _ILLEGAL)


def rollout_value(rng, ctx: Ctx, game: g.Game, state: g.State) -> jax.Array:
  """Value for the player to move: the verdict after a random completion (one judge call)."""
  rngs = jax.random.split(rng, game.label.shape[0])
  final = jax.vmap(g.random_completion, in_axes=(0, 0, 0, None))(rngs, game, state, ctx.k)
  return for_player(ctx.honest_value(game, final), jax.vmap(g.to_move)(game, state))


def _recurrent_fn(ctx: Ctx):

  def recurrent_fn(game, rng, action, state):
    mover = jax.vmap(g.to_move)(game, state)
    done_before = state.num_moves >= ctx.k
    new = jax.vmap(g.apply_move)(state, action)
    terminal = new.num_moves >= ctx.k
    rngs = jax.random.split(rng, action.shape[0])
    final = jax.vmap(g.random_completion, in_axes=(0, 0, 0, None))(rngs, game, new, ctx.k)
    v_honest = ctx.honest_value(game, jnp.where(terminal[:, None], new.revealed_P, final))
    reward = jnp.where(terminal & ~done_before, for_player(v_honest, mover), 0.0)
    value = jnp.where(terminal, 0.0, for_player(v_honest, jax.vmap(g.to_move)(game, new)))
    discount = jnp.where(terminal, 0.0, -1.0)
    out = mctx.RecurrentFnOutput(reward=reward, discount=discount,
                                 prior_logits=_prior(game, new), value=value)
    return out, new

  return recurrent_fn


def make_mcts(num_simulations: int, c_puct: float = 1.0):

  def mcts(rng, ctx: Ctx, game: g.Game, state: g.State) -> jax.Array:
    root_rng, search_rng, tie_rng = jax.random.split(rng, 3)
    legal = jax.vmap(g.legal)(game, state)
    root = mctx.RootFnOutput(prior_logits=_prior(game, state),
                             value=rollout_value(root_rng, ctx, game, state), embedding=state)
    out = mctx.muzero_policy(
        game, search_rng, root, _recurrent_fn(ctx), num_simulations,
        invalid_actions=~legal, qtransform=_puct_qtransform, dirichlet_fraction=0.0,
        pb_c_init=c_puct, pb_c_base=1e12, temperature=1.0)
    visits = out.search_tree.summary().visit_counts
    q = out.search_tree.summary().qvalues
    tie = jax.random.uniform(tie_rng, visits.shape, maxval=1e-6)
    score = visits + 1e-3 * jnp.tanh(q) + tie  # Most visited; ties broken by value, then at random.
    return jnp.argmax(jnp.where(legal, score, -jnp.inf), axis=-1)

  return mcts
