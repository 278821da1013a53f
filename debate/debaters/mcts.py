"""Monte Carlo tree search debaters with mctx (PUCT, uniform prior over legal reveals).

The tree's actions are candidate slots. Value at a leaf: the judge's verdict (+1/-1) at a terminal
state, reached by a uniformly random completion of the remaining reveals (at most one judge call
per simulation). Two-player zero-sum backup uses mctx's discount of -1 between plies. Illegal
slots get a prior of zero and are never selected. The move played is the most visited child.

`search` is mctx's search loop (its `Tree`, `simulate` and `expand`) with two changes. Action
selection is mctx's PUCT in one function for every depth (`puct_select`): mctx switches between
its root and interior functions with a `cond`, which under `vmap` computes both. The backward
pass runs as one loop over the whole batch instead of a `vmap`ped `while_loop`: under `vmap`, a
`while_loop` selects between old and new carry for every game on every step, and here the carry
is the whole tree ([batch, simulations + 1, actions] arrays), so mctx's own `search` costs
O(simulations) per simulation (on the Table 2 runs, evaluations/s halved from 100 to 300
simulations). The trees are identical (tests/test_debate.py checks this against
`mctx.search`). Simulations stop at the end of the game (`max_depth` = reveals left),
so no simulation is spent below a terminal state, and a simulation that ends on a terminal state
already in the tree takes its verdict from the tree instead of judging it again (the games that
still need the judge are gathered and judged together). When the judge has an exact incremental
form (`judges/incremental.py`), every leaf is judged from the root's cached activations and,
computed once per search, each legal pixel's change to them when revealed alone: a leaf adds
its new pixels' changes and recomputes only the few cells where two of them interact, instead
of running a whole forward pass (or conv2's window for every new pixel).
"""
from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import mctx
# mctx's building blocks (pinned: mctx==0.0.71 in requirements.txt).
from mctx._src import search as mctx_search

from debate.debaters.base import Ctx, for_player
from debate.games import mnist_pixels as g

_ILLEGAL = -1e9


def _prior(game, state):
  return jnp.where(jax.vmap(g.legal)(game, state), 0.0, _ILLEGAL)


def backward(tree: mctx.Tree, leaf_index: jax.Array) -> mctx.Tree:
  """mctx's backward pass for a batch of trees, as one loop over the batch (see module doc)."""
  batch = jnp.arange(leaf_index.shape[0])
  root = mctx.Tree.ROOT_INDEX

  def body(carry):
    tree, value, index = carry
    active = index != root
    parent = jnp.where(active, tree.parents[batch, index], root)
    action = jnp.where(active, tree.action_from_parent[batch, index], 0)
    count = tree.node_visits[batch, parent]
    value = jnp.where(active, tree.children_rewards[batch, parent, action] +
                      tree.children_discounts[batch, parent, action] * value, value)

    def put(x, new, *idx):
      return x.at[(batch, *idx)].set(jnp.where(active, new, x[(batch, *idx)]))

    tree = tree.replace(
        node_values=put(tree.node_values,
                        (tree.node_values[batch, parent] * count + value) / (count + 1.0), parent),
        node_visits=put(tree.node_visits, count + 1, parent),
        children_values=put(tree.children_values, tree.node_values[batch, index], parent, action),
        children_visits=put(tree.children_visits,
                            tree.children_visits[batch, parent, action] + 1, parent, action))
    return tree, value, jnp.where(active, parent, index)

  leaf_index = leaf_index.astype(jnp.int32)
  carry = (tree, tree.node_values[batch, leaf_index], leaf_index)
  tree, _, _ = jax.lax.while_loop(lambda c: jnp.any(c[2] != root), body, carry)
  return tree


def puct_select(rng_key, tree: mctx.Tree, node_index, depth, *, c_puct: float) -> jax.Array:
  """PUCT for one (unbatched) tree with a uniform prior over legal actions: the action that
  `mctx.muzero_action_selection` selects (pb_c_base = 1e12, so pb_c = c_puct in float32; Q 0
  for unvisited children), with the same random tie-break. One function for every depth (mctx
  switches root and interior functions with a `cond`, which under `vmap` runs both), and the
  uniform prior without a softmax."""
  del depth  # The root's illegal actions have prior logit -inf, so the same mask covers them.
  visits = tree.children_visits[node_index]
  legal = tree.children_prior_logits[node_index] > _ILLEGAL / 2
  prior = legal / jnp.maximum(legal.sum(), 1)
  q = jnp.where(visits > 0, tree.qvalues(node_index), 0.0)
  explore = jnp.sqrt(tree.node_visits[node_index].astype(jnp.float32)) * c_puct * prior
  score = q + explore / (visits + 1) + 1e-7 * jax.random.uniform(rng_key, visits.shape)
  return jnp.argmax(jnp.where(legal, score, -jnp.inf)).astype(jnp.int32)


def search(params, rng_key, *, root: mctx.RootFnOutput, recurrent_fn, num_simulations: int,
           max_depth, invalid_actions, c_puct: float, split=jax.random.split) -> mctx.Tree:
  """`mctx.muzero_policy`'s search without Dirichlet noise, with `puct_select` and the batched
  backward pass; `split(key, batch)`: a key per game (`Ctx.split` under `shard_map`)."""
  select = functools.partial(puct_select, c_puct=c_puct)
  batch_size = root.value.shape[0]
  batch = jnp.arange(batch_size)
  root = root.replace(prior_logits=jnp.where(invalid_actions, -jnp.inf, root.prior_logits))

  def body(sim, carry):
    rng_key, tree = carry
    rng_key, simulate_key, expand_key = jax.random.split(rng_key, 3)
    parent, action = mctx_search.simulate(split(simulate_key, batch_size), tree,
                                          select, max_depth)
    node = tree.children_index[batch, parent, action]
    seen = node != mctx.Tree.UNVISITED
    node = jnp.where(seen, node, sim + 1)
    # With max_depth = reveals left, a node reached again is a terminal state judged before:
    # its reward is in the tree, so the recurrent function need not judge it again.
    sim_params = params._replace(seen_B=seen,
                                 seen_reward_B=tree.children_rewards[batch, parent, action])
    tree = mctx_search.expand(sim_params, expand_key, tree, recurrent_fn, parent, action, node)
    return rng_key, backward(tree, node)

  tree = mctx_search.instantiate_tree_from_root(root, num_simulations,
                                                root_invalid_actions=invalid_actions,
                                                extra_data=None)
  _, tree = jax.lax.fori_loop(0, num_simulations, body, (rng_key, tree))
  return tree


class Root(NamedTuple):
  """What every leaf of one search shares: the games, and the root's reveals and judge cache;
  and, per simulation, which games reached a terminal state judged before, with its reward."""
  game: g.Game
  revealed_P: Any = None
  cache: Any = None      # judges.incremental.Cache per game, if the judge has an incremental form
  prepared: Any = None
  deltas: Any = None     # judges.incremental.Deltas per game: each legal pixel revealed alone
  seen_B: Any = None
  seen_reward_B: Any = None


# From this many simulations per move, leaves are built from each legal pixel's change computed
# once per search (`Incremental.deltas`) rather than by conv2's window for every new pixel of
# every leaf. Whole games on this CPU: 14% faster at 200 simulations, 11% slower at 100
# (docs/BENCHMARKS.md, `--parts leaf_paths`).
DELTAS_FROM_SIMULATIONS = 200


def make_root(ctx: Ctx, game: g.Game, state: g.State, deltas: bool = True) -> Root:
  inc = ctx.incremental
  if inc is None:
    return Root(game)
  prepared = inc.prepare(ctx.judge_params)
  mask = jax.vmap(g.mask_HxW)(game, state.revealed_P)
  cache = jax.vmap(inc.start, in_axes=(None, 0, 0))(prepared, mask, game.image_HxW)
  if not deltas:
    return Root(game, state.revealed_P, cache, prepared)
  per_pixel = inc.deltas(prepared, cache, game.cand_P, jax.vmap(g.legal)(game, state))
  return Root(game, state.revealed_P, cache, prepared, per_pixel)


def leaf_value(ctx: Ctx, root: Root, revealed_BxP: jax.Array, left, need_B: jax.Array,
               buckets: int = 4) -> jax.Array:
  """The honest side's verdict (+1/-1) on `revealed_BxP` where `need_B` (0 elsewhere), which
  extends the root's reveals by at most `left` pixels: from the root's cache and each new
  pixel's precomputed change (`Incremental.leaf_z2`). Only the games that need it are judged,
  in one call: gathered to the front, rounded up to a multiple of 1 / `buckets` of the batch
  (one static size per bucket, chosen by a `switch`); the whole batch without gathering."""
  n_games = need_B.shape[0]
  step = -(-n_games // buckets)
  sizes = sorted({min(step * (i + 1), n_games) for i in range(buckets)})
  count = need_B.sum()
  order = jnp.argsort(~need_B, stable=True)  # Games to judge first.

  def first(size: int):
    def fn():
      if size == n_games:  # Everyone, without gathering.
        return jnp.where(need_B, _judge(ctx, root, revealed_BxP, left), 0.0)
      rows = order[:size]
      value = _judge(ctx, root, revealed_BxP[rows], left, rows)
      keep = jnp.arange(size) < count
      return jnp.zeros(n_games, jnp.float32).at[jnp.where(keep, rows, n_games)].set(
          value, mode="drop")
    return fn

  def nobody():
    return jnp.zeros(n_games, jnp.float32)

  bucket = jnp.searchsorted(jnp.asarray([0] + sizes), count, side="left")
  return jax.lax.switch(bucket, [nobody] + [first(m) for m in sizes])


def _judge(ctx: Ctx, root: Root, revealed_BxP: jax.Array, left,
           rows_B: jax.Array | None = None) -> jax.Array:
  """Verdicts on `revealed_BxP`, leaf b a state of game `rows_B[b]` (default: game b)."""
  game = root.game if rows_B is None else jax.tree.map(lambda x: x[rows_B], root.game)
  if rows_B is None:
    rows_B = jnp.arange(revealed_BxP.shape[0])
  if root.cache is None:
    return ctx.honest_value(game, revealed_BxP)
  inc = ctx.incremental
  new_BxP = revealed_BxP & ~root.revealed_P[rows_B]
  count_B = new_BxP.sum(-1)

  def judge(n):  # With exactly n pixel slots (static), as many as there are reveals left.
    def fn():
      _, slots_BxN = jax.lax.top_k(new_BxP.astype(jnp.float32), n)  # New slots first.
      pixels_BxN = jnp.take_along_axis(game.cand_P, slots_BxN, axis=1)
      active_BxN = jnp.arange(n) < count_B[:, None]
      if root.deltas is None:  # conv2's window for every new pixel.
        cache = jax.tree.map(lambda x: x[rows_B], root.cache)
        cache = jax.vmap(inc.extend, in_axes=(None, 0, 0, 0))(root.prepared, cache, pixels_BxN,
                                                               active_BxN)
        return jax.vmap(inc.logits, in_axes=(None, 0))(root.prepared, cache)
      z2 = inc.leaf_z2(root.prepared, root.cache, root.deltas, rows_B, slots_BxN, pixels_BxN,
                       active_BxN)
      return jax.vmap(inc.logits_of_z2, in_axes=(None, 0))(root.prepared, z2)
    return fn

  branches = [judge(n) for n in range(1, ctx.k + 1)]
  logits = jax.lax.switch(jnp.clip(left - 1, 0, ctx.k - 1), branches)
  return ctx.value_of_logits(game, logits)


def rollout_value(rng, ctx: Ctx, game: g.Game, state: g.State) -> jax.Array:
  """Value for the player to move: the verdict after a random completion (one judge call)."""
  rngs = ctx.split(rng, game.label.shape[0])
  final = jax.vmap(g.random_completion, in_axes=(0, 0, 0, None))(rngs, game, state, ctx.k)
  return for_player(ctx.honest_value(game, final), jax.vmap(g.to_move)(game, state))


def _recurrent_fn(ctx: Ctx, left, judge_buckets: int = 4):

  def recurrent_fn(root: Root, rng, action, state):
    game = root.game
    mover = jax.vmap(g.to_move)(game, state)
    done_before = state.num_moves >= ctx.k
    new = jax.vmap(g.apply_move)(state, action)
    terminal = new.num_moves >= ctx.k
    rngs = ctx.split(rng, action.shape[0])
    final = jax.vmap(g.random_completion, in_axes=(0, 0, 0, None))(rngs, game, new, ctx.k)
    seen, seen_reward = root.seen_B, root.seen_reward_B
    if seen is None:  # Called outside `search`: nothing was judged before.
      seen, seen_reward = jnp.zeros_like(terminal), jnp.zeros(terminal.shape)
    v_honest = leaf_value(ctx, root, jnp.where(terminal[:, None], new.revealed_P, final), left,
                          ~seen, judge_buckets)
    reward = jnp.where(terminal & ~done_before, for_player(v_honest, mover), 0.0)
    reward = jnp.where(seen, seen_reward, reward)
    value = jnp.where(terminal, 0.0, for_player(v_honest, jax.vmap(g.to_move)(game, new)))
    discount = jnp.where(terminal, 0.0, -1.0)
    out = mctx.RecurrentFnOutput(reward=reward, discount=discount,
                                 prior_logits=_prior(game, new), value=value)
    return out, new

  return recurrent_fn


def search_tree(rng, ctx: Ctx, game: g.Game, state: g.State, num_simulations: int,
                c_puct: float = 1.0, judge_buckets: int = 4,
                pixel_deltas: bool | None = None) -> mctx.Tree:
  """The search tree of one move for every game of the batch (all at the same move);
  `judge_buckets`: `leaf_value`'s batch sizes; `pixel_deltas`: leaves from per-pixel changes
  computed once per search (default: from `DELTAS_FROM_SIMULATIONS`). Neither changes the
  tree, only its cost."""
  if pixel_deltas is None:
    pixel_deltas = num_simulations >= DELTAS_FROM_SIMULATIONS
  root_rng, search_rng = jax.random.split(rng)
  legal = jax.vmap(g.legal)(game, state)
  root = mctx.RootFnOutput(prior_logits=_prior(game, state),
                           value=rollout_value(root_rng, ctx, game, state), embedding=state)
  # Reveals left (the same for every game of the batch): simulations stop at the game's end.
  left = ctx.k - jnp.max(state.num_moves)
  return search(make_root(ctx, game, state, pixel_deltas), search_rng, root=root,
                recurrent_fn=_recurrent_fn(ctx, left, judge_buckets),
                num_simulations=num_simulations, max_depth=left, invalid_actions=~legal,
                c_puct=c_puct, split=ctx.split)


def judged_leaves(tree: mctx.Tree) -> jax.Array:
  """Per game, how many simulations judged a state: each node other than the root was judged
  once, when it was created; a simulation that ended on an existing node judged nothing."""
  return (tree.node_visits[:, 1:] > 0).sum(-1)


def make_mcts(num_simulations: int, c_puct: float = 1.0):

  def mcts(rng, ctx: Ctx, game: g.Game, state: g.State) -> jax.Array:
    search_rng, tie_rng = jax.random.split(rng)
    legal = jax.vmap(g.legal)(game, state)
    summary = search_tree(search_rng, ctx, game, state, num_simulations, c_puct).summary()
    tie = ctx.random(functools.partial(jax.random.uniform, maxval=1e-6), tie_rng,
                     summary.visit_counts.shape)
    # Most visited; ties broken by value, then at random.
    score = summary.visit_counts + 1e-3 * jnp.tanh(summary.qvalues) + tie
    return jnp.argmax(jnp.where(legal, score, -jnp.inf), axis=-1)

  return mcts
