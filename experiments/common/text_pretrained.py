"""A pretrained language model judging the reading task (`config.pretrained`): zero-shot, and
with its top layers fine-tuned on transcripts of the run's own debaters on training questions;
both scored on the test transcripts of every protocol, the report the from-scratch judge gets.

Under full information the judge reads the passage (the question row's `passage`); under every
other protocol only the question, the options and the transcript (`judges.pretrained`)."""
from __future__ import annotations

import logging
import os
import time

import jax
import numpy as np

from debate import cotrain, io
from debate.config import check, check_int
from debate.games import text as text_game
from debate.tasks import reading
from judges import pretrained as pj
from judges import pretrained_finetune as ft

DIR = "pretrained_judge"  # Where a run keeps the fine-tuned top (top.npz) and its settings.


def validate(config) -> None:
  """One line per bad value, before anything is written or loaded."""
  P = config.pretrained
  if P.model is None:
    return
  from models import llama_weights
  if P.layers is not None:
    check_int(config, "pretrained.layers", 1)
  check_int(config, "pretrained.top_layers", 0)
  # The file's header and tensor shapes (one line naming the value when it is not a model)
  blocks = llama_weights.check_file(P.model, P.layers).config.layers
  check(P.top_layers <= blocks, "pretrained.top_layers", P.top_layers,
        f"at most the model's {blocks} blocks")
  if P.layers is not None:
    check(P.top_layers <= P.layers, "pretrained.top_layers", P.top_layers,
          f"at most pretrained.layers={P.layers}")
  for key in ("train_per_protocol", "test_per_protocol", "batch_size", "bucket", "steps",
              "finetune_batch", "eval_every"):
    check_int(config, f"pretrained.{key}", 1)
  check_int(config, "pretrained.warmup", 0)
  check(P.readout in pj.READOUTS, "pretrained.readout", P.readout, f"one of {list(pj.READOUTS)}")
  check(isinstance(P.learning_rate, float) and 0 < P.learning_rate < 1,
        "pretrained.learning_rate", P.learning_rate, "a float in (0, 1)")
  check(isinstance(P.val_fraction, float) and 0 < P.val_fraction < 1, "pretrained.val_fraction",
        P.val_fraction, "a float in (0, 1)")


def load_judge(config) -> pj.PretrainedJudge:
  from models import llama_tokenizer, llama_weights
  P = config.pretrained
  ck = llama_weights.load(P.model, layers=P.layers)
  return pj.PretrainedJudge(ck, llama_tokenizer.for_checkpoint(ck), top_layers=P.top_layers,
                            batch_size=P.batch_size, bucket=P.bucket, both_orders=P.both_orders,
                            readout=P.get("readout", "letters"))


def passages(transcripts: list[dict], question_rows: list[dict]) -> list:
  """The passage each transcript's judge may read: its question's under full information,
  else None."""
  return [question_rows[t["example"]]["passage"]
          if text_game.FORMATS[t["protocol"]].reads_passage else None for t in transcripts]


def save_top(workdir: str, top) -> None:
  from debate.io import save_npz
  leaves, _ = jax.tree_util.tree_flatten_with_path(jax.device_get(top))
  save_npz(os.path.join(workdir, DIR, "top.npz"),
           **{jax.tree_util.keystr(p): np.asarray(x) for p, x in leaves})


def load_top(workdir: str, judge: pj.PretrainedJudge):
  """The fine-tuned top a run saved, shaped like `judge.zero_shot`."""
  leaves, treedef = jax.tree_util.tree_flatten_with_path(judge.zero_shot)
  path = os.path.join(workdir, DIR, "top.npz")
  f = io.load_npz(path)
  missing = [jax.tree_util.keystr(p) for p, _ in leaves if jax.tree_util.keystr(p) not in f]
  if missing:
    from debate.config import ConfigError
    raise ConfigError(f"{path} lacks {missing[0]}; allowed: the top.npz a run with the same "
                      "pretrained.top_layers wrote")
  return jax.tree_util.tree_unflatten(treedef, [f[jax.tree_util.keystr(p)] for p, _ in leaves])


def finetune(config, workdir: str, judge, train_transcripts: list[dict], train_rows: list[dict],
             writer=None) -> dict:
  """Fine-tunes `judge`'s top on the training transcripts (options in a random order each, a
  held-out slice picking the step kept); the judge's `top` becomes the fine-tuned one."""
  P = config.pretrained
  rng = np.random.default_rng(config.seed + 29)
  n = len(train_transcripts)
  swap = rng.random(n) < 0.5
  labels = np.array([t["true_option"] for t in train_transcripts]) ^ swap
  held = np.zeros(n, bool)
  held[rng.permutation(n)[:max(1, int(round(n * P.val_fraction)))]] = True
  t0, tokens0 = time.time(), judge.tokens_scored
  prompts = judge.prompts(train_transcripts, passages(train_transcripts, train_rows), swap)
  choices = judge.choices(train_transcripts, swap)
  feats = lambda sel: judge.features([p for p, s in zip(prompts, sel) if s], choices[sel])
  train_f, val_f = feats(~held), feats(held)
  feature_seconds = time.time() - t0
  logging.info("pretrained judge: %d training prompts through the frozen bottom in %.0f s "
               "(%.0f tokens/s)", n, feature_seconds,
               (judge.tokens_scored - tokens0) / max(feature_seconds, 1e-9))
  s = ft.Settings(steps=P.steps, batch_size=P.finetune_batch, learning_rate=P.learning_rate,
                  warmup=P.warmup, eval_every=P.eval_every, seed=config.seed)
  top, info = ft.finetune(judge, train_f, labels[~held], val_f, labels[held], s, writer)
  judge.top = top
  save_top(workdir, top)
  return {**info, "train_transcripts": int((~held).sum()), "held_out": int(held.sum()),
          "feature_seconds": feature_seconds}


def evaluate(config, judge, test_transcripts: list[dict], test_rows: list[dict],
             finetuned: bool) -> tuple[dict, dict]:
  """({protocol: {"zero_shot": metrics, "finetuned": metrics}}, {protocol: {same keys: each
  transcript's P(true option)}}) on the first `pretrained.test_per_protocol` test transcripts of
  each protocol."""
  P = config.pretrained
  out, p_true = {}, {}
  for name in dict.fromkeys(t["protocol"] for t in test_transcripts):
    rows = [t for t in test_transcripts if t["protocol"] == name][:P.test_per_protocol]
    tops = [judge.zero_shot] + ([judge.top] if finetuned else [])
    t0 = time.time()
    probs = judge.probs_by_top(rows, passages(rows, test_rows), tops)
    truth = np.array([r["true_option"] for r in rows])
    p_true[name] = {k: p[np.arange(len(rows)), truth]
                    for k, p in zip(("zero_shot", "finetuned"), probs)}
    out[name] = {k: pj.metrics(p) for k, p in p_true[name].items()}
    logging.info("pretrained judge, %s: zero-shot %.1f%%%s (%d transcripts, %.0f s)", name,
                 100 * out[name]["zero_shot"]["accuracy"],
                 f", fine-tuned {100 * out[name]['finetuned']['accuracy']:.1f}%" if finetuned
                 else "", len(rows), time.time() - t0)
  return out, p_true


READOUT_TEXT = {
    "letters": "the next-token logits of the option letters after a chat prompt",
    "cloze": "the next-token logits of each option's first token after a chat prompt that "
             "names the options and ends \"The answer is\""}


def describe(judge) -> dict:
  c = judge.checkpoint.config
  return {"source": os.path.basename(judge.checkpoint.source), "params": c.params(),
          "readout": judge.readout,
          "layers": c.layers, "top_layers": judge.top_layers,
          "top_params": int(sum(np.size(x) for x in jax.tree.leaves(judge.zero_shot))),
          "tokens_scored": judge.tokens_scored, "seconds": judge.seconds,
          "tokens_per_second": judge.tokens_scored / max(judge.seconds, 1e-9)}


def report_lines(m: dict, small: dict, config) -> list[str]:
  """The report's section: the pretrained judge, zero-shot and fine-tuned, beside the
  from-scratch judge (`small`: its metrics per protocol) on the same test transcripts."""
  from debate import metrics as metrics_lib
  from debate import runs
  fmt = lambda r: metrics_lib.fmt_pct(r["accuracy"], r["ci95"])
  rows = []
  for name, r in m["protocols"].items():
    rows.append([name, fmt(small[name]) if name in small else "", fmt(r["zero_shot"]),
                 fmt(r["finetuned"]) if "finetuned" in r else "",
                 f"{r['zero_shot']['ece']:.3f} / " + (f"{r['finetuned']['ece']:.3f}"
                                                      if "finetuned" in r else ""),
                 f"{r['zero_shot']['log_score']:.3f} / " + (f"{r['finetuned']['log_score']:.3f}"
                                                            if "finetuned" in r else ""),
                 r["zero_shot"]["games"]])
  f = m["finetune"]
  cap = m.get("capability") or capability(small, m)
  gap = lambda r: (f"{r['debate_minus_consultancy']:+.1%} [{r['ci95'][0]:+.1%}, "
                   f"{r['ci95'][1]:+.1%}]")
  cap_lines = [] if not cap else [
      "### Does debate's gain over consultancy grow with the judge?", "",
      "Judges ordered by capability (accuracy when they read the passage themselves); the gain "
      "is debate's accuracy minus consultancy's on the same questions (95% interval: Newcombe's, "
      "the two protocols' games treated as independent).", "",
      runs.md_table(["judge", "full information", "consultancy", "debate",
                     "debate - consultancy [95% CI]"],
                    [[r["judge"], metrics_lib.fmt_pct(r["full_info"]),
                      metrics_lib.fmt_pct(r["consultancy"]), metrics_lib.fmt_pct(r["debate"]),
                      gap(r)] for r in cap]), ""]
  return [
      "## Pretrained judge", "",
      f"`{m['source']}` ({m['layers']} layers, {m['params']:,} parameters), zero-shot ("
      + READOUT_TEXT[m.get("readout", "letters")] + ", the options in both orders averaged) "
      "and with its top "
      f"{m['top_layers']} block(s) fine-tuned ({m['top_params']:,} parameters) on "
      f"{f['train_transcripts']} transcripts of the same debaters on training questions "
      f"({config.pretrained.train_per_protocol} per protocol; {f['held_out']} more held out "
      f"picked step {f['best_step']} of {config.pretrained.steps}). The from-scratch judge "
      "trained over the co-training rounds. Same test transcripts for all three.", "",
      runs.md_table(["protocol", "from-scratch judge", "pretrained, zero-shot",
                     "pretrained, fine-tuned", "ECE (zero-shot / fine-tuned)",
                     "log score (zero-shot / fine-tuned)", "transcripts"], rows), "",
      f"Scoring: {m['tokens_scored']:,} prompt tokens at {m['tokens_per_second']:.0f} tokens/s "
      f"(both judges from one pass of the frozen bottom); fine-tuning {f['seconds']:.0f} s.", "",
      *cap_lines]


def capability(small: dict, m: dict) -> list[dict]:
  """Per judge (from-scratch, pretrained zero-shot, fine-tuned), ordered by full-information
  accuracy: consultancy, debate and debate's gain over consultancy with its 95% interval."""
  from debate import metrics as metrics_lib
  need = ("full_info", "consultancy", "debate")
  if not all(n in m["protocols"] and n in small for n in need):
    return []
  judges = {"from-scratch": small,
            "pretrained, zero-shot": {n: m["protocols"][n]["zero_shot"] for n in need},
            "pretrained, fine-tuned": {n: m["protocols"][n]["finetuned"] for n in need}}
  out = []
  for name, r in judges.items():
    c, d = r["consultancy"], r["debate"]
    diff, lo, hi = metrics_lib.difference_ci(round(d["accuracy"] * d["games"]), d["games"],
                                             round(c["accuracy"] * c["games"]), c["games"])
    out.append({"judge": name, "full_info": r["full_info"]["accuracy"],
                "consultancy": c["accuracy"], "debate": d["accuracy"],
                "debate_minus_consultancy": diff, "ci95": [lo, hi]})
  return sorted(out, key=lambda r: r["full_info"])


def fine_tune_and_judge(config, workdir, train_tasks, players, params, train_rows, test_rows,
                     test_transcripts, writer) -> dict:
  """The pretrained judge (`config.pretrained.model`): fine-tuned on transcripts of the same
  debaters on training questions (each protocol its own questions), then zero-shot and
  fine-tuned on every test transcript."""
  P = config.pretrained
  judge = load_judge(config)
  train = []
  for k, (name, task) in enumerate(train_tasks.items()):
    ids = (np.arange(P.train_per_protocol) + k * P.train_per_protocol) % len(task)
    key = cotrain.balanced_keys(task, ids, np.random.default_rng(config.seed + 19 + k))
    out = players.play(task, key, config.debater, params, config.seed + 19, f"  train {name}")
    train += reading.transcript_rows(name, task, key, out)
  info = finetune(config, workdir, judge, train, train_rows, writer)
  by_protocol, p_true = evaluate(config, judge, test_transcripts, test_rows, True)
  save_verdicts(workdir, test_transcripts, p_true)
  return {**describe(judge), "finetune": info,
          "protocols": by_protocol}, judge


def save_verdicts(workdir: str, transcripts: list[dict], p_true: dict) -> None:
  """Each judged transcript's P(true option) by each judge, as JSONL beside the top
  (`pretrained_judge/verdicts.jsonl`: protocol, example, true option, and one key per judge;
  `judges.base.RecordedJudge.from_jsonl(path, field="finetuned")` reads them back as a judge)."""
  from debate import io
  rows = []
  for name, by_judge in p_true.items():
    mine = [t for t in transcripts if t["protocol"] == name]
    for i in range(len(next(iter(by_judge.values())))):
      rows.append({"protocol": name, "example": mine[i]["example"],
                   "true_option": int(mine[i]["true_option"]),
                   **{k: float(v[i]) for k, v in by_judge.items()}})
  io.atomic_write_jsonl(os.path.join(workdir, DIR, "verdicts.jsonl"), rows)
