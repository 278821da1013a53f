"""A tournament of MNIST debaters: win matrix, Elo with seat ratings, persuasiveness curve."""
from __future__ import annotations

import logging
import os
import re
import time

import jax
import jax.numpy as jnp
import numpy as np

from debate import io, league, protocols, rollout
from debate import metrics as metrics_lib
from debate.config import ConfigError, check, check_int
from debate.data import mnist
from debate.debaters import make_debater
from debate.debaters.switch import make_switch
from debate.games import mnist_pixels as g
from debate.selfplay import loop
from debate import runs as common
from judges import mnist_judge as judge_lib
from judges import training as judge_training
from debate.train import preempt
from models import policy_value as pv

_SPEC = re.compile(r"^(random|greedy|learned|mcts-\d+|learned_mcts-\d+)$")


def validate(config) -> None:
  check(len(config.debaters) >= 1, "debaters", config.debaters, "at least one debater")
  for d in config.debaters:
    check(bool(_SPEC.match(d)), "debaters", config.debaters,
          "names from random, greedy, learned, mcts-N, learned_mcts-N ('+'-separated)")
  check_int(config, "images", 1)
  check_int(config, "batch_size", 1)
  check_int(config, "bootstrap", 0)
  check(config.first in ("honest", "liar"), "first", config.first, "'honest' or 'liar'")
  if config.evaluator is not None:
    from debate.search.evaluators import EVALUATORS
    check(config.evaluator in EVALUATORS, "evaluator", config.evaluator,
          f"one of {list(EVALUATORS)} (or unset: the self-play run's)")
  check(config.liar_protocol in ("best_lie",), "liar_protocol", config.liar_protocol,
        "best_lie (one game per image and pairing)")
  needs_net = any(d.startswith("learned") for d in config.debaters) or config.population
  if needs_net:
    wd = config.selfplay_workdir
    check(bool(wd) and os.path.exists(os.path.join(wd, "net.json")), "selfplay_workdir", wd,
          "the workdir of a configs/mnist_selfplay.py run (learned debaters need its network)")
    check(bool(loop.population(wd)), "selfplay_workdir", wd,
          "a self-play run that has saved at least one network under population/")


def _entrants(config, game, protocol, judge_apply):
  """(names, distinct debaters, branch index per entrant, net params per entrant)."""
  guide, members, evaluator = None, [], config.evaluator or "net"
  if config.selfplay_workdir and os.path.exists(os.path.join(config.selfplay_workdir,
                                                             "net.json")):
    meta = io.read_json(os.path.join(config.selfplay_workdir, "net.json"))
    if meta["pixels"] != game.k:
      raise ConfigError(f"selfplay_workdir={config.selfplay_workdir!r} trained k={meta['pixels']}"
                        f" debaters; allowed: a self-play run with k={game.k}")
    guide = pv.make_guide(pv.get_arch(meta["net_arch"]))
    members = loop.population(config.selfplay_workdir)
    evaluator = config.evaluator or meta.get("evaluator", "net")
  latest = loop.load_member(members[-1])[0] if members else None
  branches, branch_of, names, nets = [], {}, [], []

  def add(name, spec, params):
    kind, _, sims = spec.partition("-")
    if spec not in branch_of:
      branch_of[spec] = len(branches)
      branches.append(make_debater(kind, game, protocol, judge_apply,
                                   sims=int(sims or 1), c_puct=config.c_puct, guide=guide,
                                   evaluator=evaluator))
    names.append(name)
    nets.append({"index": jnp.int32(branch_of[spec]), "params": params})

  for spec in config.debaters:
    add(spec, spec, latest)
  if config.population:
    for path in members[:-1] if "learned" in config.debaters else members:
      add(f"learned@{os.path.basename(path)}", "learned", loop.load_member(path)[0])
  if latest is None:  # Nothing learned plays: a stand-in of the right structure.
    nets = [{"index": n["index"], "params": {}} for n in nets]
  return names, branches, nets


def train_and_evaluate(config, workdir: str) -> dict:
  validate(config)
  test = mnist.load_from_config(config, "test")
  check(config.images <= len(test["label"]), "images", config.images,
        f"at most the {len(test['label'])} test images")
  k = io.read_json(os.path.join(config.selfplay_workdir, "net.json"))["pixels"] \
      if config.selfplay_workdir else 6
  judge_training.check_judge_source(config, k)
  mesh = common.prepare_workdir(config, workdir)
  t0 = time.time()
  images, labels = mnist.to_float(test["image"][:config.images]), test["label"][:config.images]
  slots = g.slots_for(images)
  apply, jparams = _judge(config, workdir, mesh, k)
  protocol = protocols.Protocol(precommit=config.precommit,
                                first=0 if config.first == "honest" else 1)
  lies = protocols.best_lies(apply, jparams, images, labels, k, jax.random.PRNGKey(config.seed))
  examples = g.make_examples(images, labels, lies, protocol.first, slots)
  game = g.MnistPixels(k, slots)
  names, branches, nets = _entrants(config, game, protocol, apply)
  switch = make_switch(branches)
  player = rollout.make_player(mesh, game=game, protocol=protocol, debaters=(switch, switch),
                               judge_apply=apply, batch_axes=tuple(config.sharding.batch_axes))
  ndata = int(np.prod([mesh.shape[a] for a in config.sharding.batch_axes]))
  n = len(names)
  wins, games = np.zeros((n, n), int), np.zeros((n, n), int)
  seconds = np.zeros((n, n))
  done_path = os.path.join(workdir, "matches.json")
  done = io.read_json(done_path) if os.path.exists(done_path) else {}
  logging.info("tournament: %d debaters, %d pairings of %d games", n, n * n, len(labels))
  if len(done) < n * n:  # Compile once, outside every pairing's time.
    t = time.time()
    rollout.run_batched(player, jax.random.PRNGKey(0), jparams,
                        jax.tree.map(lambda x: x[:config.batch_size], examples),
                        config.batch_size, ndata, seat_params=(nets[0], nets[0]))
    logging.info("tournament: player compiled in %.0f s", time.time() - t)
  for i in range(n):
    for j in range(n):
      key = f"{names[i]} vs {names[j]}"
      if key not in done:
        if preempt.requested():
          raise preempt.Preempted(f"tournament: stopped before {key}; finished pairings are "
                                  f"kept in {done_path}, rerun the same command to resume")
        t = time.time()
        tr = rollout.run_batched(player, jax.random.PRNGKey(config.seed + 1), jparams, examples,
                                 config.batch_size, ndata, seat_params=(nets[i], nets[j]))
        done[key] = {"wins": int(tr["honest_wins_B"].sum()), "games": len(labels),
                     "seconds": time.time() - t}
        io.atomic_write_json(done_path, done)
        logging.info("%s: honest wins %d/%d (%.0f s)", key, done[key]["wins"], len(labels),
                     done[key]["seconds"])
      wins[i, j], games[i, j], seconds[i, j] = (done[key][x] for x in ("wins", "games",
                                                                        "seconds"))
  rates = wins / np.maximum(games, 1)
  elo = league.ratings(wins, games, names, anchor="random" if "random" in names else None,
                       bootstrap=config.bootstrap, seed=config.seed)
  diag = {nm: float(rates[i, i]) for i, nm in enumerate(names)}
  cost = {nm: float(seconds[i, i] / max(games[i, i], 1)) for i, nm in enumerate(names)}
  metrics = {"elo": elo["elo"], "elo_ci95": elo.get("elo_ci95"), "elo_honest": elo["elo_honest"],
             "elo_liar": elo["elo_liar"], "honest_win_rate": diag, "seconds_per_game": cost,
             "win_matrix": {f"{names[i]} vs {names[j]}": float(rates[i, j])
                            for i in range(n) for j in range(n)}}
  _plots(workdir, names, rates, elo, diag)
  wall = time.time() - t0
  results = common.write_results(workdir, config, metrics=metrics, mesh=mesh, steps=0,
                                 resumed_from_step=0, wall_seconds=wall, debaters=names)
  common.write_report(workdir, _report(config, names, rates, games, elo, diag, cost, k, wall))
  return results


def _judge(config, workdir, mesh, k):
  if not config.judge_workdir and config.selfplay_workdir:
    source = io.read_json(os.path.join(config.selfplay_workdir, "net.json"))["judge"]
    _, _, params, _ = judge_lib.load_judge(source)
    arch = io.read_json(os.path.join(source, "judge", "judge.json"))["arch"]
    return judge_lib.make_apply(judge_lib.get_arch(arch)), params
  apply, params, _, _ = judge_training.get_judge(config, workdir, mesh, k)
  return apply, params


def _plots(workdir, names, rates, elo, diag) -> None:
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  fig, ax = plt.subplots(figsize=(1.0 + 0.7 * len(names), 0.8 + 0.6 * len(names)))
  im = ax.imshow(rates, vmin=0, vmax=1, cmap="RdBu")
  ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=7)
  ax.set_yticks(range(len(names)), names, fontsize=7)
  ax.set_xlabel("liar")
  ax.set_ylabel("honest")
  for i in range(len(names)):
    for j in range(len(names)):
      ax.text(j, i, f"{100 * rates[i, j]:.0f}", ha="center", va="center", fontsize=6)
  fig.colorbar(im, ax=ax, label="honest win rate")
  ax.set_title("honest win rate, every pairing")
  io.savefig(fig, os.path.join(workdir, "win_matrix.png"))
  plt.close(fig)
  fig, ax = plt.subplots(figsize=(6, 4))
  for nm in names:
    lo, hi = elo.get("elo_ci95", {}).get(nm, [elo["elo"][nm]] * 2)
    ax.errorbar(elo["elo"][nm], diag[nm], xerr=[[elo["elo"][nm] - lo], [hi - elo["elo"][nm]]],
                fmt="o")
    ax.annotate(nm, (elo["elo"][nm], diag[nm]), fontsize=7, xytext=(3, 3),
                textcoords="offset points")
  ax.set_xlabel("Elo (mean of honest and liar seats; 95% bootstrap interval)")
  ax.set_ylabel("judge accuracy in self-play")
  ax.set_title("does a stronger debater pair make the judge more accurate?")
  ax.grid(alpha=0.3)
  io.savefig(fig, os.path.join(workdir, "persuasiveness.png"))
  plt.close(fig)


def _report(config, names, rates, games, elo, diag, cost, k, wall) -> str:
  ci = elo.get("elo_ci95") or {}
  table = [[nm, f"{elo['elo'][nm]:.0f}" + (f" [{ci[nm][0]:.0f}, {ci[nm][1]:.0f}]" if ci else ""),
            f"{elo['elo_honest'][nm]:.0f}", f"{elo['elo_liar'][nm]:.0f}",
            metrics_lib.fmt_pct(diag[nm], metrics_lib.wilson_ci(
                round(diag[nm] * games[i, i]), games[i, i])), f"{1e3 * cost[nm]:.1f}"]
           for i, nm in enumerate(names)]
  table.sort(key=lambda r: -float(r[1].split()[0]))
  matrix = [[names[i]] + [f"{100 * rates[i, j]:.0f}%" for j in range(len(names))]
            for i in range(len(names))]
  return "\n".join([
      f"# Tournament of MNIST debaters, k = {k}", "",
      f"Every pairing plays {games[0, 0]} test images as honest (rows) and as liar (columns), "
      f"precommit against the best lie, {config.first} first. Elo: Bradley-Terry with separate "
      "honest-seat and liar-seat ratings; overall = their mean; random = 0 when it plays.", "",
      common.md_table(["debater", "Elo [95%]", "honest seat", "liar seat",
                       "judge accuracy in self-play", "ms per game (self-play)"], table),
      "## Honest win rate, every pairing", "",
      common.md_table(["honest \\ liar"] + names, matrix),
      f"Wall time {wall:.0f} s.", "", "![win matrix](win_matrix.png)", "",
      "![persuasiveness](persuasiveness.png)", ""])
