"""End-to-end smoke runs of every experiment through the runner (tiny judges, few games)."""
import json
import os

import numpy as np
import pytest

from experiments import run


def _run(cfg, wd, data_dir, *extra):
  assert run.main(["--config", cfg, "--workdir", wd, f"--config.data.dir={data_dir}",
                   *extra]) == 0
  return json.load(open(os.path.join(wd, "results.json")))


def test_debate_smoke_writes_table_transcripts_and_plots(mnist_dir, tmp_path):
  wd = str(tmp_path / "debate")
  res = _run("configs/mnist_debate.py:smoke,pixels=4,first=liar,precommit=true", wd, mnist_dir)
  cell, baseline = res["debate"]  # MCTS, then greedy on both seats (the default baseline).
  assert baseline["honest_debater"] == baseline["liar_debater"] == "greedy"
  assert "greedy_vs_greedy/honest_win_rate/k4/precommit/liar" in res["metrics"]
  assert {"pixels", "precommit", "first", "honest_debater", "liar_debater", "simulations",
          "num_images", "honest_win_rate", "ci95"} <= set(cell)
  assert cell["pixels"] == 4 and cell["first"] == "liar" and cell["precommit"] is True
  assert cell["num_images"] == 16
  # The paper's protocol by default: each image against each of its 9 lies, scored per image.
  assert cell["liar_protocol"] == "paper" and cell["games"] == 16 * 9
  assert cell["honest_win_rate"] == pytest.approx(cell["per_seed"][0])
  assert cell["honest_win_rate"] * 16 == pytest.approx(round(cell["honest_win_rate"] * 16))
  assert "4" in res["judge"]
  assert cell["last_mover"] == "honest"  # Liar first, 4 reveals.
  assert 0 <= cell["last_reveal_flips_to_last_mover"] <= cell["last_reveal_flips"] <= 1
  rows = [json.loads(l) for l in open(os.path.join(wd, "transcripts.jsonl"))]
  assert len(rows) == 8 and len(rows[0]["moves"]) == 4
  assert [m["player"] for m in rows[0]["moves"]] == ["liar", "honest", "liar", "honest"]
  for f in ("report.md", "examples.png", "lies_by_digit.png"):
    assert os.path.exists(os.path.join(wd, f))
  # A rerun reuses the finished cell instead of playing it again.
  again = _run("configs/mnist_debate.py:smoke,pixels=4,first=liar,precommit=true", wd, mnist_dir)
  assert again["debate"] == res["debate"]
  # ...and still reports its transcripts and pictures.
  assert [json.loads(l) for l in open(os.path.join(wd, "transcripts.jsonl"))] == rows
  assert os.path.getsize(os.path.join(wd, "examples.png")) > 0


@pytest.mark.slow
def test_deterministic_debaters_do_not_replay_seeds(mnist_dir, tmp_path):
  res = _run("configs/mnist_debate.py:smoke,pixels=4,first=honest,precommit=false,"
             "honest=greedy,liar=greedy,seeds=3,images=4", str(tmp_path / "g"), mnist_dir)
  assert len(res["debate"]) == 1  # The greedy baseline is the pair itself.
  assert res["debate"][0]["seeds_played"] == 1 and res["debate"][0]["seeds"] == 3


@pytest.mark.slow  # The generic self-play and tournament run in the default suite on the toy game.
def test_selfplay_then_tournament_smoke(mnist_dir, tmp_path):
  """Self-play saves a population; the tournament plays every pairing and fits Elo."""
  sp = str(tmp_path / "selfplay")
  res = _run("configs/mnist_selfplay.py:smoke", sp, mnist_dir)
  assert res["metrics"]["population"] == ["population/iter_00002", "population/iter_00004"]
  assert "eval/random/learned_honest_wins" in res["metrics"]["final_eval"]
  for f in ("report.md", "selfplay_eval.png", "metrics_selfplay.jsonl", "net.json"):
    assert os.path.exists(os.path.join(sp, f))
  tn = _run("configs/mnist_tournament.py:smoke,debaters=random+greedy+learned",
            str(tmp_path / "tournament"), mnist_dir, f"--config.selfplay_workdir={sp}")
  names = {"random", "greedy", "learned", "learned@iter_00002"}
  assert set(tn["metrics"]["elo"]) == names and tn["metrics"]["elo"]["random"] == 0.0
  assert set(tn["metrics"]["honest_win_rate"]) == names
  assert all(v > 0 for v in tn["metrics"]["seconds_per_game"].values())
  assert len(tn["metrics"]["win_matrix"]) == 16
  for f in ("win_matrix.png", "persuasiveness.png", "report.md"):
    assert os.path.exists(os.path.join(str(tmp_path / "tournament"), f))


@pytest.mark.slow
def test_uses_of_debate_smoke(mnist_dir, tmp_path):
  d = _run("configs/distill_reward.py:smoke", str(tmp_path / "distill"), mnist_dir)
  for key in ("agreement", "accuracy", "ece", "cost_ratio"):
    assert key in d["metrics"]
  rl = _run("configs/debate_reward_rl.py:smoke", str(tmp_path / "rl"), mnist_dir,
            f"--config.tables_from={tmp_path / 'distill'}")
  assert set(rl["metrics"]["policy_accuracy"]) == {"truth", "debate", "judge", "distilled"}
  assert os.path.exists(tmp_path / "rl" / "policy_accuracy.png")
  rt = _run("configs/debate_runtime.py:smoke", str(tmp_path / "rt"), mnist_dir)
  assert {"weak", "saboteur"} == set(rt["metrics"]["checks"])


def test_debate_report_gives_the_mean_of_both_first_movers():
  from configs import mnist_debate as debate_config
  from experiments.common import mnist_table2
  config = debate_config.get_config("pixels=6,precommit=true")
  cells = [{"pixels": 6, "precommit": True, "first": first, "honest_win_rate": rate,
            "honest_debater": "mcts", "liar_debater": "mcts",
            "ci95": [rate - 0.02, rate + 0.02], "games": 10, "seconds": 1.0,
            "games_per_second": 10.0, "judge_calls_per_game": 7, "judge_calls_per_second": 70.0}
           for first, rate in (("honest", 0.7), ("liar", 0.9))]
  judge = {"6": {"arch": "paper", "source": "runs/j", "accuracy": 0.55, "ci95": [0.54, 0.56]}}
  md = mnist_table2.report(config, cells, judge, 1.0)
  row = "| 6 | honest | 55.0% [54.0, 56.0] (59.4%) | - (67.4%) | 70.0% [68.0, 72.0] (87.4%) |"
  assert row in md
  assert "| 6 | mean | 55.0% (59.4%) | - | 80.0% (88.9%) |" in md


def test_last_reveal_flips_compares_the_verdict_before_and_after_the_last_reveal():
  import numpy as np
  from experiments import mnist_debate
  from debate.games import mnist_pixels as g
  images = np.zeros((3, 28, 28), np.float32)
  images[:, 10, 10:14] = 1.0
  from debate import protocols
  games = g.make_examples(images, np.array([3, 3, 3]), np.array([5, 5, 5]), 0, 32)
  logits = np.zeros((3, 4, 10), np.float32)
  logits[0, 2, 3], logits[0, 3, 5] = 1.0, 1.0   # Honest led, the last reveal turned it: flip.
  logits[1, 2, 3], logits[1, 3, 3] = 1.0, 1.0   # Honest led and still leads: no flip.
  logits[2, 2, 5], logits[2, 3, 3] = 1.0, 1.0   # The liar led, honest won at the end: flip.
  out = {"judge_logits_BxTxC": logits, "honest_wins_B": np.array([False, True, True])}
  pre, open_ = protocols.Protocol(precommit=True), protocols.Protocol(precommit=False)
  assert mnist_debate.last_reveal_flips(out, games, pre).tolist() == [True, False, True]
  # Without precommit the verdict is the argmax against the true label (3).
  logits[1, 2] = 0.0
  logits[1, 2, 7] = 2.0  # Before the last reveal the judge said 7: a flip to honest.
  no_claim = g.make_examples(images, np.array([3, 3, 3]), np.full(3, g.NO_CLAIM), 0, 32)
  assert mnist_debate.last_reveal_flips(out, no_claim, open_).tolist() == [True, True, True]


@pytest.mark.slow
def test_benchmark_debate_counts_judge_calls(digits_dir):
  """The debate benchmark runs ours and the reference; no timing is asserted, only what the
  counts must satisfy: at most one judged leaf per simulation, the tree never judges more."""
  from experiments import benchmark
  res = benchmark.bench_debate(None, digits_dir, sims=6, k=4, games=8, ref_games=1,
                               variants=("incremental_judge", "constant_judge"), rounds=2,
                               count_games=3)
  ours = res["vectorized"]
  assert ours["judged_leaves_counted_on_games"] == 3
  assert len(ours["judged_leaves_per_move"]) == 4
  assert all(0 < n <= 6 for n in ours["judged_leaves_per_move"])
  assert ours["judge_calls_per_game"] <= res["reference"]["judge_calls_per_game"] + 4 + 1
  # The speed-up is the median of the per-round ratios of rates measured in this run.
  ratios = [a / b for a, b in zip(ours["games_per_second_rounds"],
                                  res["reference"]["games_per_second_rounds"])]
  assert res["speedup_rounds"] == pytest.approx(ratios)
  assert res["speedup"] == pytest.approx(np.median(ratios))
  # Busy cores: CPU time over wall time, at most the cores this process may use.
  assert all(0 < c <= len(os.sched_getaffinity(0)) + 0.5 for c in ours["cores_busy_rounds"])
  # The matmul floor: each judged leaf reveals between 1 and k pixels since its search's root.
  floor = benchmark.matmul_floor({"dense_layers_only_evals_per_second": 1e3,
                                  "window_matmul_only_pixels_per_second": 4e3}, res, 4)
  judged = sum(ours["judged_leaves_per_move"])
  assert judged <= floor["pixel_updates_per_game"] <= 4 * judged
  assert floor["speedup_bound"] == pytest.approx(
      floor["games_per_second"] / res["reference"]["games_per_second"])
  # The tree search's own time only lowers the bound.
  tree = floor["with_tree_search"]
  assert tree["seconds_per_game"] == pytest.approx(
      floor["seconds_per_game"] + 1 / res["vectorized_constant_judge"]["games_per_second"])
  assert tree["speedup_bound"] < floor["speedup_bound"]
  # count_games=0 skips the count (and nothing reports a count it did not make).
  res0 = benchmark.bench_debate(None, digits_dir, sims=6, k=4, games=8, ref_games=1,
                                variants=("incremental_judge",), rounds=1, count_games=0)
  assert "judged_leaves_per_move" not in res0["vectorized"]
  assert "judge_calls_per_game" not in res0["vectorized"]


@pytest.mark.slow
def test_benchmark_greedy_one_game_per_call_plays_the_batched_games(digits_dir):
  """Greedy one game per call and in one batch play the same games (verdicts), both judges
  agree, and the quoted reproduction rate is carried as quoted, never as a measurement."""
  from experiments.bench import debaters
  res = debaters.bench_greedy(None, digits_dir, k=2, games=8, rounds=1, single_games=3)
  assert res["same_verdicts"] == 1.0
  one = res["incremental_judge_one_game_per_call"]
  assert one["games"] == 3 and one["same_verdicts_as_batched"]
  assert one["games_per_second_with_compile"] < one["games_per_second"]
  assert "reproduction_games_per_second" not in res
  assert res["quoted_reproduction_games_per_second"] == debaters.QUOTED_REPRODUCTION_GREEDY_GAMES_PER_SECOND


def test_benchmark_rejects_bad_debate_flags(tmp_path, capsys):
  """Bad flags stop the benchmark before any work, naming the value and what is allowed."""
  from experiments import benchmark
  for flag, value, allowed in (("--count_games", "-1", "0 (no count)"),
                               ("--rounds", "0", "at least 1"),
                               ("--variants", "fast_judge", "incremental_judge")):
    with pytest.raises(SystemExit):
      benchmark.main(["--parts", "debate", flag, value, "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert value in err and allowed in err
  assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_benchmark_diagnostics_count_what_they_claim(digits_dir):
  """Judging in batches of any size grows the same trees; a table of verdicts by pixel set
  could only answer sets judged before, and never at the last move within one search (those
  are distinct terminal states, and a terminal state reached again is not judged again)."""
  from experiments import benchmark
  sl = benchmark.bench_judge_buckets(None, digits_dir, sims=8, k=4, games=4, moves=(0, 2),
                                     buckets=(1, 4), rounds=1)
  for move in sl["moves"].values():
    assert move["buckets_1"]["rounds"][0]["judged_leaves_per_game"] == \
        move["buckets_4"]["rounds"][0]["judged_leaves_per_game"]
  rep = benchmark.bench_repeated_sets(None, digits_dir, sims=8, k=4, games=4)
  assert [m["reveals_left"] for m in rep["per_move"]] == [4, 3, 2, 1]
  for m in rep["per_move"]:
    assert 0 <= m["seen_in_this_search"] <= m["seen_in_this_game"] <= \
        m["judged_leaves_per_game"] <= 8
  assert rep["per_move"][-1]["seen_in_this_search"] == 0


def test_dense_input_reach_covers_every_cell_a_pixel_changes():
  """The bound on a sparse dense layer counts the cells a new pixel can change: revealing it
  (next to two revealed pixels) changes the paper judge's dense input only inside its reach,
  and (for this random judge) in every cell of it."""
  import jax
  import numpy as np
  from flax import nnx
  from experiments.bench.judge import dense_input_reach
  from judges import mnist_judge as jl
  model = jl.SparseJudge(jl.get_arch("paper"), rngs=nnx.Rngs(0))
  rng = np.random.default_rng(0)
  image = rng.uniform(0.1, 1.0, (28, 28)).astype(np.float32)
  pixels = np.array([0, 27, 29, 14 * 28 + 14, 5 * 28 + 22, 783])
  root = np.zeros((len(pixels), 784), bool)
  for i, p in enumerate(pixels):  # Two revealed pixels near each new one.
    root[i, [(p + 1) % 784, (p + 28 * 2) % 784]] = True
  leaf = root.copy()
  leaf[np.arange(len(pixels)), pixels] = True
  images = np.broadcast_to(image, (len(pixels), 28, 28))
  feats = jax.jit(lambda m: model.features(jl.judge_input(m.reshape(-1, 28, 28), images)))
  diff = np.abs(np.asarray(feats(leaf) - feats(root))).reshape(-1, 7, 7, 64).max(-1)
  reach = dense_input_reach(pixels)
  # Nothing changes outside the reach, and (tight for this judge) every cell inside changes.
  np.testing.assert_array_equal(diff > 0, reach)
  assert list(reach.sum((1, 2))) == [4, 4, 4, 16, 9, 4]  # Near corners: 2 x 2 cells.


def test_lies_by_digit_plots_all_wins_no_wins_and_no_images(tmp_path):
  """Digits where the liar always won (a Wilson bound equal to the rate up to rounding), never
  won, or had no images at all."""
  from debate.games import mnist_plots as plots
  labels = np.repeat(np.arange(8), 100)
  liar_won = np.concatenate([np.ones(400, bool), np.zeros(400, bool)])
  path = str(tmp_path / "lies.png")
  drawn = plots.lies_by_digit(path, {"cell": (labels, liar_won)})["cell"]
  assert [drawn[d][:3] for d in range(4)] == [(100, 100, 1.0)] * 4
  assert [drawn[d][:3] for d in range(4, 8)] == [(0, 100, 0.0)] * 4
  assert drawn[8] is None and drawn[9] is None  # No images: marked, not drawn as a 0% bar.
  lo, hi = drawn[0][3:]
  assert 0.95 < lo < 1.0 and hi == pytest.approx(1.0)  # A Wilson bound, not a [1, 1] bar.
  from PIL import Image
  with Image.open(path) as im:
    assert im.format == "PNG" and im.size[0] > im.size[1] > 100
