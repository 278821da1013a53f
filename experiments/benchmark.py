r"""Benchmarks: judge training and inference, MCTS debate games vs a one-game-at-a-time reference.

  python -m experiments.benchmark --out runs/bench            # everything (about 10 minutes)
  python -m experiments.benchmark --parts judge --devices 8   # one part on 8 fake CPU devices

Writes `results.json` and `benchmark.md` to --out. Numbers go to docs/BENCHMARKS.md by hand, with
the machine and this command; tests never assert timings.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys

from experiments.bench.common import SHIPPED_MNIST
# The parts (experiments/bench/), by what they measure; importable from here.
from experiments.bench.debaters import bench_greedy, bench_imitation
from experiments.bench.pretrained import bench_pretrained
from experiments.bench.judge import (bench_incremental, bench_judge, bench_leaf_costs,
                                     dense_cells_changed, matmul_floor, matmul_peak)
from experiments.bench.search import (VARIANTS, bench_debate, bench_judge_buckets,
                                      bench_leaf_paths, bench_repeated_sets)
from experiments.bench.judging import bench_judging
from experiments.bench.text import (bench_text, bench_text_debater, bench_text_evidence,
                                   bench_text_reading)


def _setup_devices(n: int) -> None:
  if n > 1:
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                               f" --xla_force_host_platform_device_count={n}")


def main(argv=None) -> int:
  p = argparse.ArgumentParser(description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--out", default="runs/bench")
  p.add_argument("--parts", default="peak,judge,judge8,incremental,debate",
                 help="comma list of peak, judge, judge8, incremental, debate; and, not in "
                 "the default, judge_buckets (one move's search with leaf_value's batch "
                 "sizes varied), repeated_sets (judged leaves a table of verdicts by pixel set "
                 "would save), "
                 "leaf_costs (a leaf from per-pixel changes vs conv2's window per new pixel), "
                 "leaf_paths (each move's search with either), "
                 "greedy (greedy games/s against the public reproduction's), "
                 "imitation (the self-play network against greedy, move by move; needs "
                 "--selfplay_workdir) "
                 "dense_cells (the dense layer's share a leaf's new pixels can change) "
                 "and text (the text-debate judge: training and scoring tokens/s and share of "
                 "the matmul peak at each protocol's view length), pretrained (a pretrained "
                 "checkpoint, --model: scoring and generation tokens/s, share of the matmul "
                 "peak, memory), text_evidence (the text "
                 "judge trained on debates whose honest side quotes the decisive sentence), "
                 "text_reading (can the from-scratch text judge read: trained on labelled "
                 "oracle and full-information views, scored on seen and held-out splits), "
                 "judging (the judging page: 50 judges submitting 2,000 verdicts at once to a "
                 "server process; nothing lost, latency percentiles)")
  p.add_argument("--devices", type=int, default=1)
  p.add_argument("--model", default="smollm2", help="pretrained part: smollm2, a .gguf file or a "
                 "safetensors directory")
  p.add_argument("--judge_workdir", default=None)
  p.add_argument("--selfplay_workdir", default=None)
  p.add_argument("--data_dir", default=SHIPPED_MNIST)
  p.add_argument("--sims", type=int, default=100)
  p.add_argument("--k", type=int, default=6)
  p.add_argument("--games", type=int, default=200)
  p.add_argument("--ref_games", type=int, default=3, help="reference games per round")
  p.add_argument("--rounds", type=int, default=3,
                 help="debate part: rounds of (ours, reference); the median ratio is reported")
  p.add_argument("--count_games", type=int, default=None,
                 help="debate part: count judged leaves on this many of the games (default all; "
                 "0: no count)")
  p.add_argument("--variants", default=",".join(VARIANTS),
                 help="debate part: which judges the vectorized search runs with (comma list; "
                 "incremental_judge is always run)")
  a = p.parse_args(argv)
  _setup_devices(a.devices)
  import jax
  parts = a.parts.split(",")
  res = {"machine": {"platform": platform.platform(), "processor": platform.processor(),
                     "cpus": os.cpu_count(), "backend": jax.default_backend(),
                     "devices": jax.device_count()}}
  if "peak" in parts:
    res["matmul_peak_gflops"] = matmul_peak() / 1e9
  if "judge" in parts:
    res["judge"] = bench_judge()
  if "judge8" in parts:
    subprocess.run([sys.executable, "-m", "experiments.benchmark", "--parts", "judge",
                    "--devices", "8", "--out", os.path.join(a.out, "devices8")],
                   capture_output=True, text=True, check=True)
    with open(os.path.join(a.out, "devices8", "results.json")) as f:
      res["judge_8_devices"] = json.load(f)["judge"]
  if "incremental" in parts:
    res["incremental_judge"] = bench_incremental()
  if "debate" in parts:
    variants = tuple(a.variants.split(","))
    unknown = set(variants) - set(VARIANTS)
    if unknown:
      p.error(f"--variants {sorted(unknown)} unknown; allowed: {', '.join(VARIANTS)}")
    if a.rounds < 1:
      p.error(f"--rounds={a.rounds}; allowed: at least 1")
    if a.count_games is not None and a.count_games < 0:
      p.error(f"--count_games={a.count_games}; allowed: 0 (no count), a positive number, or "
              "leave it out (all games)")
    res["debate"] = bench_debate(a.judge_workdir, a.data_dir, a.sims, a.k, a.games, a.ref_games,
                                 variants, a.rounds, a.count_games)
  if "greedy" in parts:
    res["greedy"] = bench_greedy(a.judge_workdir, a.data_dir, a.k, a.games, a.rounds)
  if "imitation" in parts:
    if not a.selfplay_workdir:
      p.error("--parts imitation needs --selfplay_workdir (a configs/mnist_selfplay.py run)")
    res["imitation"] = bench_imitation(a.judge_workdir, a.data_dir, a.k, a.games,
                                       a.selfplay_workdir)
  if "text" in parts:
    res["text_judge"] = bench_text()
    res["text_debater"] = bench_text_debater()
  if "pretrained" in parts:
    peak = res.get("matmul_peak_gflops")
    res["pretrained"] = bench_pretrained(a.model, peak * 1e9 if peak else None)
  if "text_evidence" in parts:
    res["text_evidence"] = [
        bench_text_evidence(train_questions=n, steps=s, evidence_rate=r,
                            workdir=os.path.join(a.out, f"text_evidence_{n}_{s}_{r}"))
        for n, s, r in ((4000, 600, 1.0), (4000, 600, 0.15), (12000, 1500, 0.15))]
  if "text_reading" in parts:
    res["text_reading"] = bench_text_reading(workdir=os.path.join(a.out, "text_reading"))
  if "judging" in parts:
    res["judging"] = bench_judging()
  if "dense_cells" in parts:
    res["dense_cells_changed"] = dense_cells_changed(a.data_dir, a.k)
  if "incremental_judge" in res and "judged_leaves_per_move" in res.get("debate", {}).get(
      "vectorized", {}):
    res["debate"]["matmul_floor"] = matmul_floor(res["incremental_judge"], res["debate"], a.k,
                                                 res.get("dense_cells_changed"))
  if "judge_buckets" in parts:
    res["judge_buckets"] = bench_judge_buckets(a.judge_workdir, a.data_dir, a.sims, a.k, a.games)
  if "leaf_paths" in parts:
    res["leaf_paths"] = bench_leaf_paths(a.judge_workdir, a.data_dir, a.sims, a.k, a.games)
  if "leaf_costs" in parts:
    res["leaf_costs"] = bench_leaf_costs(a.judge_workdir, a.data_dir)
  if "repeated_sets" in parts:
    res["repeated_sets"] = bench_repeated_sets(a.judge_workdir, a.data_dir, a.sims, a.k,
                                               a.games)
  from debate import io
  io.atomic_write_json(os.path.join(a.out, "results.json"), res)
  print(io.dumps(res))
  return 0


if __name__ == "__main__":
  sys.exit(main())
