"""A batch of debates: two debaters, a judge and a protocol -> a `Transcript`, in one jit, for any
`debate.games.base.Game`.

The batch of games is sharded over the mesh's data axis and each shard plays its own games
(`shard_map`: games never talk to each other); moves are a `lax.scan`, and the debater to move is
a `lax.cond` on the (batch-wide) seat to move, so each debater is traced once.
"""
from __future__ import annotations

import functools
import logging
import threading
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from debate.debaters.base import Debater, Env
from debate.games.base import Game, Transcript
from debate.protocols import Protocol


def play(rng: jax.Array, judge_params: Any, seat_params: tuple, examples, *, game: Game,
         protocol: Protocol, debaters: tuple[Debater, Debater], judge_apply,
         batch_axes: tuple[str, ...] = ()) -> Transcript:
  """Plays a batch of games; `seat_params[s]` is seat s's debater's learned parameters (or None);
  inside `shard_map`, `batch_axes` names the axes the batch is split over."""
  env = Env(game, protocol, judge_apply, judge_params, tuple(batch_axes))
  state0 = jax.vmap(game.init)(examples)
  params = [{"judge": judge_params, "net": p} for p in seat_params]

  def move(state, t):
    rng_t = jax.random.fold_in(rng, t)
    seat = protocol.seat_to_move(t)
    seat_B = jnp.full(jax.tree.leaves(examples)[0].shape[:1], seat, jnp.int32)
    obs = jax.vmap(game.observe)(examples, state, seat_B)
    legal = env.legal(examples, state)
    out = jax.lax.cond(seat == 0,
                       lambda: debaters[0].apply(params[0], rng_t, obs, legal,
                                                 batch_axes=batch_axes),
                       lambda: debaters[1].apply(params[1], rng_t, obs, legal,
                                                 batch_axes=batch_axes))
    state = env.step(examples, state, out.action_B)
    logits = env.logits(examples, state)
    return state, (out.action_B, seat_B, out.weights_BxA.astype(jnp.float32),
                   out.value_B.astype(jnp.float32), logits)

  _, (actions, seats, policy, value, logits) = jax.lax.scan(move, state0,
                                                            jnp.arange(game.max_turns))
  logits_BxTxC = jnp.moveaxis(logits, 0, 1)
  claims = jax.vmap(game.claims)(examples)
  wins0 = jax.vmap(protocol.seat0_wins)(logits_BxTxC[:, -1], claims)
  margin0 = jax.vmap(protocol.seat0_margin)(logits_BxTxC[:, -1], claims)
  truth0 = jax.vmap(game.truth_seat)(examples) == 0
  return Transcript(actions_BxT=actions.T, seats_BxT=seats.T,
                    policy_BxTxA=jnp.moveaxis(policy, 0, 1), value_BxT=value.T,
                    judge_logits_BxTxC=logits_BxTxC, seat0_wins_B=wins0, seat0_margin_B=margin0,
                    honest_wins_B=wins0 == truth0, margin_B=jnp.where(truth0, margin0, -margin0))


def make_player(mesh: Mesh | None, *, game: Game, protocol: Protocol,
                debaters: tuple[Debater, Debater], judge_apply, batch_axes=("data",)):
  """A jitted `(rng, judge_params, seat_params, examples) -> Transcript`, games sharded over
  `batch_axes`. Games are independent, so each shard plays its own games with no communication
  (`shard_map`): every device runs its own searches, and on a CPU every core its own games.
  Per-game random draws are the whole batch's rows (`Env.split`), so the moves and verdicts
  equal a single-device run's. The batch must divide by the shards' count."""
  kw = dict(game=game, protocol=protocol, debaters=tuple(debaters), judge_apply=judge_apply)
  if mesh is None:
    return jax.jit(functools.partial(play, **kw))
  axes = tuple(batch_axes)
  fn = jax.shard_map(functools.partial(play, **kw, batch_axes=axes), mesh=mesh,
                     in_specs=(P(), P(), P(), P(axes)), out_specs=P(axes), check_vma=False)
  data = NamedSharding(mesh, P(axes))
  rep = NamedSharding(mesh, P())
  return jax.jit(fn, in_shardings=(rep, rep, rep, data), out_shardings=data)


def seats_of(k: int, first: int) -> list[int]:
  return [(first + t) % 2 for t in range(k)]


_COMPILED: dict = {}  # (player, argument shapes) -> (player, its compiled executable)


def _compiled(player, args, label: str):
  """The player compiled for these argument shapes, once per process (as `jax.jit` caches it),
  but ahead of time, so that compiling is timed apart from playing."""
  if not hasattr(player, "lower"):
    return player
  leaves = jax.tree.leaves(args)
  key = (id(player), jax.tree.structure(args),
         tuple((np.shape(x), str(getattr(x, "dtype", type(x))),
                getattr(x, "sharding", None) if isinstance(x, jax.Array) else None)
               for x in leaves))
  if key not in _COMPILED:
    logging.info("%s: compiling the players", label)
    done, t0 = threading.Event(), time.time()

    def heartbeat():  # Compiling is one long call: say it is still going.
      while not done.wait(10.0):
        logging.info("%s: still compiling (%.0f s)", label, time.time() - t0)

    threading.Thread(target=heartbeat, daemon=True).start()
    try:
      _COMPILED[key] = (player, player.lower(*args).compile())  # Holds the player: unique ids.
    finally:
      done.set()
  return _COMPILED[key][1]


def run_batched(player, rng, judge_params, examples, batch_size: int, multiple: int = 1,
                seat_params: tuple = (None, None), log_every_s: float = 10.0,
                stats: dict | None = None, label: str = "games") -> dict[str, np.ndarray]:
  """Plays all games in chunks of `batch_size` (padded to a multiple of the device count);
  returns the `Transcript` fields as numpy arrays. The player is compiled first, apart
  (`stats["compile_seconds"]`), so that `stats["play_seconds"]` and the logged games/s are
  play alone. Progress (games, rate, ETA) is logged every `log_every_s`."""
  n = len(examples.label)
  out: dict[str, list] = {}
  bs = max(multiple, -(-min(batch_size, n) // multiple) * multiple)
  chunks = -(-n // bs)

  def chunk_of(start):
    chunk = jax.tree.map(lambda x: x[start:start + bs], examples)
    m = len(chunk.label)
    if m < bs:  # Pad with copies of the last game; results for them are dropped.
      chunk = jax.tree.map(lambda x: np.concatenate([x, np.repeat(x[-1:], bs - m, 0)]), chunk)
    return chunk, m

  t_compile = time.time()
  compiled = _compiled(player, (rng, judge_params, seat_params, chunk_of(0)[0]), label)
  compile_seconds = time.time() - t_compile
  t0 = last_log = time.time()
  for i, start in enumerate(range(0, n, bs)):
    chunk, m = chunk_of(start)
    res = jax.device_get(compiled(jax.random.fold_in(rng, i), judge_params, seat_params, chunk))
    for key, v in res._asdict().items():
      out.setdefault(key, []).append(np.asarray(v)[:m])
    done = start + m
    if chunks > 1 and (time.time() - last_log > log_every_s or done == n):
      last_log = time.time()
      rate = done / max(time.time() - t0, 1e-9)
      logging.info("%s %d/%d  %.1f games/s  ETA %.0f s", label, done, n, rate, (n - done) / rate)
  if stats is not None:
    stats.update(compile_seconds=compile_seconds, play_seconds=time.time() - t0)
  return {key: np.concatenate(v) for key, v in out.items()}
