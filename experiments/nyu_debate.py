"""The NYU human debates on QuALITY stories (`configs/nyu_debate.py`): the human judges' accuracy
per setting from the data (final verdicts and after every round), and the project's judges
reading the same rooms' transcripts (speeches and their quotes; never the story, never the live
judge's feedback) beside them: shallow rules always, a pretrained model when one is given.
Judges are scored on rooms of stories they are not tuned on: a story-disjoint part of the
shipped split, or another directory in the same format (`data.eval_dir`)."""
from __future__ import annotations

import logging
import os
import time

import numpy as np

from debate import io
from debate import metrics as metrics_lib
from debate import runs as common
from debate.config import check, check_int
from debate.data import nyu
from judges import rules
from judges.base import RecordedJudge, row_key


def validate(config) -> None:
  d = config.data
  for key in ("dir", "eval_dir"):
    check(d[key] is None or os.path.isdir(d[key]), f"data.{key}", d[key],
          "an existing directory with official/*.json and debates-metadata.jsonl (unset: the "
          "shipped data/nyu-debate)")
  check(isinstance(d.eval_fraction, float) and 0 < d.eval_fraction < 1, "data.eval_fraction",
        d.eval_fraction, "a float in (0, 1): the share of stories held out for evaluation")
  check(isinstance(d.paper_rooms_only, bool), "data.paper_rooms_only", d.paper_rooms_only,
        "true or false")
  for r in config.rules:
    check(r in rules.RULES, "rules", config.rules, f"names from {sorted(rules.RULES)}")
  P = config.pretrained
  if P.model is not None:
    from models import llama_weights
    llama_weights.check_file(P.model)  # header and tensor shapes, one line if wrong
    check_int(config, "pretrained.batch_size", 1)
    check_int(config, "pretrained.max_rooms", 1)
    from judges import pretrained as pj
    check(P.readout in pj.READOUTS, "pretrained.readout", P.readout, f"one of {pj.READOUTS}")


def split(loaded: nyu.Loaded, config) -> tuple[list, list]:
  """(tuning rooms, evaluation rooms): stories never shared between the two."""
  if config.data.eval_dir:
    held = nyu.load(config.data.eval_dir)
    logging.info("evaluation rooms: %s", held.summary())
    seen = {r.story_id for r in loaded.rooms}
    return loaded.rooms, [r for r in held.rooms if r.story_id not in seen]
  stories = sorted({r.story_id for r in loaded.rooms})
  order = np.random.default_rng(config.seed).permutation(len(stories))
  n_eval = max(1, int(round(len(stories) * config.data.eval_fraction)))
  held = {stories[i] for i in order[:n_eval]}
  return ([r for r in loaded.rooms if r.story_id not in held],
          [r for r in loaded.rooms if r.story_id in held])


def _scored(correct: np.ndarray) -> dict:
  """Accuracy of 0/1 outcomes (a tie, 0.5, counts half), its Wilson interval and count."""
  n = int(len(correct))
  return {"accuracy": float(np.mean(correct)) if n else None, "n": n,
          "ci95": list(metrics_lib.wilson_ci(float(np.sum(correct)), n)) if n else None}


def _right(p_true) -> np.ndarray:
  """1 when the correct answer's probability is above one half, 0.5 at exactly one half."""
  p = np.asarray(p_true, np.float64)
  return np.where(np.isclose(p, 0.5), 0.5, (p > 0.5).astype(np.float64))


def human_metrics(rooms: list) -> dict:
  """Per setting: the final verdicts (right when the correct answer's probability is above one
  half), and the live judge's accuracy after each of its feedback rounds."""
  out = {}
  for s in nyu.SETTINGS:
    mine = [r for r in rooms if r.setting == s]
    rounds = max((len(r.beliefs) for r in mine), default=0)
    out[s] = {**_scored(np.array([r.judged_right for r in mine], bool)),
              "per_round": [{"round": i, **_scored(_right(
                  [r.beliefs[i][r.correct] for r in mine if len(r.beliefs) > i]))}
                  for i in range(rounds)]}
  return out


def judge_metrics(probs_Nx2: np.ndarray, rows: list[dict]) -> dict:
  truth = np.array([r["true_option"] for r in rows])
  p_true = np.asarray(probs_Nx2)[np.arange(len(rows)), truth]
  settings = np.array([r["setting"] for r in rows])
  out = {}
  for s in nyu.SETTINGS:
    sel = settings == s
    out[s] = {**_scored(_right(p_true[sel])),
              "log_score": float(np.mean(np.log(np.maximum(p_true[sel], 1e-6))))
              if sel.any() else None}
  return out


def train_and_evaluate(config, workdir: str) -> dict:
  validate(config)
  loaded = nyu.load(config.data.dir)  # Damaged data: one line, before anything is written.
  logging.info("NYU rooms: %s", loaded.summary())
  rt = common.prepare_workdir(config, workdir)
  t0 = time.time()
  tune, held = split(loaded, config)
  if config.data.paper_rooms_only:
    held = [r for r in held if r.included_in_paper]
  rows = [r.transcript_row() for r in held]
  judges = {"human": RecordedJudge("human", {row_key(row): r.final
                                              for row, r in zip(rows, held)})}
  judges.update({f"rule:{name}": rules.RuleJudge(name) for name in config.rules})
  verdicts = {name: j.probs(rows) for name, j in judges.items()}
  pretrained = {}
  if config.pretrained.model is not None:
    pretrained, verdicts["pretrained_zero_shot"] = _pretrained(config, rows)
  metrics = {
      "rooms": {"loaded": len(loaded.rooms), "skipped": loaded.skipped,
                "tuning_rooms": len(tune), "evaluated_rooms": len(held),
                "tuning_stories": len({r.story_id for r in tune}),
                "evaluated_stories": len({r.story_id for r in held})},
      "human": human_metrics(held),
      "human_all_stories": human_metrics([r for r in loaded.rooms if r.included_in_paper or
                                          not config.data.paper_rooms_only]),
      "judges": {name: judge_metrics(p, rows[:len(p)]) for name, p in verdicts.items()},
      "pretrained": pretrained,
  }
  io.atomic_write_jsonl(os.path.join(workdir, "transcripts.jsonl"), rows)
  io.atomic_write_jsonl(os.path.join(workdir, "verdicts.jsonl"), [
      {"protocol": row["protocol"], "example": row["example"], "setting": row["setting"],
       "true_option": row["true_option"],
       **{name: [float(x) for x in p[i]] for name, p in verdicts.items() if i < len(p)}}
      for i, row in enumerate(rows)])
  _plot(workdir, metrics)
  wall = time.time() - t0
  results = common.write_results(workdir, config, metrics=metrics, runtime=rt, steps=0,
                                 resumed_from_step=0, wall_seconds=wall)
  common.write_report(workdir, _report(config, metrics, wall))
  return results


def _pretrained(config, rows: list[dict]) -> tuple[dict, np.ndarray]:
  """A pretrained model zero-shot on the first `pretrained.max_rooms` transcripts."""
  from experiments.common import text_pretrained
  judge = text_pretrained.load_judge(config)
  take = rows[:config.pretrained.max_rooms]
  t0 = time.time()
  probs = judge.probs(take)
  info = text_pretrained.describe(judge)
  info.update(rooms=len(take), seconds=time.time() - t0)
  logging.info("pretrained judge: %d transcripts in %.0f s (%.0f tokens/s)", len(take),
               info["seconds"], info["tokens_per_second"])
  return info, probs


def _plot(workdir: str, m: dict) -> None:
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  names = list(m["judges"])
  fig, ax = plt.subplots(figsize=(9, 4))
  width = 0.8 / max(len(names), 1)
  for j, name in enumerate(names):
    accs = [m["judges"][name][s]["accuracy"] or 0 for s in nyu.SETTINGS]
    err = [[a - (m["judges"][name][s]["ci95"] or [a, a])[0] for a, s in zip(accs, nyu.SETTINGS)],
           [(m["judges"][name][s]["ci95"] or [a, a])[1] - a for a, s in zip(accs, nyu.SETTINGS)]]
    ax.bar(np.arange(4) + j * width, accs, width, yerr=np.maximum(np.asarray(err), 0),
           capsize=2, label=name)
  ax.axhline(0.5, color="gray", lw=0.8, ls="--")
  ax.set_xticks(np.arange(4) + 0.4 - width / 2, nyu.SETTINGS)
  ax.set_ylim(0, 1)
  ax.set_ylabel("accuracy (95% CI)")
  ax.set_title("NYU debates, held-out stories: judges on the same rooms")
  ax.legend(fontsize=7, loc="lower right")
  io.savefig(fig, os.path.join(workdir, "accuracy_by_setting.png"))
  plt.close(fig)
  series = {s: ([p["round"] for p in m["human"][s]["per_round"] if p["n"]],
                [p["accuracy"] for p in m["human"][s]["per_round"] if p["n"]])
            for s in nyu.SETTINGS}
  common.plot_curves(os.path.join(workdir, "human_by_round.png"), series, "judge feedback round",
                     "human judge accuracy", "the live judge's belief after each round")


def _report(config, m: dict, wall: float) -> str:
  fmt = lambda r: metrics_lib.fmt_pct(r["accuracy"], r["ci95"]) + f" ({r['n']})" \
      if r["n"] else ""
  rooms = m["rooms"]
  table = [[name] + [fmt(m["judges"][name][s]) for s in nyu.SETTINGS] for name in m["judges"]]
  lines = [
      "# NYU human debates: human and project judges on the same rooms", "",
      f"{rooms['evaluated_rooms']} rooms over {rooms['evaluated_stories']} stories evaluated "
      f"({'another directory' if config.data.eval_dir else 'stories held out of the shipped split'}"
      f"; {rooms['tuning_rooms']} rooms over {rooms['tuning_stories']} other stories for tuning). "
      f"Loaded {rooms['loaded']} scorable rooms; skipped: {rooms['skipped']}. Right when the "
      "probability of the correct answer is above one half (exactly one half counts half); 95% "
      "Wilson intervals, rooms in brackets.", "",
      common.md_table(["judge"] + list(nyu.SETTINGS), table), "",
      "`human`: the live judge's final verdict (Michael et al. 2023 report 84% for human debate "
      "and 74% for human consultancy over all 96 stories, quoted). `rule:*`: shallow rules that "
      "never read an argument (`judges/rules.py`).", "",
      "![accuracy](accuracy_by_setting.png)", "", "## The human judges round by round", "",
      common.md_table(["setting", "final (all scored rooms of the split)"] +
                      [f"after round {i}" for i in range(4)],
                      [[s, fmt(m["human_all_stories"][s])] +
                       [fmt(p) for p in m["human_all_stories"][s]["per_round"][:4]]
                       for s in nyu.SETTINGS]), "",
      "After round i: the live judge's belief after its i-th feedback (round 0: before any "
      "speech); later rounds hold only the rooms that went on, the harder ones.", "",
      "![by round](human_by_round.png)", ""]
  if m["pretrained"]:
    p = m["pretrained"]
    lines += ["## Pretrained judge", "",
              f"`{p['source']}` zero-shot ({p['readout']} readout, both option orders) on the "
              f"first {p['rooms']} evaluated transcripts: {p['tokens_scored']:,} prompt tokens "
              f"in {p['seconds']:.0f} s ({p['tokens_per_second']:.0f} tokens/s).", ""]
  lines += [f"Wall time {wall:.0f} s.", ""]
  return "\n".join(lines)
