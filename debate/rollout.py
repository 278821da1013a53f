"""A batch of debates: two debaters and a judge -> transcripts and verdicts, in one jit.

The batch of games is sharded over the mesh's data axis and each shard plays its own games
(`shard_map`: games never talk to each other); moves are a `lax.scan`, and the debater to move is
a `lax.cond` on the (batch-wide) first mover, so each debater is traced once.
"""
from __future__ import annotations

import functools
import logging
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from debate.debaters.base import Ctx, Debater, JudgeApply
from debate.games import mnist_pixels as g


def play(rng: jax.Array, judge_params: Any, games: g.Game, *, judge_apply: JudgeApply,
         honest: Debater, liar: Debater, k: int, precommit: bool, first: int,
         batch_axes: tuple[str, ...] = ()) -> dict:
  """Plays a batch of games; inside `shard_map`, `batch_axes` names the axes it is split over."""
  ctx = Ctx(judge_apply, judge_params, k, precommit, tuple(batch_axes))
  state0 = jax.vmap(g.initial_state)(games)

  def move(state, t):
    rng_t = jax.random.fold_in(rng, t)
    honest_to_move = (first + t) % 2 == g.HONEST
    slot = jax.lax.cond(honest_to_move, lambda: honest(rng_t, ctx, games, state),
                        lambda: liar(rng_t, ctx, games, state))
    state = jax.vmap(g.apply_move)(state, slot)
    logits = ctx.logits(games, state.revealed_P)
    pixel = jnp.take_along_axis(games.cand_P, slot[:, None], axis=1)[:, 0]
    return state, (slot, pixel, logits)

  final, (slots, pixels, logits) = jax.lax.scan(move, state0, jnp.arange(k))
  logits_BxKx10 = jnp.moveaxis(logits, 0, 1)
  wins = jax.vmap(g.honest_wins, in_axes=(0, 0, None))(logits_BxKx10[:, -1], games, precommit)
  margin = jax.vmap(g.margin, in_axes=(0, 0, None))(logits_BxKx10[:, -1], games, precommit)
  return {"slots_BxK": slots.T, "pixels_BxK": pixels.T, "logits_BxKx10": logits_BxKx10,
          "honest_wins_B": wins, "margin_B": margin,
          "mask_BxHxW": jax.vmap(g.mask_HxW)(games, final.revealed_P)}


def make_player(mesh: Mesh | None, *, judge_apply, honest, liar, k, precommit, first,
                batch_axes=("data",)):
  """A jitted `(rng, judge_params, games) -> transcript`, games sharded over `batch_axes`.

  Games are independent, so each shard plays its own games with no communication
  (`shard_map`): every device runs its own searches, and on a CPU every core its own games.
  Per-game random draws are the whole batch's rows (`Ctx.split`), so the moves and verdicts
  equal a single-device run's. The batch must divide by the shards' count."""
  kw = dict(judge_apply=judge_apply, honest=honest, liar=liar, k=k, precommit=precommit,
            first=first)
  if mesh is None:
    return jax.jit(functools.partial(play, **kw))
  axes = tuple(batch_axes)
  fn = jax.shard_map(functools.partial(play, **kw, batch_axes=axes), mesh=mesh,
                     in_specs=(P(), P(), P(axes)), out_specs=P(axes), check_vma=False)
  data = NamedSharding(mesh, P(axes))
  rep = NamedSharding(mesh, P())
  return jax.jit(fn, in_shardings=(rep, rep, data), out_shardings=data)


def players_of(k: int, first: int) -> list[int]:
  return [(first + t) % 2 for t in range(k)]


def run_batched(player, rng, judge_params, games: g.Game, batch_size: int,
                multiple: int = 1) -> dict[str, np.ndarray]:
  """Plays all games in chunks of `batch_size` (padded to a multiple of the device count)."""
  n = len(games.label)
  out: dict[str, list] = {}
  bs = max(multiple, -(-min(batch_size, n) // multiple) * multiple)
  chunks = -(-n // bs)
  t0 = time.time()
  for i, start in enumerate(range(0, n, bs)):
    chunk = jax.tree.map(lambda x: x[start:start + bs], games)
    m = len(chunk.label)
    if m < bs:  # Pad with copies of the last game; results for them are dropped.
      chunk = jax.tree.map(lambda x: np.concatenate([x, np.repeat(x[-1:], bs - m, 0)]), chunk)
    res = jax.device_get(player(jax.random.fold_in(rng, i), judge_params, chunk))
    for key, v in res.items():
      out.setdefault(key, []).append(np.asarray(v)[:m])
    if chunks > 1:
      done = start + m
      rate = done / max(time.time() - t0, 1e-9)
      logging.info("games %d/%d  %.1f games/s  ETA %.0f s", done, n, rate, (n - done) / rate)
  return {key: np.concatenate(v) for key, v in out.items()}
