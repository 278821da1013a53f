"""A tournament of MNIST debaters: win matrix, Elo with seat ratings, persuasiveness curve."""
from __future__ import annotations

import os
import time

import jax
import numpy as np

from debate import io, protocols, tournament
from debate.config import ConfigError, check, check_int
from debate.data import mnist
from debate.debaters import spec as debater_spec
from debate.games import mnist_pixels as g
from debate.selfplay import loop
from debate.tasks.mnist import MnistTask
from debate import runs as common
from judges import mnist_judge as judge_lib
from judges import mnist_training as judge_training
from debate.games import mnist_network
from models import policy_value as pv

KINDS = ("random", "greedy", "learned", "mcts", "learned_mcts")


def validate(config) -> None:
  check(len(config.debaters) >= 1, "debaters", config.debaters, "at least one debater")
  for d in config.debaters:
    check(debater_spec.valid(d, KINDS, pairs=False), "debaters", config.debaters,
          "names from random, greedy, learned, mcts-N, learned_mcts-N with N >= 1 "
          "('+'-separated)")
  check(len(set(config.debaters)) == len(config.debaters), "debaters", config.debaters,
        "distinct names (a debater plays every other once; the same name twice would be one "
        "player)")
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
    loop.network_info(wd)  # Damaged, or no network saved yet: one line now.


def _entrants(config, game, protocol, judge_apply) -> tournament.Entrants:
  """The configured debaters, and with `population` every saved network playing alone."""
  guide, members, evaluator = None, [], config.evaluator or "net"
  if config.selfplay_workdir and os.path.exists(os.path.join(config.selfplay_workdir,
                                                             "net.json")):
    meta = io.read_json(os.path.join(config.selfplay_workdir, "net.json"))
    if meta.get("pixels") != game.k:
      raise ConfigError(f"selfplay_workdir={config.selfplay_workdir!r} trained k={meta.get('pixels')}"
                        f" debaters; allowed: a self-play run with k={game.k}")
    guide = mnist_network.make_guide(pv.get_arch(meta["net_arch"]))
    members = loop.population(config.selfplay_workdir)
    evaluator = config.evaluator or meta.get("evaluator", "net")
  latest = loop.load_member(members[-1])[0] if members else None

  def make(spec):
    return debater_spec.build(spec, game, protocol, judge_apply, guide=guide,
                              c_puct=config.c_puct, evaluator=evaluator)

  entrants = tournament.Entrants(make)
  for spec in config.debaters:
    entrants.add(spec, spec, latest)
  if config.population:
    for path in members[:-1] if "learned" in config.debaters else members:
      entrants.add(f"learned@{os.path.basename(path)}", "learned", loop.load_member(path)[0])
  return entrants


def train_and_evaluate(config, workdir: str) -> dict:
  validate(config)
  test = mnist.load_from_config(config, "test")
  check(config.images <= len(test["label"]), "images", config.images,
        f"at most the {len(test['label'])} test images")
  network = None
  if config.selfplay_workdir:
    network = {key: v for key, v in loop.network_info(config.selfplay_workdir).items()}
  k = network.pop("meta").get("pixels") if network else 6
  check(isinstance(k, int) and k >= 1, "selfplay_workdir", config.selfplay_workdir,
        "a self-play run whose net.json names its pixels (k)")
  judge_training.check_judge_source(config, k)
  rt = common.prepare_workdir(config, workdir, mnist.check_config)
  t0 = time.time()
  images, labels = mnist.to_float(test["image"][:config.images]), test["label"][:config.images]
  slots = g.slots_for(images)
  judge = _judge(config, workdir, rt, k)
  apply, jparams = judge.apply, judge.params
  protocol = protocols.Protocol(precommit=config.precommit,
                                first=0 if config.first == "honest" else 1)
  task = MnistTask(images, labels, k, slots)
  examples = task.examples(protocols.lies_for(task, np.arange(len(labels)), protocol, apply,
                                              jparams, jax.random.PRNGKey(config.seed)))
  game = task.game
  entrants = _entrants(config, game, protocol, apply)
  played = tournament.play(entrants, game=game, protocol=protocol, judge_apply=apply,
                           judge_params=jparams, examples=examples, runtime=rt,
                           batch_size=config.batch_size, seed=config.seed, workdir=workdir)
  names = entrants.names
  metrics = tournament.summarize(names, played, config.bootstrap, config.seed)
  tournament.plots(workdir, names, metrics)
  wall = time.time() - t0
  results = common.write_results(workdir, config, metrics=metrics, runtime=rt, steps=0,
                                 resumed_from_step=0, wall_seconds=wall, debaters=names,
                                 network=network)
  common.write_report(workdir, "\n".join([
      f"# Tournament of MNIST debaters, k = {k}", "",
      f"Every pairing plays {len(labels)} test images as honest (rows) and as liar (columns), "
      f"precommit against the best lie, {config.first} first. Elo: Bradley-Terry with separate "
      "honest-seat and liar-seat ratings; overall = their mean; random = 0 when it plays.", "",
      *([f"`learned`: the network of iteration {network['iteration']} of `{network['workdir']}`"
         f"{'' if network['finished'] else ' (an UNFINISHED run: its newest network)'}.", ""]
        if network else []),
      tournament.report_tables(names, played, metrics), f"Wall time {wall:.0f} s.", "",
      "![win matrix](win_matrix.png)", "", "![persuasiveness](persuasiveness.png)", ""]))
  return results


def _judge(config, workdir, rt, k):
  if not config.judge_workdir and config.selfplay_workdir:
    source = io.read_json(os.path.join(config.selfplay_workdir, "net.json"))["judge"]
    return judge_lib.MnistJudge.load(source)
  return judge_training.get_judge(config, workdir, rt, k)
