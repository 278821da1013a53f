"""Select-then-argue's second half: a pretrained language model writes, for every quote a debater
chose, a short argument around it, turn by turn (each argument sees the transcript so far, the
other side's quotes and arguments included, so a later one can answer an earlier one). Quotes the
model writes inside an argument are checked against the passage (`debate.quotes`) and the judge
sees each marked VERIFIED or UNVERIFIED; the chosen quote keeps its own mark from the game.

  arguer = Arguer(checkpoint, tokenizer, max_new_tokens=48)
  argued_rows = arguer.argue(transcript_rows, passages)   # moves gain "argument", "argument_quotes"

Only a reader of text (the pretrained judge) sees the arguments; the from-scratch judge reads the
game's quote tokens and is unchanged.
"""
from __future__ import annotations

import copy
import logging
import time

import jax
import jax.numpy as jnp
import numpy as np

from debate import quotes

SYSTEM = ("You are a debater. You have read the story; the judge has not. You argue for the "
          "answer you are given, whether or not it is correct. Be brief and persuasive. When you "
          "quote the story, put the exact words in double quotes: the judge is told which quotes "
          "really are in the story.")


def argue_messages(passage: str, row: dict, turn: int) -> list[dict]:
  """The chat for the argument of move `turn` of transcript row `row`: the story, the question,
  the answer this debater argues, the moves before it (quotes and arguments), and its quote."""
  move = row["moves"][turn]
  mine = row["options"][int(move["argues_option"])]
  lines = ["Story:", passage.strip(), "", f"Question: {row['question']}",
           "Answers: " + " or ".join(row["options"]), f"You argue that the answer is: {mine}"]
  before = [m for m in row["moves"][:turn] if "quote" in m]
  if before:
    lines += ["", "The debate so far:"]
  for m in before:
    who = "You" if m["argues_option"] == move["argues_option"] else "Your opponent"
    lines.append(f"{who} (for \"{row['options'][int(m['argues_option'])]}\") quoted "
                 f"\"{m['quote']}\"" + (f" and argued: {m['argument']}" if m.get("argument")
                                        else ""))
  lines += ["", f"Your quote now: \"{move['quote']}\"",
            f"In one or two sentences, tell the judge why this quote shows the answer is "
            f"\"{mine}\"."]
  return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "\n".join(lines)}]


class Arguer:
  """Writes the arguments of transcript rows (`debate.games.text.TextGame.render` rows) with a
  pretrained checkpoint (`models.llama_weights.Checkpoint`) and its tokenizer: greedy, at most
  `max_new_tokens` tokens, cut at the end of the turn or the first line break."""

  def __init__(self, checkpoint, tokenizer, max_new_tokens: int = 48, batch_size: int = 8,
               bucket: int = 128, temperature: float = 0.0, seed: int = 0):
    from debate.train.trainer import functionalize
    from models.transformer import Decoder
    self.tokenizer, self.max_new_tokens = tokenizer, max_new_tokens
    self.batch_size, self.bucket, self.temperature = batch_size, bucket, temperature
    self._f = functionalize(lambda r: Decoder(checkpoint.config, rngs=r))
    self._params = jax.tree.map(jnp.asarray, checkpoint.params)
    self._gens = {}
    self._rng = jax.random.PRNGKey(seed)
    self.stops = {0} | ({tokenizer.eos_id} if tokenizer.eos_id is not None else set())
    self.prompt_tokens = self.new_tokens = 0
    self.seconds = 0.0

  def _gen(self, p: int):
    from models.generate import make_generate
    if p not in self._gens:
      self._gens[p] = make_generate(self._f, p, self.max_new_tokens, self.temperature,
                                    eos_id=self.tokenizer.eos_id)
    return self._gens[p]

  def text(self, ids) -> str:
    """The generated ids as text: up to the first stop token, then up to the first line break."""
    ids = [int(t) for t in ids]
    cut = next((k for k, t in enumerate(ids) if t in self.stops), len(ids))
    self.new_tokens += cut
    return self.tokenizer.decode(ids[:cut]).strip().split("\n")[0].strip()

  def write(self, prompts: list[list[int]]) -> list[str]:
    """One argument per prompt (token ids), batched by length."""
    from models.generate import left_pad
    out = [""] * len(prompts)
    order = np.argsort([len(x) for x in prompts], kind="stable")
    for start in range(0, len(prompts), self.batch_size):
      idx = order[start:start + self.batch_size]
      p = -(-max(len(prompts[i]) for i in idx) // self.bucket) * self.bucket
      x = np.zeros((self.batch_size, p), np.int32)
      x[:len(idx)] = left_pad([prompts[i] for i in idx], p)
      self._rng, sub = jax.random.split(self._rng)
      tokens, _ = self._gen(p)(self._params, jnp.asarray(x), sub)
      tokens = np.asarray(tokens)
      for j, i in enumerate(idx):
        out[i] = self.text(tokens[j])
        self.prompt_tokens += len(prompts[i])
    return out

  def argue(self, rows: list[dict], passages: list[str]) -> list[dict]:
    """Copies of `rows` whose quote moves hold "argument" (the model's text) and
    "argument_quotes" (the quotes in it, each verified against the row's passage)."""
    rows = copy.deepcopy(rows)
    t0 = time.time()
    turns = max((len(r["moves"]) for r in rows), default=0)
    for t in range(turns):
      jobs = [i for i, r in enumerate(rows) if t < len(r["moves"]) and "quote" in r["moves"][t]]
      if not jobs:
        continue
      prompts = [self.tokenizer.encode_chat(argue_messages(passages[i], rows[i], t))
                 for i in jobs]
      for i, text in zip(jobs, self.write(prompts)):
        move = rows[i]["moves"][t]
        move["argument"] = text
        move["argument_quotes"] = quotes.as_json(quotes.find_quotes(text, passages[i]))
      rate = (self.new_tokens + self.prompt_tokens) / max(time.time() - t0, 1e-9)
      logging.info("  arguments: turn %d/%d, %d written (%.0f tokens/s, %.0f s so far)", t + 1,
                   turns, len(jobs), rate, time.time() - t0)
    self.seconds += time.time() - t0
    return rows


def stats(rows: list[dict]) -> dict:
  """Per side (honest / liar): arguments written, their mean length in words, quotes inside
  them, and the share of those verified."""
  out = {}
  for side in ("honest", "liar"):
    moves = [m for r in rows for m in r["moves"] if m.get("speaker") == side and "argument" in m]
    qs = [q for m in moves for q in m["argument_quotes"]]
    out[side] = {"arguments": len(moves),
                 "words": float(np.mean([len(m["argument"].split()) for m in moves]))
                 if moves else 0.0,
                 "quotes": len(qs),
                 "verified_share": float(np.mean([q["verified"] for q in qs])) if qs else None}
  return out


def load_arguer(settings) -> Arguer:
  """The arguer of `settings` (model, layers, tokens, batch_size)."""
  from models import llama_tokenizer, llama_weights
  ck = llama_weights.load(settings.model, layers=settings.layers)
  return Arguer(ck, llama_tokenizer.for_checkpoint(ck), max_new_tokens=settings.tokens,
                batch_size=settings.batch_size)


def pick(transcripts: list[dict], protocols, per_protocol: int) -> list[dict]:
  """The first `per_protocol` transcripts of each of `protocols` that quote (in that order)."""
  return [t for name in protocols
          for t in [t for t in transcripts if t["protocol"] == name][:per_protocol]]


def argue_and_judge(settings, judge, transcripts: list[dict], question_rows: list[dict],
                    finetuned: bool, workdir: str, before: dict) -> dict:
  """`transcripts` with arguments written (`settings.arguments`), saved as
  `transcripts_argued.jsonl`, and judged by `judge`; beside `before` (`text_pretrained.evaluate`'s
  P(true) on the same transcripts, quotes only): per protocol, the metrics of both, how many
  verdicts the arguments changed, and the arguments' own statistics."""
  import os

  from debate import io
  from experiments.common import text_pretrained
  from judges import pretrained as pj
  path = os.path.join(workdir, "transcripts_argued.jsonl")
  arguer, argued = None, io.read_jsonl(path) if os.path.exists(path) else None
  same = lambda ts: [(t["protocol"], t["example"], t["question"]) for t in ts]
  # A rerun (same config: the workdir guarantees it) judges the arguments it already wrote.
  if argued is None or same(argued) != same(transcripts):
    arguer = load_arguer(settings.arguments)
    argued = arguer.argue(transcripts, [question_rows[t["example"]]["passage"]
                                        for t in transcripts])
    io.atomic_write_jsonl(path, argued)
  _, after = text_pretrained.evaluate(settings, judge, argued, question_rows, finetuned)
  out = {"model": settings.arguments.model, "tokens": settings.arguments.tokens, "protocols": {}}
  if arguer is not None:
    out.update(seconds=arguer.seconds, prompt_tokens=arguer.prompt_tokens,
               new_tokens=arguer.new_tokens)
  which = ("zero_shot", "finetuned") if finetuned else ("zero_shot",)
  for name in before:
    rows = [t for t in argued if t["protocol"] == name]
    out["protocols"][name] = {
        "games": len(rows), "arguments": stats(rows),
        **{k: {"quotes_only": pj.metrics(before[name][k]), "argued": pj.metrics(after[name][k]),
               "verdicts_changed": float(np.mean((before[name][k] > 0.5) !=
                                                 (after[name][k] > 0.5)))} for k in which}}
  return out


def report_lines(m: dict) -> list[str]:
  """The report's section on arguments: accuracy with quotes only and with arguments, per
  protocol and judge, and what the arguments held."""
  from debate import metrics as metrics_lib
  from debate import runs
  fmt = lambda r: metrics_lib.fmt_pct(r["accuracy"], r["ci95"])
  pct = lambda x: "" if x is None else f"{x:.0%}"
  rows = []
  for name, r in m["protocols"].items():
    a = r["arguments"]
    for k in ("zero_shot", "finetuned"):
      if k in r:
        rows.append([name, k.replace("_", "-"), fmt(r[k]["quotes_only"]), fmt(r[k]["argued"]),
                     f"{r[k]['verdicts_changed']:.1%}",
                     f"{a['honest']['words']:.0f} / {a['liar']['words']:.0f}",
                     f"{pct(a['honest']['verified_share'])} / {pct(a['liar']['verified_share'])}",
                     r["games"]])
  cost = (f" Writing them took {m['seconds']:.0f} s ({m['prompt_tokens']:,} prompt tokens, "
          f"{m['new_tokens']:,} written)." if "seconds" in m else "")
  return [
      "## Arguments around the quotes", "",
      f"`{m['model']}` wrote, for every quote, at most {m['tokens']} tokens arguing its side "
      "(greedy; each turn reads the debate so far); quotes inside an argument are checked "
      f"against the story and shown marked VERIFIED or UNVERIFIED.{cost} The same games, judged "
      "with the quotes only and with the arguments:", "",
      runs.md_table(["protocol", "judge", "quotes only", "quotes + arguments",
                     "verdicts changed", "words per argument (honest / liar)",
                     "quotes in arguments verified (honest / liar)", "games"], rows), ""]
