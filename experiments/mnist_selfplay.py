"""Debaters that learn: self-play of the MNIST pixel debate against a fixed judge."""
from __future__ import annotations

import logging
import os
import time

from debate import io, protocols
from debate.config import check, check_float, check_int
from debate.data import mnist
from debate.games import mnist_pixels as g
from debate.search.evaluators import EVALUATORS
from debate.selfplay import learner, loop
from debate.tasks.mnist import MnistTask
from debate import runs as common
from judges import mnist_training as judge_training
from debate.games import mnist_network
from models import policy_value as pv


def validate(config) -> None:
  check_int(config, "pixels", 1, 20)
  for p in config.precommit:
    check(isinstance(p, bool), "precommit", config.precommit, "a tuple of booleans")
  s = config.selfplay
  check(s.algorithm in learner.ALGORITHMS, "selfplay.algorithm", s.algorithm,
        f"one of {list(learner.ALGORITHMS)}")
  check(s.evaluator in EVALUATORS, "selfplay.evaluator", s.evaluator,
        f"one of {list(EVALUATORS)}")
  for key in ("iterations", "games", "sims", "updates", "batch_size", "replay_capacity",
              "population_every", "play_batch"):
    check_int(config, f"selfplay.{key}", 1)
  check_float(config, "selfplay.learning_rate")
  check_int(config, "selfplay.teacher_iterations", 0)
  check_float(config, "selfplay.teacher_temperature")
  check_int(config, "eval_games", 1)
  check_int(config, "eval_every", 0)
  for o in config.eval_opponents:
    check(o in ("random", "greedy"), "eval_opponents", config.eval_opponents,
          "a tuple of 'random' and/or 'greedy'")
  for f in config.first:
    check(f in ("honest", "liar"), "first", config.first, "a tuple of 'honest' and/or 'liar'")
  pv.get_arch(config.net.arch)


def settings_of(config) -> loop.Settings:
  s = config.selfplay
  return loop.Settings(iterations=s.iterations, games=s.games, sims=s.sims, updates=s.updates,
                       batch_size=s.batch_size, learning_rate=s.learning_rate,
                       replay_capacity=s.replay_capacity, algorithm=s.algorithm,
                       evaluator=s.evaluator, c_puct=s.c_puct,
                       population_every=s.population_every, seed=config.seed,
                       play_batch=s.play_batch, teacher_iterations=s.teacher_iterations,
                       teacher_temperature=s.teacher_temperature)


def train_and_evaluate(config, workdir: str, *, stop_after: int | None = None) -> dict:
  validate(config)
  train = mnist.load_from_config(config, "train")
  check(config.eval_games < len(train["label"]), "eval_games", config.eval_games,
        f"fewer than the {len(train['label'])} training images")
  judge_training.check_judge_source(config, config.pixels)
  judge_training.check_judge_holdout(config, config.pixels, config.eval_games)
  rt = common.prepare_workdir(config, workdir, mnist.check_config)
  t0 = time.time()
  images = mnist.to_float(train["image"])
  n_eval = config.eval_games
  slots = g.slots_for(images)
  task = MnistTask(images[:-n_eval], train["label"][:-n_eval], config.pixels, slots)
  held_out = MnistTask(images[-n_eval:], train["label"][-n_eval:], config.pixels, slots)
  judge = judge_training.get_judge(config, workdir, rt, config.pixels)
  apply, params, arch, source = judge.apply, judge.params, judge.arch_name, judge.source
  network = mnist_network.network(pv.get_arch(config.net.arch))
  protos = [protocols.Protocol(precommit=p, first=0 if f == "honest" else 1)
            for p in config.precommit for f in config.first]
  evaluate = loop.make_evaluator(held_out, protos[0], apply, params, network.guide, rt, n_eval,
                                 against=tuple(config.eval_opponents))
  meta = {"net_arch": config.net.arch, "pixels": config.pixels, "slots": slots,
          "judge": source, "algorithm": config.selfplay.algorithm,
          "evaluator": config.selfplay.evaluator, "sims": config.selfplay.sims}
  io.atomic_write_json(os.path.join(workdir, "net.json"), meta)
  out = loop.train(task=task, protocols=protos, judge_apply=apply, judge_params=params,
                   network=network, settings=settings_of(config), runtime=rt, workdir=workdir,
                   evaluate=evaluate,
                   eval_every=config.eval_every, meta=meta, stop_after=stop_after)
  from debate.train.writers import read_metrics
  history = read_metrics(os.path.join(workdir, "metrics_selfplay.jsonl"))
  evals = [h for h in history if any(k.startswith("eval/") for k in h)]
  final = {k: v for k, v in (evals[-1] if evals else {}).items() if k.startswith("eval/")}
  first_eval = {k: v for k, v in (evals[0] if evals else {}).items() if k.startswith("eval/")}
  _plots(workdir, history, evals)
  wall = time.time() - t0
  metrics = {"final_eval": final, "first_eval": first_eval,
             "final_loss": history[-1]["loss"] if history else None,
             "population": [os.path.relpath(p, workdir) for p in loop.population(workdir)],
             "iterations": config.selfplay.iterations}
  results = common.write_results(workdir, config, metrics=metrics, runtime=rt,
                                 steps=config.selfplay.iterations,
                                 resumed_from_step=out["resumed_from"], wall_seconds=wall,
                                 judge={"arch": arch, "source": source})
  common.write_report(workdir, _report(config, history, evals, source, wall))
  logging.info("self-play done: %s", final)
  return results


def _plots(workdir, history, evals) -> None:
  if not history:
    return
  it = [h["step"] for h in history]
  common.plot_curves(os.path.join(workdir, "selfplay_loss.png"),
                     {k: (it, [h[k] for h in history]) for k in ("policy_loss", "value_loss")},
                     "iteration", "loss", "self-play learner")
  if evals:
    keys = sorted(k for k in evals[-1] if k.startswith("eval/"))
    common.plot_curves(os.path.join(workdir, "selfplay_eval.png"),
                       {k[5:]: ([h["step"] for h in evals], [h[k] for h in evals]) for k in keys},
                       "iteration", "win rate", "the network alone vs fixed opponents")


def _report(config, history, evals, judge_source, wall) -> str:
  rows = [[h["step"], f"{h['loss']:.3f}", f"{h['policy_loss']:.3f}", f"{h['value_loss']:.3f}",
           f"{100 * h['honest_win_rate']:.1f}%"] +
          [f"{100 * h[k]:.1f}%" for k in sorted(h) if k.startswith("eval/")]
          for h in evals]
  keys = sorted(k for k in (evals[-1] if evals else {}) if k.startswith("eval/"))
  s = config.selfplay
  return "\n".join([
      f"# Self-play, MNIST pixel debate, k = {config.pixels}", "",
      f"Algorithm `{s.algorithm}`: {s.iterations} iterations of {s.games} games "
      f"({s.sims} simulations per move, leaves valued by `{s.evaluator}`), {s.updates} learner "
      f"steps of batch {s.batch_size} each; network `{config.net.arch}`; judge from "
      f"`{judge_source}`; precommit {list(config.precommit)}.", "",
      "Evaluation: the network alone (its most likely move) on "
      f"{config.eval_games} held-out training images against fixed opponents, as honest and as "
      "liar (its win rate in each seat).", "",
      common.md_table(["iteration", "loss", "policy", "value", "self-play honest wins"] +
                      [k[5:] for k in keys], rows),
      f"Wall time {wall:.0f} s.", "", "![evaluation](selfplay_eval.png)", "",
      "![losses](selfplay_loss.png)", ""])
