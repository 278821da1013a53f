"""The random and greedy debaters."""
from __future__ import annotations

import jax
import jax.numpy as jnp

from debate.debaters.base import Ctx
from debate.games import mnist_pixels as g


def random_debater(rng, ctx: Ctx, game: g.Game, state: g.State) -> jax.Array:
  legal = jax.vmap(g.legal)(game, state)
  scores = jnp.where(legal, ctx.random(jax.random.gumbel, rng, legal.shape), -jnp.inf)
  return jnp.argmax(scores, axis=-1)


def make_greedy(chunk: int = 32):
  """Scores every legal reveal with the judge and takes the best for its own side.

  The B x P candidate positions are judged in chunks of `chunk` slots (one batched call of B*chunk
  each) so memory stays bounded; padding and revealed slots are scored -inf.
  """

  def greedy(rng, ctx: Ctx, game: g.Game, state: g.State) -> jax.Array:
    del rng
    B, P = game.cand_P.shape
    legal = jax.vmap(g.legal)(game, state)
    mover = jax.vmap(g.to_move)(game, state)
    pad = (-P) % chunk
    slots = jnp.arange(P + pad).reshape(-1, chunk) % P  # [num_chunks, chunk]

    def score_chunk(chunk_slots):
      # revealed_BxCxP: the current reveals plus one candidate slot each.
      revealed = state.revealed_P[:, None, :] | jax.nn.one_hot(chunk_slots, P, dtype=jnp.bool_)
      flat_game = jax.tree.map(lambda x: jnp.repeat(x, chunk, axis=0), game)
      logits = ctx.logits(flat_game, revealed.reshape(B * chunk, P))
      m = jax.vmap(g.margin, in_axes=(0, 0, None))(logits, flat_game, ctx.precommit)
      return m.reshape(B, chunk)

    margins = jax.lax.map(score_chunk, slots)  # [num_chunks, B, chunk]
    margins = jnp.moveaxis(margins, 0, 1).reshape(B, -1)[:, :P]
    own = jnp.where(mover[:, None] == g.HONEST, margins, -margins)
    return jnp.argmax(jnp.where(legal, own, -jnp.inf), axis=-1)

  return greedy
