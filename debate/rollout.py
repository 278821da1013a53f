"""A batch of debates: two debaters, a judge and a protocol -> a `Transcript`, in one jit, for any
`debate.games.base.Game`.

The batch of games is sharded over the mesh's data axis and each shard plays its own games
(`shard_map`: games never talk to each other); turns are a `lax.scan` over `max_turns`, each game
asks its game whose move it is and whether it has ended, and each debater is a `lax.cond` that
runs only when some game waits for it, so each debater is traced once.
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

from debate.debaters.base import Debater, DebaterOutput, Env
from debate.games.base import Game, Transcript
from debate.protocols import Protocol
from debate.train import mesh as mesh_lib
from debate.train import preempt


def play(rng: jax.Array, judge_params: Any, seat_params: tuple, examples, *, game: Game,
         protocol: Protocol, debaters: tuple[Debater, Debater], judge_apply,
         batch_axes: tuple[str, ...] = (), state0=None) -> Transcript:
  """Plays a batch of games (from `state0`, default the start); `seat_params[s]` is seat s's
  debater's learned parameters (or None); inside `shard_map`, `batch_axes` names the axes the
  batch is split over.

  Before every move the game says whose turn it is (`current_seat`, per game) and whether it
  has ended (`terminated`): a debater runs only when some game of the batch waits for its seat
  (one `lax.cond` each, so each debater is traced once; once every game has ended, none runs),
  every game takes its own seat's move, and an ended game keeps its state (its moves read -1).
  The same debater with the same parameters on both seats runs once per turn for the whole
  batch."""
  env = Env(game, protocol, judge_apply, judge_params, tuple(batch_axes))
  state0 = jax.vmap(game.init)(examples) if state0 is None else state0
  params = [{"judge": judge_params, "net": p} for p in seat_params]
  n_games = jax.tree.leaves(examples)[0].shape[0]
  # The same debater with the same parameters in both seats (self-play, a debater against
  # itself): it runs once per turn even when the games' movers differ.
  shared = debaters[0] is debaters[1] and seat_params[0] is seat_params[1]

  def turn(state, t):
    rng_t = jax.random.fold_in(rng, t)
    done_B = jax.vmap(game.terminated)(examples, state)
    seat_B = env.seat(examples, state).astype(jnp.int32)
    legal = env.legal(examples, state)
    if shared:  # One debater for both seats: one call, each game from its mover's seat.
      obs = jax.vmap(game.observe)(examples, state, seat_B)
      out = debaters[0].apply(params[0], rng_t, obs, legal, batch_axes=batch_axes)
      return _advance(state, done_B, seat_B, out)
    outs = []
    for s in (0, 1):
      obs = jax.vmap(game.observe)(examples, state, jnp.full((n_games,), s, jnp.int32))
      run = lambda s=s, obs=obs: _typed(debaters[s].apply(params[s], rng_t, obs, legal,
                                                          batch_axes=batch_axes))
      idle = lambda: DebaterOutput(jnp.zeros((n_games,), jnp.int32),
                                   jnp.zeros(legal.shape, jnp.float32),
                                   jnp.zeros((n_games,), jnp.float32))
      wanted = jnp.any((seat_B == s) & ~done_B)
      if batch_axes:  # Every shard takes the same branch, so collectives inside stay matched.
        wanted = jax.lax.psum(wanted.astype(jnp.int32), batch_axes) > 0
      outs.append(jax.lax.cond(wanted, run, idle))
    pick = lambda a, b: jnp.where((seat_B == 0).reshape((-1,) + (1,) * (a.ndim - 1)), a, b)
    return _advance(state, done_B, seat_B, jax.tree.map(pick, outs[0], outs[1]))

  def _advance(state, done_B, seat_B, out):
    moved = env.step(examples, state, out.action_B)
    state = jax.tree.map(
        lambda old, new: jnp.where(done_B.reshape((-1,) + (1,) * (old.ndim - 1)), old, new),
        state, moved)
    logits = env.logits(examples, state)
    record = (jnp.where(done_B, -1, out.action_B), jnp.where(done_B, -1, seat_B), ~done_B,
              out.weights_BxA.astype(jnp.float32), out.value_B.astype(jnp.float32), logits)
    return state, record

  final, (actions, seats, moved, policy, value, logits) = jax.lax.scan(
      turn, state0, jnp.arange(game.max_turns))
  final_logits = env.logits(examples, final)
  # After a game ends, its judge logits stay those of its final position.
  logits = jnp.where(moved[..., None], logits, final_logits[None])
  logits_BxTxC = jnp.moveaxis(logits, 0, 1)
  claims = jax.vmap(game.claims)(examples, final)
  wins0 = jax.vmap(protocol.seat0_wins)(final_logits, claims)
  margin0 = jax.vmap(protocol.seat0_margin)(final_logits, claims)
  truth0 = jax.vmap(game.truth_seat)(examples, final) == 0
  return Transcript(actions_BxT=actions.T, seats_BxT=seats.T, moved_BxT=moved.T,
                    policy_BxTxA=jnp.moveaxis(policy, 0, 1), value_BxT=value.T,
                    judge_logits_BxTxC=logits_BxTxC, final_logits_BxC=final_logits,
                    claims_Bx2=claims, seat0_wins_B=wins0,
                    seat0_margin_B=margin0,
                    honest_wins_B=wins0 == truth0, margin_B=jnp.where(truth0, margin0, -margin0))


@functools.partial(jax.jit, static_argnums=0)
def replay(game: Game, examples, actions_BxT, moved_BxT):
  """The states of played games after 0, 1, ..., T moves (leading dims [B, T + 1]); after a
  game's end, its final state. What self-play's positions and a judge's training views read."""
  state0 = jax.vmap(game.init)(examples)

  def body(state, inputs):
    a_B, moved_B = inputs
    new = jax.vmap(game.step)(examples, state, jnp.maximum(a_B, 0))
    keep = lambda old, nw: jnp.where(moved_B.reshape((-1,) + (1,) * (old.ndim - 1)), nw, old)
    state = jax.tree.map(keep, state, new)
    return state, state

  _, after = jax.lax.scan(body, state0, (actions_BxT.T, moved_BxT.T))
  return jax.tree.map(lambda s0, s: jnp.concatenate([s0[:, None], jnp.moveaxis(s, 0, 1)], 1),
                      state0, after)


def _typed(out: DebaterOutput) -> DebaterOutput:
  return DebaterOutput(out.action_B.astype(jnp.int32), out.weights_BxA.astype(jnp.float32),
                       out.value_B.astype(jnp.float32))


def make_player(runtime, *, game: Game, protocol: Protocol, debaters: tuple[Debater, Debater],
                judge_apply):
  """A jitted `(rng, judge_params, seat_params, examples) -> Transcript`, games sharded over
  `batch_axes`. Games are independent, so each shard plays its own games with no communication
  (`shard_map`): every device runs its own searches, and on a CPU every core its own games.
  Per-game random draws are the whole batch's rows (`Env.split`), so the moves and verdicts
  equal a single-device run's. The batch must divide by the shards' count."""
  kw = dict(game=game, protocol=protocol, debaters=tuple(debaters), judge_apply=judge_apply)
  mesh = None if runtime is None else runtime.mesh
  if mesh is None:
    return jax.jit(functools.partial(play, **kw))
  axes = tuple(runtime.batch_axes)
  fn = jax.shard_map(functools.partial(play, **kw, batch_axes=axes), mesh=mesh,
                     in_specs=(P(), P(), P(), P(axes)), out_specs=P(axes), check_vma=False)
  data = NamedSharding(mesh, P(axes))
  rep = NamedSharding(mesh, P())
  return _Player(jax.jit(fn, in_shardings=(rep, rep, rep, data), out_shardings=data),
                 (rep, rep, rep, data))


class _Player:
  """A sharded player. Called with host values (numpy games, parameters), it makes them global
  arrays when several processes share the mesh (each holds every game; each device plays its
  shard), so one call works on one host or many."""

  def __init__(self, jitted, in_shardings):
    self.jitted, self.in_shardings = jitted, in_shardings

  def globalize(self, args):
    if jax.process_count() == 1:
      return args
    return mesh_lib.same_on_every_process(args, self.in_shardings)

  def __call__(self, *args):
    return self.jitted(*self.globalize(args))

  def lower(self, *args):
    return self.jitted.lower(*self.globalize(args))


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
  n = len(jax.tree.leaves(examples)[0])
  out: dict[str, list] = {}
  bs = max(multiple, -(-min(batch_size, n) // multiple) * multiple)
  chunks = -(-n // bs)

  def chunk_of(start):
    chunk = jax.tree.map(lambda x: x[start:start + bs], examples)
    m = len(jax.tree.leaves(chunk)[0])
    if m < bs:  # Pad with copies of the last game; results for them are dropped.
      chunk = jax.tree.map(lambda x: np.concatenate([x, np.repeat(x[-1:], bs - m, 0)]), chunk)
    return chunk, m

  t_compile = time.time()
  compiled = _compiled(player, (rng, judge_params, seat_params, chunk_of(0)[0]), label)
  compile_seconds = time.time() - t_compile
  t0 = last_log = time.time()
  for i, start in enumerate(range(0, n, bs)):
    chunk, m = chunk_of(start)
    args = (jax.random.fold_in(rng, i), judge_params, seat_params, chunk)
    if isinstance(player, _Player):
      args = player.globalize(args)
    res = mesh_lib.to_host(compiled(*args))
    for key, v in res._asdict().items():
      out.setdefault(key, []).append(np.asarray(v)[:m])
    done = start + m
    if preempt.requested() and done < n:  # SIGTERM or Ctrl-C: stop now, not at the next step
      raise preempt.Preempted(f"{label}: stopped after {done} of {n} games (rerun the same "
                              "command: finished stages are kept, this one plays again)")
    if chunks > 1 and (time.time() - last_log > log_every_s or done == n):
      last_log = time.time()
      rate = done / max(time.time() - t0, 1e-9)
      logging.info("%s %d/%d  %.1f games/s  ETA %.0f s", label, done, n, rate, (n - done) / rate)
  if stats is not None:
    stats.update(compile_seconds=compile_seconds, play_seconds=time.time() - t0)
  return {key: np.concatenate(v) for key, v in out.items()}
