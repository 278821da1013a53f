"""What every debater sees: the judge, the rules, a batch of games and their current states."""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from debate.games import mnist_pixels as g

JudgeApply = Callable[[Any, jax.Array, jax.Array], jax.Array]  # (params, mask_BxHxW, image_BxHxW)


class Ctx(NamedTuple):
  judge_apply: JudgeApply
  judge_params: Any
  k: int
  precommit: bool
  # Inside `shard_map` over the games: the mesh axes the batch is split over. Random draws per
  # game then take this shard's rows of the whole batch's draw, so a game's moves do not depend
  # on how the batch is sharded.
  batch_axes: tuple[str, ...] = ()

  def _shard(self) -> tuple[jax.Array | int, int]:
    """(this shard's index, number of shards) over `batch_axes`; (0, 1) when unsharded."""
    index, count = 0, 1
    for axis in self.batch_axes:
      index = index * jax.lax.axis_size(axis) + jax.lax.axis_index(axis)
      count *= jax.lax.axis_size(axis)
    return index, count

  def split(self, rng: jax.Array, n_games: int) -> jax.Array:
    """One key per game of this shard: rows of `jax.random.split(rng, all games)`."""
    return self.random(jax.random.split, rng, (n_games,))

  def random(self, draw, rng: jax.Array, shape_BxN: tuple[int, ...]) -> jax.Array:
    """`draw(rng, shape)` (a `jax.random` sampler) for this shard's games: its rows of the
    draw for the whole batch."""
    index, count = self._shard()
    out = draw(rng, (shape_BxN[0] * count, *shape_BxN[1:]))
    return out if count == 1 else jax.lax.dynamic_slice_in_dim(out, index * shape_BxN[0],
                                                               shape_BxN[0])

  def logits(self, game_B: g.Game, revealed_BxP: jax.Array) -> jax.Array:
    mask = jax.vmap(g.mask_HxW)(game_B, revealed_BxP)
    return self.judge_apply(self.judge_params, mask, game_B.image_HxW)

  @property
  def incremental(self):
    """The judge's exact incremental evaluator (`judges/incremental.py`), if it has one."""
    return getattr(self.judge_apply, "incremental", None)

  def honest_value(self, game_B: g.Game, revealed_BxP: jax.Array) -> jax.Array:
    """+1 where honest wins on these revealed pixels, -1 where the liar wins."""
    return self.value_of_logits(game_B, self.logits(game_B, revealed_BxP))

  def value_of_logits(self, game_B: g.Game, logits: jax.Array) -> jax.Array:
    wins = jax.vmap(g.honest_wins, in_axes=(0, 0, None))(logits, game_B, self.precommit)
    return jnp.where(wins, 1.0, -1.0)


def for_player(value_honest: jax.Array, player: jax.Array) -> jax.Array:
  return jnp.where(player == g.HONEST, value_honest, -value_honest)


# A debater: (rng, ctx, game_B, state_B) -> slot_B
Debater = Callable[[jax.Array, Ctx, g.Game, g.State], jax.Array]
