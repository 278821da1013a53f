"""The sparse judge's exact incremental form (`judges/incremental.py`) as a leaf judge for tree
search over the MNIST pixel game: every leaf of one search is judged from the root's cached
activations plus the leaf's new pixels, instead of a whole forward pass.

`MnistPixels.leaf_judge(judge_apply)` returns one when the judge has an incremental form; the
search (`debate/search/evaluators.py`) calls `root` once per search and `logits` per batch of
leaves. With `deltas`, each legal pixel's change when revealed alone is computed once per search
and a leaf adds its new pixels' changes, recomputing only the pooled conv1 cells two of them share.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from debate.games import mnist_pixels as g


class RootAux(NamedTuple):
  revealed_P: Any
  cache: Any       # judges.incremental.Cache per game
  prepared: Any
  deltas: Any = None  # judges.incremental.Deltas per game: each legal pixel revealed alone


class MnistLeafJudge:

  def __init__(self, inc, k: int):
    self.inc, self.k = inc, k

  def root(self, judge_params, example_B: g.Example, state_B: g.State,
           deltas: bool = True) -> RootAux:
    inc = self.inc
    prepared = inc.prepare(judge_params)
    mask = jax.vmap(g.mask_HxW)(example_B, state_B.revealed_P)
    cache = jax.vmap(inc.start, in_axes=(None, 0, 0))(prepared, mask, example_B.image_HxW)
    if not deltas:
      return RootAux(state_B.revealed_P, cache, prepared)
    per_pixel = inc.deltas(prepared, cache, example_B.cand_P,
                           jax.vmap(g.legal)(example_B, state_B))
    return RootAux(state_B.revealed_P, cache, prepared, per_pixel)

  def logits(self, aux: RootAux, example_B: g.Example, leaf_B: g.State, rows_B: jax.Array,
             left) -> jax.Array:
    """Judge logits of leaf b, a state of game `rows_B[b]` that extends its root by at most
    `left` reveals (`example_B` holds those games' rows)."""
    inc = self.inc
    new_BxP = leaf_B.revealed_P & ~aux.revealed_P[rows_B]
    count_B = new_BxP.sum(-1)

    def judge(n):  # With exactly n pixel slots (static), as many as there are reveals left.
      def fn():
        _, slots_BxN = jax.lax.top_k(new_BxP.astype(jnp.float32), n)  # New slots first.
        pixels_BxN = jnp.take_along_axis(example_B.cand_P, slots_BxN, axis=1)
        active_BxN = jnp.arange(n) < count_B[:, None]
        if aux.deltas is None:  # conv2's window for every new pixel.
          cache = jax.tree.map(lambda x: x[rows_B], aux.cache)
          cache = jax.vmap(inc.extend, in_axes=(None, 0, 0, 0))(aux.prepared, cache, pixels_BxN,
                                                                 active_BxN)
          return jax.vmap(inc.logits, in_axes=(None, 0))(aux.prepared, cache)
        z2 = inc.leaf_z2(aux.prepared, aux.cache, aux.deltas, rows_B, slots_BxN, pixels_BxN,
                         active_BxN)
        return jax.vmap(inc.logits_of_z2, in_axes=(None, 0))(aux.prepared, z2)
      return fn

    branches = [judge(n) for n in range(1, self.k + 1)]
    return jax.lax.switch(jnp.clip(left - 1, 0, self.k - 1), branches)
