"""Re-judging stored text-debate games with another judge (`configs/rejudge.py`): accuracy per
protocol under the new judge beside the original verdicts, and how often the two agree."""
from __future__ import annotations

import os
import time

import numpy as np

from debate import cotrain as cotrain_lib
from debate import io, judging
from debate import metrics as metrics_lib
from debate import runs as common
from debate.config import check, check_int
from debate.games import text as text_game
from experiments.common import text_arguments
from experiments.common import text_pretrained
from experiments.common import text_setup as setup

SAME_QUESTIONS = ("data", "sizes", "protocols", "rounds", "simultaneous", "forgeries")


def _validate_arguments(config, games_cfg) -> None:
  from models import llama_weights
  A = config.arguments
  if A.model is None:
    return
  check(config.judge != "small", "arguments", A.model, "none with judge=small (the from-scratch "
        "judge reads quote tokens, not text)")
  for k in ("tokens", "batch_size", "per_protocol"):
    check_int(config, f"arguments.{k}", 1)
  if A.layers is not None:
    check_int(config, "arguments.layers", 1)
  llama_weights.check_file(A.model, A.layers)  # header and tensor shapes
  quoting = [p for p in games_cfg.protocols if text_game.FORMATS[p].speakers]
  for p in A.protocols:
    check(p in quoting, "arguments.protocols", A.protocols, f"protocols of the run that quote: "
          f"{quoting}")


def validate(config) -> tuple:
  games_cfg = setup.run_config(config.games_workdir, "games_workdir")
  _validate_arguments(config, games_cfg)
  if config.human is not None:
    check(config.judge == "small", "human", config.human, "None with a model judge (people's "
          "verdicts go beside judge=small)")
    io.read_jsonl(config.human, strict=True)  # one line if missing or damaged
  if config.judge not in ("small", "pretrained"):
    from models import llama_weights
    if config.layers is not None:
      check_int(config, "layers", 1)
    llama_weights.check_file(config.judge, config.layers)  # one line when it is not a model
    from judges import pretrained as pj
    check(config.readout in pj.READOUTS, "readout", config.readout, f"one of {list(pj.READOUTS)}")
    check_int(config, "batch_size", 1)
  if config.judge != "small":
    check(os.path.basename(config.transcripts) == config.transcripts and os.path.exists(
        os.path.join(config.games_workdir, config.transcripts)), "transcripts",
        config.transcripts, f"a transcript file of games_workdir (one of "
        f"{sorted(f for f in os.listdir(config.games_workdir) if f.endswith('.jsonl'))})")
    io.read_jsonl(os.path.join(config.games_workdir, config.transcripts), strict=True)
  if config.judge not in ("small", "pretrained"):
    return games_cfg, None, []
  judge_cfg = setup.run_config(config.judge_workdir, "judge_workdir")
  if config.judge == "pretrained":
    check(judge_cfg.get("pretrained", {}).get("model") is not None and os.path.exists(
        os.path.join(config.judge_workdir, text_pretrained.DIR, "top.npz")), "judge_workdir",
        config.judge_workdir, "a text_debate run with a fine-tuned pretrained judge (judge=smollm2"
        " or a model path) for judge=pretrained")
  for k in ("data", "sizes"):
    check(games_cfg[k].to_dict() == judge_cfg[k].to_dict(), "judge_workdir", config.judge_workdir,
          f"a run on the same questions as games_workdir (its {k} differ)")
  names = [p for p in games_cfg.protocols if os.path.exists(
      os.path.join(config.games_workdir, f"games_{p}.npz"))]
  check(bool(names), "games_workdir", config.games_workdir,
        "a finished text_debate run (it holds no games_{protocol}.npz)")
  for p in names:  # a damaged file: one line now, not after the workdir is made
    io.load_npz(os.path.join(config.games_workdir, f"games_{p}.npz"))
  return games_cfg, judge_cfg, names


def train_and_evaluate(config, workdir: str) -> dict:
  games_cfg, judge_cfg, names = validate(config)  # One line, before anything is written.
  _, test_rows = setup.load_rows(games_cfg)
  if judge_cfg is None or config.judge == "pretrained":
    return _pretrained(config, workdir, games_cfg, judge_cfg, test_rows)
  t0 = time.time()
  tok = setup.tokenizer(judge_cfg, config.judge_workdir, [])
  judge = setup.judge(judge_cfg, tok).load(config.judge_workdir)
  rt = common.prepare_workdir(config, workdir)
  apply, params, tcfg = judge.apply, judge.params, judge.cfg
  tasks = setup.tasks(games_cfg, test_rows, tok)
  out, correct = {}, {}
  for name in names:
    path = os.path.join(config.games_workdir, f"games_{name}.npz")
    again = cotrain_lib.rejudge(tasks[name], apply, params, path)
    stored = io.load_npz(path)
    before = stored["honest_wins_B"].astype(bool)
    m = judging.verdict_metrics(again)
    m.update(original_accuracy=float(before.mean()),
             agreement=float((np.asarray(again["honest_wins_B"]) == before).mean()))
    out[name] = m
    correct[name] = {int(i): (bool(w), bool(b)) for i, w, b in zip(
        stored["example_id"], np.asarray(again["honest_wins_B"]), before)}
  metrics = {"protocols": out, "judge_params": tcfg.params(), "games_workdir":
             config.games_workdir, "judge_workdir": config.judge_workdir}
  if config.human is not None:  # people's verdicts from the judging page, on the same games
    metrics["human"] = human_beside(config.human, os.path.join(config.games_workdir,
                                                               "transcripts.jsonl"), correct)
  results = common.write_results(workdir, config, metrics=metrics, runtime=rt, steps=0,
                                 resumed_from_step=0, wall_seconds=time.time() - t0)
  rows = [[n, metrics_lib.fmt_pct(m["original_accuracy"]),
           metrics_lib.fmt_pct(m["accuracy"], m["ci95"]), f"{m['agreement']:.1%}",
           f"{m['ece']:.3f}", m["games"]] for n, m in out.items()]
  human_rows = [[n, h["games"], metrics_lib.fmt_pct(h["accuracy"], h["ci95"]),
                 metrics_lib.fmt_pct(h["new_judge_accuracy"]),
                 metrics_lib.fmt_pct(h["original_judge_accuracy"])]
                for n, h in metrics.get("human", {}).items()]
  common.write_report(workdir, "\n".join([
      "# Stored debates, judged again", "",
      f"Games of `{config.games_workdir}` (moves replayed, not played again), judged by the "
      f"final judge of `{config.judge_workdir}` ({tcfg.layers}-layer transformer, "
      f"{tcfg.params():,} parameters).", "",
      common.md_table(["protocol", "original judge accuracy", "new judge accuracy [95% CI]",
                       "verdicts agree", "new judge ECE", "games"], rows), ""] + ([
      "## People beside the model judges, on the games people judged", "",
      f"Verdicts of `{config.human}` (the judging page's export).", "",
      common.md_table(["protocol", "games", "people [95% CI]", "new judge", "original judge"],
                      human_rows), ""] if human_rows else [])))
  return results


def human_beside(path: str, transcripts: str, correct: dict) -> dict:
  """Per protocol, on the games people judged (`python -m experiments.serve ... export`): their
  accuracy (several people on one game: their mean probability) beside both model judges'."""
  rows = io.read_jsonl(path, strict=True)
  truth = {(t["protocol"], t["example"]): t["true_option"]
           for t in io.read_jsonl(transcripts, strict=True)}
  probs: dict[tuple, list] = {}
  for r in rows:
    if (r.get("protocol"), r.get("example")) in truth:
      probs.setdefault((r["protocol"], r["example"]), []).append(r["probs"])
  out = {}
  for name, games in correct.items():
    mine = [(k[1], np.mean(v, 0)) for k, v in probs.items() if k[0] == name and k[1] in games]
    if not mine:
      continue
    right = np.array([p[truth[name, i]] > 0.5 for i, p in mine])
    out[name] = {"games": len(mine), "accuracy": float(right.mean()),
                 "ci95": list(metrics_lib.wilson_ci(right.sum(), len(right))),
                 "new_judge_accuracy": float(np.mean([games[i][0] for i, _ in mine])),
                 "original_judge_accuracy": float(np.mean([games[i][1] for i, _ in mine]))}
  return out


def _pretrained(config, workdir, games_cfg, judge_cfg, test_rows) -> dict:
  """The stored transcripts judged by a pretrained model: zero-shot (`judge`: the model), or with
  the top layers `judge_workdir`'s run fine-tuned (`judge=pretrained`)."""
  import ml_collections
  transcripts = io.read_jsonl(os.path.join(config.games_workdir, config.transcripts),
                              strict=True)
  A = config.arguments
  if A.model is not None:
    transcripts = text_arguments.pick(transcripts, A.protocols, A.per_protocol)
  for t in transcripts:
    row = test_rows[t["example"]] if t["example"] < len(test_rows) else {}
    check(row.get("question") == t["question"], "games_workdir", config.games_workdir,
          "a run whose transcripts match its own test questions (transcript of example "
          f"{t['example']} asks {t['question']!r})")
  if config.judge == "pretrained":
    settings = ml_collections.ConfigDict(judge_cfg.to_dict())
    settings.pretrained.update(test_per_protocol=len(transcripts), batch_size=config.batch_size,
                               both_orders=config.both_orders)
  else:
    settings = ml_collections.ConfigDict({"pretrained": {
        "model": config.judge, "layers": config.layers, "top_layers": 0,
        "batch_size": config.batch_size, "bucket": 32, "both_orders": config.both_orders,
        "readout": config.readout,
        "test_per_protocol": len(transcripts)}})
  t0 = time.time()
  judge = text_pretrained.load_judge(settings)  # (model, top: one line each if damaged)
  finetuned = config.judge == "pretrained"
  if finetuned:
    judge.top = text_pretrained.load_top(config.judge_workdir, judge)
  rt = common.prepare_workdir(config, workdir)
  scored, p_true = text_pretrained.evaluate(settings, judge, transcripts, test_rows,
                                               finetuned)
  which = "finetuned" if finetuned else "zero_shot"
  out = {}
  for name, m in scored.items():
    before = np.array([t["winner"] == "honest" for t in transcripts if t["protocol"] == name])
    out[name] = {**m[which], "original_accuracy": float(before.mean()),
                 "agreement": float(np.mean((p_true[name][which] > 0.5) == before))}
  argued = None
  if A.model is not None:
    argued = text_arguments.argue_and_judge(_with_arguments(settings, A), judge, transcripts,
                                            test_rows, finetuned, workdir, p_true)
  described = text_pretrained.describe(judge)
  metrics = {"protocols": out, "judge": described, "games_workdir": config.games_workdir,
             "judge_workdir": config.judge_workdir, "transcripts": config.transcripts,
             "arguments": argued}
  results = common.write_results(workdir, config, metrics=metrics, runtime=rt, steps=0,
                                 resumed_from_step=0, wall_seconds=time.time() - t0)
  rows = [[n, metrics_lib.fmt_pct(m["original_accuracy"]),
           metrics_lib.fmt_pct(m["accuracy"], m["ci95"]), f"{m['agreement']:.1%}",
           f"{m['ece']:.3f}", f"{m['log_score']:.3f}", m["games"]] for n, m in out.items()]
  what = (f"its top {described['top_layers']} block(s) fine-tuned by `{config.judge_workdir}`"
          if finetuned else "zero-shot")
  common.write_report(workdir, "\n".join([
      "# Stored debates, judged again by a pretrained model", "",
      f"Transcripts of `{config.games_workdir}` (`{config.transcripts}`) judged by `{described['source']}` "
      f"({described['layers']} layers, {described['params']:,} parameters), {what}: "
      f"{text_pretrained.READOUT_TEXT[described['readout']]}, with the question, the options "
      "and the quotes (each marked verified or not); the passage only under full information.",
      "",
      common.md_table(["protocol", "original judge accuracy", "new judge accuracy [95% CI]",
                       "verdicts agree", "new judge ECE", "log score", "transcripts"], rows), "",
      *(text_arguments.report_lines(argued) if argued else []),
      f"{described['tokens_scored']:,} prompt tokens judged at "
      f"{described['tokens_per_second']:.0f} tokens/s; wall {time.time() - t0:.0f} s.", ""]))
  return results


def _with_arguments(settings, arguments):
  import ml_collections
  out = ml_collections.ConfigDict(settings.to_dict())
  out.arguments = ml_collections.ConfigDict(arguments.to_dict())
  return out
