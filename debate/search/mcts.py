"""mctx's search loop (its `Tree`, `simulate` and `expand`), batched for debate games.

Two changes from `mctx.muzero_policy`'s search. Action selection is PUCT in one function for
every depth (`puct_select`): mctx switches between its root and interior functions with a `cond`,
which under `vmap` computes both. The backward pass runs as one loop over the whole batch instead
of a `vmap`ped `while_loop`: under `vmap`, a `while_loop` selects between old and new carry for
every game on every step, and here the carry is the whole tree ([batch, simulations + 1, actions]
arrays), so mctx's own `search` costs O(simulations) per simulation. With a uniform prior the trees
are identical to `mctx.search` with mctx's PUCT (tests/test_debate.py checks this). A node reached
again by a simulation that ends at the game's end is a terminal state judged before: its reward is
in the tree, and the recurrent function is told (`seen_B`) so it need not judge it again.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import mctx
# mctx's building blocks (pinned: mctx==0.0.71 in requirements.txt).
from mctx._src import search as mctx_search

ILLEGAL = -1e9


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


def puct_select(rng_key, tree: mctx.Tree, node_index, depth, *, c_puct: float,
                uniform: bool = True) -> jax.Array:
  """PUCT for one (unbatched) tree: the action `mctx.muzero_action_selection` selects
  (pb_c_base = 1e12, so pb_c = c_puct in float32; Q 0 for unvisited children), with the same
  random tie-break. `uniform`: the prior is uniform over legal actions (no softmax needed);
  otherwise the softmax of the node's prior logits."""
  del depth  # The root's illegal actions have prior logit -inf, so the same mask covers them.
  visits = tree.children_visits[node_index]
  logits = tree.children_prior_logits[node_index]
  legal = logits > ILLEGAL / 2
  if uniform:
    prior = legal / jnp.maximum(legal.sum(), 1)
  else:
    prior = jax.nn.softmax(jnp.where(legal, logits, -jnp.inf))
  q = jnp.where(visits > 0, tree.qvalues(node_index), 0.0)
  explore = jnp.sqrt(tree.node_visits[node_index].astype(jnp.float32)) * c_puct * prior
  score = q + explore / (visits + 1) + 1e-7 * jax.random.uniform(rng_key, visits.shape)
  return jnp.argmax(jnp.where(legal, score, -jnp.inf)).astype(jnp.int32)


def search(params, rng_key, *, root: mctx.RootFnOutput, recurrent_fn, num_simulations: int,
           max_depth, invalid_actions, c_puct: float, split=jax.random.split,
           uniform_prior: bool = True) -> mctx.Tree:
  """`mctx.muzero_policy`'s search without Dirichlet noise, with `puct_select` and the batched
  backward pass; `split(key, batch)`: a key per game (`Env.split` under `shard_map`).
  `params` is a NamedTuple with fields `seen_B` and `seen_reward_B`, set per simulation."""
  select = functools.partial(puct_select, c_puct=c_puct, uniform=uniform_prior)
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
    sim_params = params._replace(seen_B=seen,
                                 seen_reward_B=tree.children_rewards[batch, parent, action])
    tree = mctx_search.expand(sim_params, expand_key, tree, recurrent_fn, parent, action, node)
    return rng_key, backward(tree, node)

  tree = mctx_search.instantiate_tree_from_root(root, num_simulations,
                                                root_invalid_actions=invalid_actions,
                                                extra_data=None)
  _, tree = jax.lax.fori_loop(0, num_simulations, body, (rng_key, tree))
  return tree


def judged_leaves(tree: mctx.Tree) -> jax.Array:
  """Per game, how many simulations judged a state: each node other than the root was judged
  once, when it was created; a simulation that ended on an existing node judged nothing."""
  return (tree.node_visits[:, 1:] > 0).sum(-1)
