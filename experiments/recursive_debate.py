"""Recursive debate over long computations: bisection against every liar beside spot-checking
and the judge alone, doubly-efficient debate with a stochastic oracle, the obfuscation stress
test, and prover-estimator debate (configs/recursive_debate.py)."""
from __future__ import annotations

import logging
import os
import time

from debate import runs as common
from debate.config import check, check_float, check_int
from experiments.common import recursive, recursive_report


def validate(config) -> None:
  check(len(config.log2_steps) >= 1 and all(isinstance(x, int) and 1 <= x <= 16
                                            for x in config.log2_steps),
        "log2_steps", config.log2_steps, "integers in 1..16 (T = 2^x steps), at least one")
  from debate.debaters import spec as debater_spec
  for liar in config.bisection.liars:
    check(debater_spec.valid(liar, pairs=False), "bisection.liars", config.bisection.liars,
          "debater specs: random, heuristic, greedy, mcts-N, learned, ...")
  for key in ("bisection.games", "bisection.search_games", "bisection.batch_size",
              "spot_check.k", "spot_check.games", "selfplay.log2_steps", "selfplay.iterations",
              "selfplay.games", "selfplay.sims", "selfplay.updates", "selfplay.batch_size",
              "selfplay.hidden", "selfplay.instances", "doubly_efficient.games",
              "doubly_efficient.candidates", "doubly_efficient.instances", "obfuscation.games",
              "obfuscation.log2_steps", "prover_estimator.games"):
    check_int(config, key, 1)
  check(config.bisection.corruption in ("one", "many"), "bisection.corruption",
        config.bisection.corruption, "one or many")
  check_float(config, "bisection.rate", 0.0, 1.0)
  check_float(config, "spot_check.rate", 0.0, 1.0)
  check_float(config, "selfplay.learning_rate", 0.0)
  check_float(config, "doubly_efficient.k", 0.0)
  check_float(config, "doubly_efficient.edge_k", 0.0)
  check_float(config, "doubly_efficient.promise", 2 / 3, 1.0, lo_open=False)
  o, p = config.obfuscation, config.prover_estimator
  check(isinstance(o.q, int) and isinstance(o.m, int) and 1 <= o.m < o.q, "obfuscation.m",
        o.m, f"an integer in 1..q-1 (q = {o.q})")
  check(isinstance(p.q, int) and isinstance(p.m, int) and 1 <= p.m <= p.q and p.q >= 2,
        "prover_estimator.m", p.m, f"an integer in 1..q (q = {p.q} >= 2)")
  check(all(0 <= x <= 0.5 for x in p.margins) and 0.0 in p.margins
        and p.stable_margin in p.margins, "prover_estimator.margins", p.margins,
        "margins in [0, 0.5] that include 0 (unstable) and stable_margin")
  check_float(config, "prover_estimator.tau", 0.0, 1.0)
  check(isinstance(config.language_bridge, bool), "language_bridge", config.language_bridge,
        "true or false")
  if config.language_bridge:
    for key in ("language.steps", "language.games", "language.whole_games",
                "language.batch_size"):
      check_int(config, key, 1)
    from models import llama_weights
    llama_weights.check_file(config.language.model)


def train_and_evaluate(config, workdir: str) -> dict:
  validate(config)
  rt = common.prepare_workdir(config, workdir)
  t0 = time.time()
  parts, timing = {}, {}

  def timed(name, fn, *args):
    t = time.time()
    out = fn(*args)
    timing[name] = time.time() - t
    logging.info("%s done in %.0f s", name, timing[name])
    return out

  learned, learned_info = (None, None)
  if "learned" in config.bisection.liars:
    learned, learned_info = timed("selfplay", recursive.train_liar, config, rt,
                                  os.path.join(workdir, "selfplay"))
  parts["bisection"] = timed("bisection", recursive.bisection, config, rt, learned)
  parts["spot_check"], parts["judge_alone"] = timed("spot_check", recursive.spot_check, config)
  parts["doubly_efficient"] = timed("doubly_efficient", recursive.doubly_efficient, config)
  parts["obfuscation"] = timed("obfuscation", recursive.obfuscation, config, rt)
  parts["prover_estimator"] = timed("prover_estimator", recursive.prover_estimator, config)
  if config.language_bridge:
    from experiments.common import recursive_language
    parts["language"] = timed("language", recursive_language.language_bridge, config)
  parts["trained_liar"] = learned_info
  parts["part_seconds"] = timing
  wall = time.time() - t0
  recursive_report.plots(workdir, parts)
  results = common.write_results(workdir, config, metrics=parts, runtime=rt, steps=0,
                                 resumed_from_step=0, wall_seconds=wall)
  common.write_report(workdir, recursive_report.report(parts, wall))
  return results
