"""Re-judging stored text-debate games with another judge (`configs/rejudge.py`): accuracy per
protocol under the new judge beside the original verdicts, and how often the two agree."""
from __future__ import annotations

import os
import time

import numpy as np

from debate import cotrain as cotrain_lib
from debate import judging
from debate import metrics as metrics_lib
from debate import runs as common
from debate.config import check
from debate.tasks import reading_setup as setup

SAME_QUESTIONS = ("data", "sizes", "protocols", "rounds", "simultaneous", "forgeries")


def validate(config) -> tuple:
  games_cfg = setup.run_config(config.games_workdir, "games_workdir")
  judge_cfg = setup.run_config(config.judge_workdir, "judge_workdir")
  for k in ("data", "sizes"):
    check(games_cfg[k].to_dict() == judge_cfg[k].to_dict(), "judge_workdir", config.judge_workdir,
          f"a run on the same questions as games_workdir (its {k} differ)")
  names = [p for p in games_cfg.protocols if os.path.exists(
      os.path.join(config.games_workdir, f"games_{p}.npz"))]
  check(bool(names), "games_workdir", config.games_workdir,
        "a finished text_debate run (it holds no games_{protocol}.npz)")
  return games_cfg, judge_cfg, names


def train_and_evaluate(config, workdir: str) -> dict:
  games_cfg, judge_cfg, names = validate(config)  # One line, before anything is written.
  _, test_rows = setup.load_rows(games_cfg)
  mesh = common.prepare_workdir(config, workdir)
  t0 = time.time()
  tok = setup.tokenizer(judge_cfg, config.judge_workdir, [])
  apply, params, tcfg = setup.load_judge(judge_cfg, config.judge_workdir, tok)
  tasks = setup.tasks(games_cfg, test_rows, tok)
  out = {}
  for name in names:
    path = os.path.join(config.games_workdir, f"games_{name}.npz")
    again = cotrain_lib.rejudge(tasks[name], apply, params, path)
    with np.load(path) as f:
      before = f["honest_wins_B"].astype(bool)
    m = judging.verdict_metrics(again)
    m.update(original_accuracy=float(before.mean()),
             agreement=float((np.asarray(again["honest_wins_B"]) == before).mean()))
    out[name] = m
  metrics = {"protocols": out, "judge_params": tcfg.params(), "games_workdir":
             config.games_workdir, "judge_workdir": config.judge_workdir}
  results = common.write_results(workdir, config, metrics=metrics, mesh=mesh, steps=0,
                                 resumed_from_step=0, wall_seconds=time.time() - t0)
  rows = [[n, metrics_lib.fmt_pct(m["original_accuracy"]),
           metrics_lib.fmt_pct(m["accuracy"], m["ci95"]), f"{m['agreement']:.1%}",
           f"{m['ece']:.3f}", m["games"]] for n, m in out.items()]
  common.write_report(workdir, "\n".join([
      "# Stored debates, judged again", "",
      f"Games of `{config.games_workdir}` (moves replayed, not played again), judged by the "
      f"final judge of `{config.judge_workdir}` ({tcfg.layers}-layer transformer, "
      f"{tcfg.params():,} parameters).", "",
      common.md_table(["protocol", "original judge accuracy", "new judge accuracy [95% CI]",
                       "verdicts agree", "new judge ECE", "games"], rows), ""]))
  return results
