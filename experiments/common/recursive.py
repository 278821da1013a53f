"""The parts of the recursive-debate experiment: each composes the library's games and returns
its metrics (numbers only; the report is `recursive_report.py`)."""
from __future__ import annotations

import logging
import time

import jax
import jax.numpy as jnp
import numpy as np

from debate import protocols, rollout
from debate.debaters import spec as debater_spec
from debate.games.recursive import bisection as bis
from debate.games.recursive import obfuscated, proverestimator, spotcheck, stochastic
from debate.metrics import wilson_ci
from debate.selfplay import loop
from debate.tasks import base as task_base
from debate.tasks.computation import BisectionTask

PROTOCOL = protocols.Protocol(precommit=True, first=0)  # `first` per game is in the examples
ONE = jnp.float32(1.0)


def rate(wins) -> dict:
  wins = np.asarray(wins, bool)
  return {"accuracy": float(wins.mean()), "ci95": list(wilson_ci(float(wins.sum()), len(wins))),
          "games": int(len(wins))}


def games_for(task: BisectionTask, n: int, seed: int):
  """n games: the truth in seat 0 against a wrong claim with its prepared trace; the honest
  seat commits first in half of them."""
  ids = np.arange(n) % len(task)
  key = task_base.keys(ids, task.truth(ids), task.lies(ids, np.random.default_rng(seed)), 0)
  return key._replace(first=(np.arange(n) % 2).astype(np.int32))


def train_liar(config, runtime, workdir: str) -> tuple[dict, dict]:
  """Self-play (the engine's AlphaZero loop, both seats one network) on T = 2^log2_steps."""
  s = config.selfplay
  task = BisectionTask(s.instances, s.log2_steps, config.seed + 101)
  net = bis.network(s.hidden)
  settings = loop.Settings(iterations=s.iterations, games=s.games, sims=s.sims,
                           updates=s.updates, batch_size=s.batch_size,
                           learning_rate=s.learning_rate, replay_capacity=16 * s.games,
                           evaluator="net", population_every=max(1, s.iterations),
                           play_batch=s.games, seed=config.seed)
  t0 = time.time()
  out = loop.train(task=task, protocols=[protocols.Protocol(True, 0), protocols.Protocol(True, 1)],
                   judge_apply=bis.judge_apply, judge_params=ONE, network=net,
                   settings=settings, runtime=runtime, workdir=workdir)
  info = {"log2_steps": s.log2_steps, "iterations": s.iterations, "games_per_iteration": s.games,
          "sims": s.sims, "wall_seconds": time.time() - t0,
          "parameters": int(sum(x.size for x in jax.tree.leaves(out["params"])))}
  return {"guide": net.guide, "params": out["params"]}, info


def _liar_steps(spec: str, debater, game) -> float:
  """Step evaluations of the liar per game: a prepared trace costs T; a judge call costs at most
  one step (greedy: one per legal move; search: its simulations); random and learned none."""
  kind = spec.split("-")[0]
  if kind == "heuristic":
    return float(game.steps)
  return float(game.log2_steps * debater.judge_calls(game.num_actions))


def bisection(config, runtime, learned: dict | None, log=logging.info) -> dict:
  out = {}
  c = config.bisection
  for L in config.log2_steps:
    task = BisectionTask(c.games, L, config.seed + L, c.corruption, c.rate)
    game, T = task.game, task.steps
    key = games_for(task, c.games, config.seed + 7 * L)
    row = {}
    for spec in c.liars + ("random/heuristic",):
      n = c.search_games if "mcts" in spec else c.games
      pair = spec if "/" in spec else f"heuristic/{spec}"
      liar = debater_spec.build(spec.split("/")[-1], game, PROTOCOL, bis.judge_apply,
                                guide=learned and learned["guide"])
      d = debater_spec.build(pair, game, PROTOCOL, bis.judge_apply,
                             guide=learned and learned["guide"])
      player = rollout.make_player(runtime, game=game, protocol=PROTOCOL, debaters=(d, d),
                                   judge_apply=bis.judge_apply)
      params = (learned["params"],) * 2 if learned else (None, None)
      wins, leaves, times = [], [], []
      batch = min(c.batch_size, n) if "mcts" not in spec else min(100, n)
      for start in range(0, n, batch):
        sub = jax.tree.map(lambda x: x[start:start + batch], key)
        examples = jax.tree.map(jnp.asarray, task.examples(sub))
        t0 = time.time()
        tr = jax.device_get(player(jax.random.PRNGKey(start), ONE, params, examples))
        times.append((time.time() - t0, len(sub.example_id)))
        final = rollout.replay(game, examples, jnp.asarray(tr.actions_BxT),
                               jnp.asarray(tr.moved_BxT))
        last = (np.arange(len(sub.example_id)), tr.moved_BxT.sum(1))
        width = np.asarray(final.hi)[last] - np.asarray(final.lo)[last]
        wins.append(tr.honest_wins_B)
        leaves.append(width == 1)
      timed = times[1:] or times  # the first call compiles
      r = rate(np.concatenate(wins))
      r.update(judge_steps=float(np.concatenate(leaves).mean()),  # one leaf checked per game
               honest_steps=float(T), liar_steps=_liar_steps(spec, liar, game),
               games_per_second=sum(g for _, g in timed) / sum(s for s, _ in timed))
      name = "control_random_honest" if "/" in spec else spec
      row[name] = r
      log("bisection T=2^%d %-22s honest wins %.1f%% (%d games, %.0f games/s)", L, name,
          100 * r["accuracy"], r["games"], r["games_per_second"])
    out[str(T)] = row
  return out


def spot_check(config) -> tuple[dict, dict]:
  c = config.spot_check
  checks, alone = {}, {}
  for L in config.log2_steps:
    T = 1 << L
    rng = np.random.default_rng(config.seed + 13 * L)
    one = spotcheck.play(rng, c.games, T, c.k, "one", c.rate)
    many = spotcheck.play(rng, c.games, T, c.k, "many", c.rate)
    # Each game's true claim (always accepted) and false claim (accepted unless caught).
    r = rate(np.concatenate([np.ones(c.games, bool), one.caught]))
    r.update(games=c.games, judge_steps=c.k, catch_rate=float(one.caught.mean()),
             expected_catch=min(1.0, c.k / T), catch_rate_many=float(many.caught.mean()),
             accuracy_many=float(many.correct.mean()))
    checks[str(T)] = r
    alone[str(T)] = rate(spotcheck.judge_alone(rng, c.games, T, c.k))
  return checks, alone


def _de_trial(tables, yes, no, params, T: int, G: int, rng, key, alices: dict):
  """Completeness (honest Alice on yes-instances, every Bob) and soundness (honest Bob on
  no-instances, every Alice), all games in one scan; the calls of each side."""
  setups = [(f"bob:{b}", yes, 0.0, 0, b) for b in stochastic.BOBS] + [
      (f"alice:{a}", no, s, start, "honest") for a, (s, start) in alices.items()]
  picks = np.concatenate([pool[rng.integers(0, len(pool), G)] for _, pool, *_ in setups])
  rep = lambda vals, dtype: jnp.asarray(np.repeat(np.asarray(vals), G), dtype)
  games = stochastic.Games(jnp.asarray(tables[picks], jnp.float32),
                           rep([s[2] for s in setups], jnp.float32),
                           rep([s[3] for s in setups], jnp.int32),
                           rep([stochastic.BOBS[s[4]] for s in setups], jnp.int32),
                           jnp.asarray(rng.integers(0, T, G * len(setups)), jnp.int32))
  o = jax.device_get(stochastic.play(games, T, params, key))
  complete, sound, calls_v, calls_h = {}, {}, [], []
  for i, (name, *_rest) in enumerate(setups):
    part = slice(i * G, (i + 1) * G)
    kind, who = name.split(":")
    if kind == "bob":
      complete[who] = float(o.output[part].mean())
      calls_h.append(params.alice_samples * o.steps_taken[part].mean())
    else:
      sound[who] = float(1 - o.output[part].mean())
    calls_v.append(params.vera_samples * o.rejected[part].mean())
  return complete, sound, calls_v, calls_h


def doubly_efficient(config, log=logging.info) -> dict:
  c = config.doubly_efficient
  out = {}
  for L in config.log2_steps:
    T = 1 << L
    rng = np.random.default_rng(config.seed + 17 * L)
    tables = stochastic.oracle_tables(rng, c.candidates)
    prob = stochastic.output_probability(tables, T)
    k_hat = stochastic.lipschitz(tables, T)
    ok = k_hat <= c.k
    yes = np.flatnonzero(ok & (prob >= c.promise))[:c.instances]
    no = np.flatnonzero(ok & (prob <= 1 - c.promise))[:c.instances]
    params = stochastic.Params.defaults(c.k, T)
    alices = {"honest": (0.0, 0)} | {f"shift_{s:g}": (s, 0) for s in c.shifts} | {
        "shift_0.03_last_eighth": (0.03, T - max(1, T // 8)), "lie_last_step": (1.0, T - 1)}
    key = jax.random.PRNGKey(config.seed + L)
    complete, sound, calls_v, calls_h = _de_trial(tables, yes, no, params, T, c.games, rng, key,
                                                  alices)
    # At the theorem's promise itself: 2/3 <= Pr(output 1) < 3/4 (or the mirror), with the
    # parameters of a larger k that these more sensitive instances obey.
    ok_edge = k_hat <= c.edge_k
    yes_e = np.flatnonzero(ok_edge & (prob >= 2 / 3) & (prob < 0.75))[:c.instances]
    no_e = np.flatnonzero(ok_edge & (prob <= 1 / 3) & (prob > 0.25))[:c.instances]
    edge = None
    if len(yes_e) and len(no_e):
      ce, se, *_ = _de_trial(tables, yes_e, no_e, stochastic.Params.defaults(c.edge_k, T), T,
                             c.games, rng, jax.random.fold_in(key, 1), alices)
      edge = {"completeness": min(ce.values()), "soundness": min(se.values()), "k": c.edge_k,
              "instances": {"yes": int(len(yes_e)), "no": int(len(no_e))},
              "completeness_by_bob": ce, "soundness_by_alice": se}
    out[str(T)] = {
        "completeness": min(complete.values()), "soundness": min(sound.values()),
        "verifier_calls": float(max(calls_v)), "honest_calls": float(max(calls_h)),
        "completeness_by_bob": complete, "soundness_by_alice": sound,
        "verifier_calls_max": params.vera_samples, "verifier_calls_both_honest": calls_v[0],
        "alice_samples_per_step": params.alice_samples,
        "bob_samples_per_step": params.bob_samples,
        "theorem": {"completeness": 0.6, "soundness": 0.6, "promise": 2 / 3,
                    "alice_calls_bound": stochastic.theorem_alice_bound(c.k, T),
                    "verifier_calls_bound": stochastic.theorem_vera_bound(c.k)},
        "instances": {"yes": int(len(yes)), "no": int(len(no)),
                      "yes_probability_min": float(prob[yes].min()),
                      "no_probability_max": float(prob[no].max()), "k": c.k},
        "at_promise": edge, "games": c.games}
    log("doubly-efficient T=2^%d completeness %.3f soundness %.3f verifier calls %.0f honest "
        "calls %.3g; at the promise %s", L, out[str(T)]["completeness"],
        out[str(T)]["soundness"], out[str(T)]["verifier_calls"], out[str(T)]["honest_calls"],
        edge and f"{edge['completeness']:.3f} / {edge['soundness']:.3f}")
  return out


def obfuscation(config, runtime) -> dict:
  c = config.obfuscation
  inst = obfuscated.instances(c.games, c.q, c.log2_steps, config.seed + 29, c.key)
  rng = np.random.default_rng(config.seed + 31)
  chosen, found = obfuscated.honest_choices(rng, inst.truth_NxQ, inst.claims_NxQ, c.m)
  rows = np.arange(c.games)
  disputed_false = inst.claims_NxQ[rows, chosen] != inst.truth_NxQ[rows, chosen]
  # The disputed sub-claim is settled by bisection, played by the engine (exact honest,
  # the liar's prepared trace): only a false sub-claim is a dispute the honest side can win.
  wins = np.zeros(c.games, bool)
  idx = np.flatnonzero(disputed_false)
  if len(idx):
    task = BisectionTask.of(inst.seeds_NxQ[idx, chosen[idx]], inst.x0_NxQ[idx, chosen[idx]],
                            c.log2_steps, config.seed)
    key = task_base.keys(np.arange(len(idx)), inst.truth_NxQ[idx, chosen[idx]],
                         inst.claims_NxQ[idx, chosen[idx]], 1)
    d = debater_spec.build("heuristic", task.game, PROTOCOL, bis.judge_apply)
    player = rollout.make_player(None, game=task.game, protocol=PROTOCOL, debaters=(d, d),
                                 judge_apply=bis.judge_apply)
    tr = jax.device_get(player(jax.random.PRNGKey(0), ONE, (None, None),
                               jax.tree.map(jnp.asarray, task.examples(key))))
    wins[idx] = tr.honest_wins_B
  r = rate(wins)
  L = 1 << c.log2_steps
  return {"q": c.q, "m": c.m, "honest_win_rate": r["accuracy"], "ci95": r["ci95"],
          "expected": obfuscated.expected_honest_win(c.q, c.m), "m_over_q": c.m / c.q,
          "games": c.games, "found_by_checking": float(found.mean()),
          "disputes_won_by_bisection": float(wins[idx].mean()) if len(idx) else None,
          "honest_steps": (c.m + 1) * L, "steps_to_find_surely": c.q * L,
          "sub_computation_steps": L}


def prover_estimator(config) -> dict:
  c = config.prover_estimator
  rng = np.random.default_rng(config.seed + 37)
  by_margin = {}
  for margin in c.margins:
    trees = proverestimator.trees(rng, c.games, c.q, margin)
    o = proverestimator.play(rng, trees, c.m, c.tau)
    r = rate(o.liar_wins)
    by_margin[f"{margin:g}"] = {"liar_win_rate": r["accuracy"], "ci95": r["ci95"],
                                "games": r["games"], "margin": margin,
                                "root_estimate_backs_liar": float((o.root_estimate >= .5).mean()),
                                "bob_leaves": o.bob_leaves}
  stable = by_margin[f"{c.stable_margin:g}"]
  unstable = by_margin[f"{0.0:g}"]
  return {"stable": stable, "unstable": unstable, "by_margin": by_margin, "q": c.q, "m": c.m,
          "tau": c.tau, "leaves": c.q * c.q}
