"""The self-play loop: act, store, learn, evaluate, checkpoint; resumable exactly.

Iteration i (from 1): the actors play `games` games (both seats the current network, through the
network-guided search for AlphaZero or the network alone, sampling, for policy gradient) on
training images with the protocol `protocols[i % len]`; their positions enter the replay buffer;
the learner takes `updates` sharded steps on batches drawn from it (policy gradient, which is
on-policy, draws from this iteration's positions only). Every random draw comes from
(seed, i): the actors' keys, the games' images and lies, the learner's batches. The checkpoint holds
the network, the optimizer, the learner's RNG and step, and the replay buffer, so a killed run
resumes where its last checkpoint was and ends equal to an uninterrupted one. Every
`population_every` iterations the network is also saved under `population/` for tournaments.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from debate import rollout
from debate.debaters import make_debater
from debate.debaters.learned import make_learned, make_learned_mcts
from debate.debaters.simple import make_greedy
from debate.selfplay import actors, learner, replay
from debate.tasks import base as task_base
from debate.train import checkpoint as ckpt_lib
from debate.train import mesh as mesh_lib
from debate.train import preempt
from debate.train import trainer
from debate.train.writers import MetricWriter


@dataclasses.dataclass(frozen=True)
class Settings:
  iterations: int
  games: int                 # games per iteration
  sims: int                  # simulations per move of the actors' search (AlphaZero)
  updates: int               # learner steps per iteration
  batch_size: int
  learning_rate: float
  replay_capacity: int       # positions
  algorithm: str = "alphazero"
  evaluator: str = "net"     # how the actors' search values leaves
  c_puct: float = 1.0
  population_every: int = 5
  checkpoint_every: int = 1
  seed: int = 0
  play_batch: int = 256      # games per jitted call
  # Warm start (expert iteration with a fixed teacher): for the first `teacher_iterations`
  # iterations both seats are soft greedy (`make_greedy` at `teacher_temperature`, moves
  # sampled), and the network learns its move distribution and the verdicts of its games.
  teacher_iterations: int = 0
  teacher_temperature: float = 0.5


def _player(runtime, task, protocol, judge_apply, guide, s: Settings,
            teacher: bool = False):
  game = task.game
  if teacher:
    d = make_greedy(game, protocol, judge_apply, temperature=s.teacher_temperature, sample=True)
  elif s.algorithm == "alphazero":
    d = make_learned_mcts(game, protocol, judge_apply, guide, s.sims, s.c_puct, s.evaluator,
                          sample=True)
  else:
    d = make_learned(guide, sample=True, game=game, protocol=protocol, judge_apply=judge_apply)
  return rollout.make_player(runtime, game=game, protocol=protocol, debaters=(d, d),
                             judge_apply=judge_apply)


def _hints_fn(game, protocol, judge_apply, chunk: int = 256):
  """`(judge_params, examples, states) -> hints [N, A]` for the replay buffer, in jitted
  chunks (a network that reads move hints trains on the hints of the positions it saw)."""
  from debate.debaters.base import Env
  from debate.debaters.simple import move_hints
  one = jax.jit(lambda jp, ex, st: move_hints(Env(game, protocol, judge_apply, jp), ex, st))

  def fn(judge_params, examples, states):
    n = len(jax.tree.leaves(states)[0])
    out = []
    for i in range(0, n, chunk):
      sl = lambda x: jnp.asarray(x[i:i + chunk])
      m = min(chunk, n - i)
      pad = lambda x: jnp.concatenate([x, jnp.repeat(x[-1:], chunk - m, 0)]) if m < chunk else x
      ex, st = jax.tree.map(lambda x: pad(sl(x)), examples), jax.tree.map(lambda x: pad(sl(x)), states)
      out.append(np.asarray(one(judge_params, ex, st))[:m])
    return np.concatenate(out)
  return fn


def _row(positions: dict):
  """One position's key and state (no leading dim), to shape a buffer after."""
  return (jax.tree.map(lambda x: x[0], positions["key"]),
          jax.tree.map(lambda x: x[0], positions["state"]))


def _save_member(workdir: str, iteration: int, params, meta: dict) -> None:
  from debate import io
  path = os.path.abspath(os.path.join(workdir, "population", f"iter_{iteration:05d}"))
  if os.path.exists(os.path.join(path, "member.json")):
    return
  from debate.train.checkpoint import save_params
  save_params(os.path.join(path, "params"), params)
  io.atomic_write_json(os.path.join(path, "member.json"), {"iteration": iteration, **meta})


def load_member(path: str):
  import orbax.checkpoint as ocp
  from debate import io
  params = ocp.StandardCheckpointer().restore(os.path.join(os.path.abspath(path), "params"))
  return jax.tree.map(np.asarray, params), io.read_json(os.path.join(path, "member.json"))


def network_info(workdir: str | None) -> dict:
  """Which network a self-play run's `latest_network` gives, read before anything is written:
  its `net.json` (checked), the newest saved member and its iteration, and whether the run
  finished (its `results.json` exists). An unfinished run is accepted on purpose (its newest
  network plays); results record the iteration and `finished`."""
  from debate import io
  from debate.config import ConfigError
  members = population(workdir) if workdir else []
  if not members:
    raise ConfigError(f"selfplay_workdir={workdir!r} holds no trained network; allowed: the "
                      "workdir of a self-play run that saved one (population/)")
  path = os.path.join(workdir, "net.json")
  try:
    meta = io.read_json(path)
    if not isinstance(meta, dict) or "net_arch" not in meta:
      raise ValueError(f"no 'net_arch' in {str(meta)[:60]!r}")
    member = io.read_json(os.path.join(members[-1], "member.json"))
    iteration = int(member["iteration"])
  except (ValueError, KeyError, TypeError, OSError) as e:
    raise ConfigError(f"selfplay_workdir={workdir!r} is damaged ({type(e).__name__}: "
                      f"{str(e)[:80]}); allowed: a self-play run's workdir as it wrote it")
  return {"workdir": workdir, "member": os.path.relpath(members[-1], workdir),
          "iteration": iteration, "finished": os.path.exists(os.path.join(workdir,
                                                                          "results.json")),
          "meta": meta}


def latest_network(workdir: str, guide_of: Callable[[dict], Any]):
  """(guide, params, meta) of a self-play run's newest saved network; `guide_of(meta)` rebuilds
  the guide from the run's `net.json` (the game's network factory)."""
  info = network_info(workdir)
  params, _ = load_member(os.path.join(workdir, info["member"]))
  return guide_of(info["meta"]), params, info["meta"]


def population(workdir: str) -> list[str]:
  root = os.path.join(workdir, "population")
  if not os.path.isdir(root):
    return []
  return sorted(os.path.join(root, d) for d in os.listdir(root)
                if os.path.exists(os.path.join(root, d, "member.json")))


def train(*, task, protocols: list, judge_apply, judge_params, network: learner.Network,
          settings: Settings, runtime, workdir: str,
          evaluate: Callable[[Any, int], dict] | None = None, eval_every: int = 0,
          meta: dict | None = None, stop_after: int | None = None) -> dict:
  """Runs (or resumes) self-play; returns the final network parameters and the history."""
  s = settings
  t0 = time.time()
  guide = network.guide
  tt = trainer.TrainTask(init_model=network.init,
                         loss_fn=learner.make_loss(s.algorithm, network.evaluate),
                         optimizer=optax.adam(s.learning_rate), data=None, name="selfplay")
  functional, state, shardings = trainer.make_state(tt, runtime, s.seed)
  batch_sharding = runtime.batch_sharding()
  step_fn = trainer.make_step(tt, functional, shardings, batch_sharding, None)
  key0 = task.sample_keys(np.random.default_rng(0), 1, True, 0)
  ex0 = task.examples(key0)
  st0 = jax.device_get(jax.vmap(task.game.init)(jax.tree.map(np.asarray, ex0)))
  buf = replay.empty(s.replay_capacity, jax.tree.map(lambda x: x[0], key0),
                     jax.tree.map(lambda x: x[0], st0), task.game.num_actions,
                     hints=network.hints)
  hints_fns = {}  # protocol -> its hints function (margins read the protocol's claims)
  ckpt = ckpt_lib.Checkpointer(os.path.join(workdir, "checkpoints", "selfplay"), keep=2)
  abstract = {"train": ckpt_lib.abstract_with_shardings(state, shardings), "replay": buf}
  start = 0
  restored = ckpt.restore(abstract)
  if restored is not None:
    start, tree, _ = restored
    state, buf = tree["train"], jax.tree.map(np.asarray, tree["replay"])
    logging.info("self-play: resumed from iteration %d", start)
  writer = MetricWriter(workdir, name="metrics_selfplay", resume_step=start)
  ndata = runtime.shards
  players = {}
  judge_params = jax.device_put(judge_params, runtime.replicated())
  history, t_loop = [], time.time()
  for it in range(start + 1, s.iterations + 1):
    rng = np.random.default_rng([s.seed, it])
    protocol = protocols[it % len(protocols)]
    teacher = it <= s.teacher_iterations
    if (protocol, teacher) not in players:
      players[protocol, teacher] = _player(runtime, task, protocol, judge_apply, guide, s,
                                           teacher)
    key = task.sample_keys(rng, s.games, protocol.precommit, protocol.first)
    examples = task.examples(key)
    t_act = time.time()
    logging.info("self-play %d/%d: playing %d games (%s), then %d learner steps", it,
                 s.iterations, s.games, "soft greedy teacher" if teacher else
                 f"{s.algorithm}, {s.sims} simulations" if s.algorithm == "alphazero" else
                 s.algorithm, s.updates)
    tr = actors.play(players[protocol, teacher], jax.random.PRNGKey(rng.integers(2 ** 31)),
                     judge_params, state["params"], examples, s.play_batch, ndata)
    act_s = time.time() - t_act
    pos = actors.positions(task.game, key, examples, tr,
                           played_policy=s.algorithm == "policy_gradient" and not teacher,
                           hints=None if not network.hints else
                           lambda ex, st: hints_fns.setdefault(protocol, _hints_fn(
                               task.game, protocol, judge_apply))(judge_params, ex, st))
    buf = replay.add(buf, pos)
    losses = []
    # Policy gradient is on-policy: it learns from this iteration's games only.
    source = replay.add(replay.empty(len(pos["value"]), *_row(pos), task.game.num_actions,
                                     hints=network.hints),
                        pos) if s.algorithm == "policy_gradient" else buf
    for _ in range(s.updates):
      b = replay.sample(source, rng, s.batch_size)
      batch = {"example": task.examples(b["key"]), "state": b["state"],
               "seat": b["seat"], "policy": b["policy"], "value": b["value"]}
      if "hints" in b:
        batch["hints"] = b["hints"]
      state, m = step_fn(state, mesh_lib.to_global(batch, batch_sharding), None)
      losses.append(m)
    m = {k: float(np.mean([jax.device_get(x[k]) for x in losses])) for k in losses[0]}
    if not (np.isfinite(m["loss"]) and np.isfinite(m.get("grad_norm", 0.0))):
      raise FloatingPointError(
          f"self-play: loss {m['loss']}, gradient norm {m.get('grad_norm')} at iteration {it} "
          f"(diverged: lower the learning rate); stopped. The last good checkpoint is iteration "
          f"{ckpt.latest_step()}.")
    m.update(honest_win_rate=float(np.mean(tr["honest_wins_B"])),
             seat0_win_rate=float(np.mean(tr["seat0_wins_B"])), games_per_second=s.games / act_s,
             replay_size=int(buf["size"]), precommit=float(protocol.precommit),
             first=float(protocol.first), teacher=float(teacher))
    if evaluate is not None and eval_every and (it % eval_every == 0 or it == s.iterations):
      m.update(evaluate(state["params"], it))
    writer.write(it, m)
    history.append({"iteration": it, **m})
    rate = (it - start) / max(time.time() - t_loop, 1e-9)
    logging.info("self-play %d/%d: loss %.3f (policy %.3f, value %.3f), self-play honest %.2f, "
                 "%.1f games/s, %.2f it/min, ETA %.0f s", it, s.iterations, m["loss"],
                 m["policy_loss"], m["value_loss"], m["honest_win_rate"], m["games_per_second"],
                 60 * rate, (s.iterations - it) / max(rate, 1e-9))
    if it % s.population_every == 0 or it == s.iterations:
      _save_member(workdir, it, state["params"], meta or {})
    stop_now = preempt.requested() or (stop_after is not None and it - start >= stop_after)
    if it % s.checkpoint_every == 0 or it == s.iterations or stop_now:
      ckpt.save(it, {"train": state, "replay": buf}, {"iteration": it})
    if stop_now:
      writer.close()
      ckpt.close()
      raise trainer.Preempted(f"self-play: stopped at iteration {it}; rerun to resume")
  writer.close()
  ckpt.close()
  return {"params": state["params"], "state": state, "replay": buf, "history": history,
          "resumed_from": start, "wall_seconds": time.time() - t0, "functional": functional}


def opponents(task, protocol, judge_apply, names=("random", "greedy")):
  """The fixed opponents the learned debater is measured against while it trains."""
  return {name: make_debater(name, task.game, protocol, judge_apply) for name in names}


def make_evaluator(task, protocol, judge_apply, judge_params, guide, runtime, games: int,
                   seed: int = 12345, batch_size: int = 256,
                   against=("random", "greedy")):
  """`evaluate(net_params, iteration) -> metrics`: the network alone (its most likely move)
  against random and greedy on `games` fixed games of `task`, as honest (seat 0) and as liar:
  `eval/{opponent}/learned_honest_wins` and `eval/{opponent}/learned_liar_wins`."""
  from debate.protocols import Protocol
  game = task.game
  key = task.sample_keys(np.random.default_rng(seed), games, protocol.precommit, protocol.first)
  key = task_base.with_truth_in_seat0(key)
  examples = task.examples(key)
  protocol = Protocol(precommit=protocol.precommit, first=protocol.first)
  learned = make_learned(guide, game=game, protocol=protocol, judge_apply=judge_apply)
  ndata = runtime.shards
  players = {}
  for name, opp in opponents(task, protocol, judge_apply, against).items():
    players[name, "honest"] = rollout.make_player(runtime, game=game, protocol=protocol,
                                                  debaters=(learned, opp),
                                                  judge_apply=judge_apply)
    players[name, "liar"] = rollout.make_player(runtime, game=game, protocol=protocol,
                                                debaters=(opp, learned),
                                                judge_apply=judge_apply)

  def evaluate(net_params, iteration):
    out = {}
    for (name, role), player in players.items():
      seat_params = (net_params, None) if role == "honest" else (None, net_params)
      tr = rollout.run_batched(player, jax.random.PRNGKey(iteration), judge_params, examples,
                               batch_size, ndata, seat_params=seat_params)
      honest = float(np.mean(tr["honest_wins_B"]))
      out[f"eval/{name}/learned_{role}_wins"] = honest if role == "honest" else 1 - honest
    return out

  return evaluate
