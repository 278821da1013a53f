"""A pretrained language model as the reading task's debater, select-then-argue's selection: it
reads the story and the question, is told which answer it argues, and scores every quotable
unit (the passage's sentences, then the forgeries) by its log-likelihood as the quote it gives.
A unit's score for option 0 is its log-likelihood arguing option 0 minus arguing option 1 (which
span supports this answer rather than the other; the same for the other side, negated), the
game's prior under `prior_kind="lm"` (`ReadingTask.with_quote_scores`): the `heuristic` debater
then plays the model's choice and `best_of-N` compares N of them with the judge.

The quotes it picks are checked like anyone's: a forgery reaches the judge marked unverified.
"""
from __future__ import annotations

import logging
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from debate import cotrain, io, judging
from debate import metrics as metrics_lib
from debate.config import check, check_int
from experiments.common import text_pretrained
from debate.tasks import reading
from experiments.common import text_setup as setup

SYSTEM = ("You are a debater. You have read the story; the judge has not. You argue for the "
          "answer you are given, whether or not it is correct, by quoting the story.")


def debater_messages(passage: str, question: str, option: str) -> list[dict]:
  user = (f"Story:\n{passage.strip()}\n\nQuestion: {question}\nYou argue that the answer is: "
          f"{option}\n\nQuote the one sentence of the story that best supports your answer.")
  return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


class QuoteScorer:
  """`scores(task)` -> [examples, S + F] for a `debate.tasks.reading.ReadingTask`, with a
  pretrained checkpoint (`models.llama_weights.Checkpoint`) and its tokenizer."""

  def __init__(self, checkpoint, tokenizer, batch_size: int = 4, bucket: int = 64,
               quote_prefix: str = "Quote: \""):
    from debate.train.trainer import functionalize
    from models.transformer import Decoder
    self.tokenizer, self.batch_size, self.bucket = tokenizer, batch_size, bucket
    self.quote_prefix = quote_prefix
    self._f = functionalize(lambda r: Decoder(checkpoint.config, rngs=r))
    self._params = jax.tree.map(jnp.asarray, checkpoint.params)
    self._scorers = {}
    self.tokens_scored, self.seconds = 0, 0.0

  def _scorer(self, p: int, l: int, u: int):
    from models.score import make_continuation_scorer
    if (p, l, u) not in self._scorers:
      self._scorers[p, l, u] = make_continuation_scorer(self._f, p, l, u)
    return self._scorers[p, l, u]

  def prompt(self, passage: str, question: str, option: str) -> list[int]:
    return self.tokenizer.encode_chat(debater_messages(passage, question, option),
                                      self.quote_prefix)

  def scores(self, task) -> np.ndarray:
    from models.generate import left_pad
    n, sizes = len(task), task.sizes
    u = sizes.sentences + sizes.forgeries
    out = np.zeros((n, 2, u), np.float32)
    # Each unit as the quote's text, closed as the prompt opened it; padding units score 0.
    units = []
    for i in range(n):
      t = task.text(i)
      texts = t["sentences"] + [""] * (sizes.sentences - len(t["sentences"]))
      texts += t["forgeries"] + [""] * (sizes.forgeries - len(t["forgeries"]))
      units.append([self.tokenizer.encode(x.strip() + "\"", bos=False) if x else []
                    for x in texts])
    jobs = [(i, o) for i in range(n) for o in (0, 1)]
    t0 = time.time()
    last = t0
    for start in range(0, len(jobs), self.batch_size):
      batch = jobs[start:start + self.batch_size]
      prompts = [self.prompt(task.rows[i]["passage"], task.rows[i]["question"],
                             task.rows[i]["options"][o]) for i, o in batch]
      p = -(-max(map(len, prompts)) // self.bucket) * self.bucket
      l = max(max((len(x) for x in units[i]), default=1) for i, _ in batch)
      l = -(-max(l, 1) // 8) * 8
      conts = np.zeros((self.batch_size, u, l), np.int32)
      for j, (i, _) in enumerate(batch):
        for k, x in enumerate(units[i]):
          conts[j, k, :len(x)] = x
      x = np.zeros((self.batch_size, p), np.int32)
      x[:len(batch)] = left_pad(prompts, p)
      logp, _ = self._scorer(p, l, u)(self._params, jnp.asarray(x), jnp.asarray(conts))
      logp = np.asarray(logp)
      for j, (i, o) in enumerate(batch):
        out[i, o] = logp[j]
      self.tokens_scored += sum(map(len, prompts)) + int((conts[:len(batch)] != 0).sum())
      if time.time() - last > 60:
        last, rate = time.time(), (start + len(batch)) / (time.time() - t0)
        logging.info("  language-model debater: %d/%d prompts  %.2f prompts/s  ETA %.0f s",
                     start + len(batch), len(jobs), rate, (len(jobs) - start - len(batch)) / rate)
    self.seconds += time.time() - t0
    return out[:, 0] - out[:, 1]


def load_scorer(settings) -> QuoteScorer:
  """The scorer of `settings` (`config.lm_debater`: model, layers, batch_size)."""
  from models import llama_tokenizer, llama_weights
  ck = llama_weights.load(settings.model, layers=settings.layers)
  return QuoteScorer(ck, llama_tokenizer.for_checkpoint(ck), batch_size=settings.batch_size)


def report_lines(m: dict, small: dict) -> list[str]:
  """The report's section: judge accuracy with the language model's debaters, per spec and
  protocol, by the from-scratch judge and (when there is one) the pretrained judge."""
  from debate import metrics as metrics_lib
  from debate import runs
  fmt = lambda r: metrics_lib.fmt_pct(r["accuracy"], r["ci95"]) if r else ""
  pct = lambda x: "" if x is None else f"{x:.0%}"
  rows = []
  for spec, by in m["specs"].items():
    for name, r in by.items():
      s = r["from_scratch"]
      rows.append([spec, name, fmt(small.get(name)), fmt(s), fmt(r.get("zero_shot")),
                   fmt(r.get("finetuned")),
                   f"{pct(s.get('verified_share_honest'))} / {pct(s.get('verified_share_liar'))}"])
  return [
      "## Language-model debaters", "",
      f"`{m['model']}` reads the story, is told the answer it argues, and scores every quotable "
      "unit by its log-likelihood as its quote (arguing this answer minus arguing the other): "
      "`heuristic` plays its top choice, `prior_best_of-N` lets the from-scratch judge pick the "
      f"best of N drawn from its scores. First {m['questions']} test questions, truth in either "
      f"seat and either seat first; scoring {m['tokens_scored']:,} tokens took "
      f"{m['scoring_seconds']:.0f} s.", "",
      runs.md_table(["debaters", "protocol", "from-scratch judge, its own debaters",
                     "from-scratch judge", "pretrained, zero-shot", "pretrained, fine-tuned",
                     "verified quotes (honest / liar)"], rows), ""]


def play(config, workdir, test_rows, tok, players, params, judge) -> dict:
  """A language model's debaters (`config.lm_debater`: it picks each quote, `heuristic`, or
  proposes N the judge compares, `prior_best_of-N`) on both seats of every quoting protocol of
  the first `questions` test questions; judged in play by the from-scratch judge and afterwards,
  on the transcripts, by the pretrained judge (`judge`, when there is one)."""
  L = config.lm_debater
  rows = test_rows[:L.questions]
  tasks = {p: t for p, t in setup.tasks(config, rows, tok).items() if t.game.max_turns > 0}
  scorer = load_scorer(L)
  scores = scorer.scores(next(iter(tasks.values())))
  out = {"model": L.model, "questions": len(rows), "scoring_seconds": scorer.seconds,
         "tokens_scored": scorer.tokens_scored, "specs": {}}
  for spec in L.specs:
    out["specs"][spec], transcripts = {}, []
    for name, task in tasks.items():
      task = task.with_quote_scores(scores)
      key = cotrain.balanced_keys(task, np.arange(len(task)), None)
      tr = players.play(task, key, spec, params, config.seed + 23, f"  lm {spec} {name}")
      out["specs"][spec][name] = {"from_scratch": {**judging.verdict_metrics(tr),
                                                   **reading.quote_stats(task, tr)}}
      transcripts += reading.transcript_rows(name, task, key, tr)
      logging.info("%s debaters (%s), %s: judge accuracy %s", L.model, spec, name,
                   metrics_lib.fmt_pct(out["specs"][spec][name]["from_scratch"]["accuracy"]))
    io.atomic_write_jsonl(os.path.join(workdir, f"transcripts_lm_{spec.replace('/', '_vs_')}"
                                                f".jsonl"), transcripts)
    if judge is not None:
      by, _ = text_pretrained.evaluate(config, judge, transcripts, rows, True)
      for name, m in by.items():
        out["specs"][spec][name].update(m)
  return out


def validate(config, valid_spec) -> None:
  """`config.lm_debater`'s values, one line each, before anything is loaded or written."""
  from models import llama_weights
  L = config.lm_debater
  if L.model is None:
    return
  if L.layers is not None:
    check_int(config, "lm_debater.layers", 1)
  llama_weights.check_file(L.model, L.layers)  # header and tensor shapes
  check_int(config, "lm_debater.questions", 1)
  check_int(config, "lm_debater.batch_size", 1)
  for spec in L.specs:
    check(valid_spec(spec), "lm_debater.specs", L.specs, "debater specs (see debater)")
