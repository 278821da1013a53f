"""The debater interface, and `Env`: what a debater that consults the judge plays against.

A debater is `apply(params, rng, observation, legal_BxA, *, batch_axes=()) -> DebaterOutput`
over a batch of games. `params` holds what it learned (`params["net"]`) and, for debaters that
search or score moves with the judge, the judge's parameters (`params["judge"]`); the rollout
passes each seat's parameters into the jitted game. `batch_axes` names the mesh axes the batch is
split over inside `shard_map`: per-game random draws then take this shard's rows of the whole
batch's draw, so a game's moves do not depend on how the batch is sharded.
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from debate.games.base import Game
from debate.protocols import Protocol

JudgeApply = Callable[..., jax.Array]  # (params, *judge_view_B) -> logits_BxC


class DebaterOutput(NamedTuple):
  action_B: jax.Array      # int32, always a legal action
  weights_BxA: jax.Array   # float32, a distribution over legal actions (search: visit shares)
  value_B: jax.Array       # float32 in [-1, 1], the mover's expected outcome


class Debater(NamedTuple):
  name: str
  apply: Callable[..., DebaterOutput]
  # Moves do not depend on the random key: another seed replays the same games.
  deterministic: bool = False
  # Judge calls one move may make (search: at most), for the cost tables.
  judge_calls: Callable[[int], int] = lambda num_actions: 0


class Env(NamedTuple):
  """The game, the protocol and the judge, for debaters that look ahead with the judge."""
  game: Game
  protocol: Protocol
  judge_apply: JudgeApply
  judge_params: Any
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

  def logits(self, example_B, state_B) -> jax.Array:
    view = jax.vmap(self.game.judge_view)(example_B, state_B)
    return self.judge_apply(self.judge_params, *view)

  def claims(self, example_B, state_B) -> jax.Array:
    return jax.vmap(self.game.claims)(example_B, state_B)

  def seat0_value_of_logits(self, example_B, state_B, logits_BxC) -> jax.Array:
    """+1 where seat 0 wins on these logits (the judge's, at `state_B`), -1 where seat 1 wins."""
    claims = self.claims(example_B, state_B)
    wins = jax.vmap(self.protocol.seat0_wins)(logits_BxC, claims)
    return jnp.where(wins, 1.0, -1.0)

  def seat0_value(self, example_B, state_B) -> jax.Array:
    return self.seat0_value_of_logits(example_B, state_B, self.logits(example_B, state_B))

  def seat0_margin(self, example_B, state_B, logits_BxC) -> jax.Array:
    claims = self.claims(example_B, state_B)
    return jax.vmap(self.protocol.seat0_margin)(logits_BxC, claims)

  def legal(self, example_B, state_B) -> jax.Array:
    return jax.vmap(self.game.legal_mask)(example_B, state_B)

  def seat(self, example_B, state_B) -> jax.Array:
    return jax.vmap(self.game.current_seat)(example_B, state_B)

  def step(self, example_B, state_B, action_B):
    return jax.vmap(self.game.step)(example_B, state_B, action_B)


def for_seat(seat0_value: jax.Array, seat: jax.Array) -> jax.Array:
  return jnp.where(seat == 0, seat0_value, -seat0_value)


def one_hot_output(action_B: jax.Array, num_actions: int, value_B=None) -> DebaterOutput:
  action_B = action_B.astype(jnp.int32)
  value_B = jnp.zeros(action_B.shape, jnp.float32) if value_B is None else value_B
  return DebaterOutput(action_B, jax.nn.one_hot(action_B, num_actions), value_B)


def call_guide(guide, net_params, example_B, state_B, env):
  """A guide's (logits, value), handing it the Env when it asks for move hints."""
  if getattr(guide, "wants_hints", False):
    return guide(net_params, example_B, state_B, env)
  return guide(net_params, example_B, state_B)
