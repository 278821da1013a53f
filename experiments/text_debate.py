"""Text debate: judge accuracy per protocol on reading-comprehension questions, with a
transformer judge co-trained on the debaters' transcripts (`configs/text_debate.py`)."""
from __future__ import annotations

import logging
import os
import time

import numpy as np

from debate import cotrain as cotrain_lib
from debate import io, judging, protocols
from debate import metrics as metrics_lib
from debate import runs as common
from debate.config import check, check_int
from debate.debaters import spec as debater_spec
from debate.selfplay import loop
from debate.debaters.simple import make_lookahead
from debate.games import text as text_game
from experiments.common import text_lm
from experiments.common import text_pretrained, text_report
from debate.data import reading as reading_lib
from debate.tasks import reading, reading_rules
from experiments.common import text_setup as setup
from debate.train.writers import MetricWriter

PRECOMMIT = protocols.Protocol(precommit=True)
DEBATER_KINDS = ("random", "heuristic", "greedy", "best_of", "prior_best_of", "mcts")


def validate(config) -> None:
  check(len(config.protocols) >= 1, "protocols", config.protocols, "at least one protocol")
  check(len(set(config.protocols)) == len(config.protocols), "protocols", config.protocols,
        "each protocol at most once")
  for p in config.protocols:
    check(p in text_game.KINDS, "protocols", config.protocols,
          f"'+'-separated names from {list(text_game.KINDS)}")
  check_int(config, "rounds", 1, 16)
  check(_valid_spec(config.debater), "debater", config.debater,
        "random, heuristic, greedy, best_of-N, prior_best_of-N or mcts-N (N >= 1), or "
        "honest/liar: two of them")
  check(config.judge.opening in ("random", "heuristic"), "judge.opening", config.judge.opening,
        "random or heuristic (the debaters of co-training round 0, before there is a judge)")
  d = config.data
  check(d.source in ("synthetic", "quality", "jsonl"), "data.source", d.source,
        "synthetic, quality or jsonl")
  if d.source == "synthetic":
    check_int(config, "data.seed", 0)
    check(d.test_split in ("test", "train"), "data.test_split", d.test_split,
          "test (held-out people, things and wordings) or train (new questions, seen words)")
    check_int(config, "data.train", 1)
    check_int(config, "data.test", 1)
    setup.reading_config(config).check()
  else:
    check(isinstance(d.path, str) and os.path.isfile(d.path), "data.path", d.path,
          f"an existing JSONL file for data.source={d.source}")
    check(isinstance(d.test_fraction, float) and 0 < d.test_fraction < 1, "data.test_fraction",
          d.test_fraction, "a float in (0, 1)")
  for key in ("sentences", "sentence_tokens", "passage_tokens", "question_tokens",
              "option_tokens", "vocab"):
    check_int(config, f"sizes.{key}", 1)
  check_int(config, "sizes.forgeries", 0)
  check_int(config, "sizes.evidence", 1)
  if "retrieval" in config.protocols:
    check(config.sizes.evidence >= 2 * config.rounds, "sizes.evidence", config.sizes.evidence,
          f"at least 2 x rounds = {2 * config.rounds} for the retrieval protocol (it shows as many "
          "sentences as a debate quotes)")
  if "oracle" in config.protocols:
    check(d.source == "synthetic", "protocols", config.protocols, "oracle with data.source="
          "synthetic only (files do not name their decisive sentences)")
  j = config.judge
  for key in ("width", "layers", "heads", "kv_heads", "head_width", "mlp_width", "rounds",
              "games_per_round", "steps_per_round", "batch_size"):
    check_int(config, f"judge.{key}", 1)
  check(j.heads % j.kv_heads == 0, "judge.kv_heads", j.kv_heads,
        f"a divisor of judge.heads={j.heads}")
  check(j.head_width % 2 == 0, "judge.head_width", j.head_width, "an even number (rotary)")
  check(isinstance(j.learning_rate, float) and 0 < j.learning_rate < 1, "judge.learning_rate",
        j.learning_rate, "a float in (0, 1)")
  check_int(config, "play_batch", 1)
  check_int(config, "learned.iterations", 0)
  for key in ("games", "updates", "batch_size", "eval_every", "width", "layers", "heads",
              "kv_heads", "head_width", "mlp_width"):
    check_int(config, f"learned.{key}", 1)
  check(config.learned.heads % config.learned.kv_heads == 0, "learned.kv_heads",
        config.learned.kv_heads, f"a divisor of learned.heads={config.learned.heads}")
  for n in config.sweep_n:
    check(isinstance(n, int) and n >= 1, "sweep_n", config.sweep_n, "positive integers")
  for spec in config.stress:
    check(_valid_spec(spec), "stress", config.stress, "debater specs (see debater)")
  check_int(config, "transcripts_per_protocol", 0)
  text_pretrained.validate(config)
  text_lm.validate(config, _valid_spec)


def _valid_spec(spec: str) -> bool:
  return debater_spec.valid(spec, DEBATER_KINDS)


def debater(task, judge_apply, spec: str, network_for=None):
  """Both seats' debater by spec (`best_of-8`, `greedy`, `learned`, ...; `honest/liar`, e.g.
  `heuristic/greedy`, `debate.debaters.spec`); the learned ones read the network
  `network_for(game)` builds. Open protocols pick their side by playing each out."""
  guide = network_for(task.game).guide if network_for and "learned" in spec else None
  d = debater_spec.build(spec, task.game, PRECOMMIT, judge_apply, guide=guide)
  return make_lookahead(task.game, PRECOMMIT, judge_apply, d) if task.protocol.open else d


def evaluate(config, workdir, tasks: dict, players, params, test_rows) -> tuple:
  """Every protocol on every test question (balanced seats and first movers): metrics, the
  games stored for re-judging (`games_{protocol}.npz`) and their transcripts."""
  out_metrics, rows, correct = {}, [], {}
  for name, task in tasks.items():
    key = cotrain_lib.balanced_keys(task, np.arange(len(task)), None)
    out = players.play(task, key, config.debater, params, config.seed + 7, f"  test {name}")
    m = {**judging.verdict_metrics(out), **reading.quote_stats(task, out)}
    if task.protocol.open:
      claims = np.asarray(out["claims_Bx2"])
      picked = claims[np.arange(len(claims)), key.first]
      m["correct_side_rate"] = float((picked == task.truth(key.example_id)).mean())
      m["correct_side_ci95"] = list(metrics_lib.wilson_ci((picked == task.truth(
          key.example_id)).sum(), len(picked)))
    out_metrics[name] = m
    cotrain_lib.save_games(os.path.join(workdir, f"games_{name}.npz"), key, out)
    mine = reading.transcript_rows(name, task, key, out)
    rows += mine
    correct[name] = {int(i): float(w) for i, w in zip(key.example_id, out["honest_wins_B"])}
    m["by_question_type"] = reading_rules.accuracy_by(correct[name], test_rows, "qtype")
    if task.game.max_turns:  # the quotes' form alone: how far it gets
      m["shallow_rules"] = reading_rules.rule_accuracies(mine, test_rows)
    logging.info("%s: judge accuracy %s", name, metrics_lib.fmt_pct(m["accuracy"], m["ci95"]))
  io.atomic_write_jsonl(os.path.join(workdir, "transcripts.jsonl"), rows)
  for base in ("debate", "open_debate"):  # paired per question against every other protocol
    if base in out_metrics:
      out_metrics[base]["paired"] = reading_rules.paired(correct, base)
  if config.data.source == "synthetic":  # the same judge on other mixtures of question types
    for m in out_metrics.values():
      m["tricky_sweep"] = {str(t): reading_rules.mixture_accuracy(
          m["by_question_type"], reading_lib.type_shares(t)) for t in (0.0, 0.25, 0.5, 0.75, 1.0)}
  return out_metrics, rows


def train_debaters(config, workdir, train_tasks, test_tasks, players, judge_apply, params,
                   network_for, rt) -> tuple:
  """Learned debaters: one transformer policy trained by self-play (policy gradient with a
  value baseline, both seats the same network) against the final judge in debate, measured
  while it trains against the heuristic and greedy debaters; then every protocol played by it.
  Returns (network parameters, self-play history, metrics per protocol)."""
  L = config.learned
  name = "debate" if "debate" in train_tasks else next(
      p for p in train_tasks if train_tasks[p].game.max_turns > 0)
  net = network_for(train_tasks[name].game)
  settings = loop.Settings(
      iterations=L.iterations, games=L.games, sims=1, updates=L.updates,
      batch_size=L.batch_size, learning_rate=L.learning_rate,
      replay_capacity=L.games * max(train_tasks[name].game.max_turns, 1),
      algorithm="policy_gradient", seed=config.seed, play_batch=config.play_batch,
      population_every=L.iterations, checkpoint_every=max(1, L.iterations // 4))
  evaluate = loop.make_evaluator(test_tasks[name], PRECOMMIT, judge_apply, params, net.guide, rt,
                                 games=min(len(test_tasks[name]), 300),
                                 batch_size=config.play_batch, against=("heuristic", "greedy"))
  res = loop.train(task=train_tasks[name], protocols=[protocols.Protocol(precommit=True, first=f)
                                                      for f in (0, 1)],
                   judge_apply=judge_apply, judge_params=params, network=net, settings=settings,
                   runtime=rt, workdir=workdir, evaluate=evaluate,
                   eval_every=L.eval_every, meta={"protocol": name})
  net_params = res["params"]
  by_protocol = {}
  for p, task in test_tasks.items():
    if task.game.max_turns == 0:
      continue
    key = cotrain_lib.balanced_keys(task, np.arange(len(task)), None)
    out = players.play(task, key, "learned", params, config.seed + 13, f"  learned {p}",
                       net_params=net_params)
    by_protocol[p] = {**judging.verdict_metrics(out), **reading.quote_stats(task, out)}
    logging.info("learned debaters, %s: judge accuracy %s", p,
                 metrics_lib.fmt_pct(by_protocol[p]["accuracy"], by_protocol[p]["ci95"]))
  return net_params, res["history"], by_protocol


def stress(config, tasks, players, params) -> dict:
  """Other debaters against the final judge, under debate and consultancy on the test
  questions: `config.stress` specs (e.g. `heuristic/greedy`: an honest side that quotes its
  evidence against a liar that searches every quote for the one the judge believes most)."""
  out = {}
  for spec in config.stress:
    out[spec] = {}
    for name in ("debate", "consultancy"):
      if name in tasks:
        key = cotrain_lib.balanced_keys(tasks[name], np.arange(len(tasks[name])), None)
        tr = players.play(tasks[name], key, spec, params, config.seed + 17, f"  {name} {spec}")
        out[spec][name] = {**judging.verdict_metrics(tr), **reading.quote_stats(tasks[name], tr)}
        logging.info("%s with %s debaters: judge accuracy %s", name, spec,
                     metrics_lib.fmt_pct(out[spec][name]["accuracy"], out[spec][name]["ci95"]))
  return out


def sweep(config, tasks, players, params) -> dict:
  """Judge accuracy against debater strength (best-of-N, Khan et al. 2024) under debate and
  consultancy, with the final judge, on the test questions."""
  out = {}
  for name in ("debate", "consultancy"):
    if name not in tasks or not config.sweep_n:
      continue
    task = tasks[name]
    key = cotrain_lib.balanced_keys(task, np.arange(len(task)), None)
    out[name] = {}
    for n in config.sweep_n:
      tr = players.play(task, key, f"best_of-{n}", params, config.seed + 11, f"  {name} N={n}")
      out[name][str(n)] = judging.verdict_metrics(tr)
  return out


def train_and_evaluate(config, workdir: str) -> dict:
  validate(config)
  # Bad data: one line, before anything is written.
  train_rows, test_rows = setup.load_rows(config)
  rt = common.prepare_workdir(config, workdir)
  t0 = time.time()
  tok = setup.tokenizer(config, workdir, train_rows)
  train_tasks, test_tasks = setup.tasks(config, train_rows, tok), setup.tasks(config, test_rows,
                                                                              tok)
  judge = setup.judge(config, tok)
  judge_apply, tcfg = judge.apply, judge.cfg
  network_for, dcfg = setup.debater_network(config, tok)
  players = cotrain_lib.Players(lambda task, spec: debater(task, judge_apply, spec, network_for),
                                judge_apply, rt, config.play_batch)
  logging.info("judge: %s parameters (%s)", f"{tcfg.params():,}", tcfg)
  j = config.judge
  params, history = cotrain_lib.cotrain(
      train_tasks, players, judge.init, debater=config.debater, opening=j.opening,
      rounds=j.rounds,
      games_per_round=j.games_per_round, steps_per_round=j.steps_per_round,
      batch_size=j.batch_size, learning_rate=j.learning_rate, seed=config.seed, runtime=rt,
      workdir=workdir, log_every=config.log_every, checkpoint_every=config.checkpoint_every)
  judge = judge.with_params(params)
  judge.save(workdir)
  by_protocol, rows = evaluate(config, workdir, test_tasks, players, params, test_rows)
  pretrained, lm_judge, lm = {}, None, {}
  if config.pretrained.model is not None:
    writer = MetricWriter(workdir, name="metrics_pretrained_judge")
    pretrained, lm_judge = text_pretrained.fine_tune_and_judge(
        config, workdir, train_tasks, players, params, train_rows, test_rows, rows, writer)
    writer.close()
    pretrained["capability"] = text_pretrained.capability(by_protocol, pretrained)
  if config.lm_debater.model is not None:
    lm = text_lm.play(config, workdir, test_rows, tok, players, params, lm_judge)
  curves = sweep(config, test_tasks, players, params)
  stressed = stress(config, test_tasks, players, params)
  learned = {}
  if config.learned.iterations:
    _, history_l, learned_protocols = train_debaters(
        config, workdir, train_tasks, test_tasks, players, judge_apply, params, network_for, rt)
    last = history_l[-1] if history_l else {}
    learned = {"protocols": learned_protocols, "params": dcfg.params(),
               "selfplay": [{k: v for k, v in h.items() if not isinstance(v, (list, dict))}
                            for h in history_l],
               "against": {k: v for k, v in last.items() if k.startswith("eval/")}}
  wall = time.time() - t0
  metrics = {"protocols": by_protocol, "cotraining": history, "persuasiveness": curves,
             "stress": stressed,
             "learned_debaters": learned, "pretrained_judge": pretrained, "lm_debaters": lm,
             "judge_params": tcfg.params(), "test_questions": len(test_rows),
             "train_questions": len(train_rows)}
  text_report.plots(workdir, config, by_protocol, history, curves)
  results = common.write_results(workdir, config, metrics=metrics, runtime=rt,
                                 steps=config.judge.rounds * config.judge.steps_per_round,
                                 resumed_from_step=0, wall_seconds=wall)
  common.write_report(workdir, text_report.report(config, metrics, rows, tcfg, wall))
  return results
