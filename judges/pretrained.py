"""A pretrained language model as the text-debate judge: the probability of each option read
from the next-token logits of the option letters after a chat prompt that holds the question, the
options and the transcript (the quotes, each marked verified or not, and any argument written
around them with the quotes inside it marked too), and the passage only under
full information. What the judge is shown comes from a transcript row
(`debate.games.text.TextGame.render`), never the row's `speaker`, `honest_seat`, `winner` or
`true_option`.

The model is split in two: the bottom layers, frozen, turn a prompt into hidden states once
(`features`); the top `top_layers` blocks, the final norm and the letters' output rows read them
(`models.transformer.ChoiceTop`). Zero-shot, the top holds the checkpoint's own weights;
fine-tuned (`finetune`, optax), it is trained on transcripts with their true answers while the
bottom stays fixed, so one pass of the bottom serves both judges and every training epoch.

Small models prefer one letter whatever they read; `both_orders` scores each prompt a second
time with the options swapped and averages the two (the letters' order is then uninformative).
"""
from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from debate import quotes
from debate.train import preempt
from debate.config import ConfigError

LETTERS = ("A", "B")
SYSTEM = ("You are the judge of a reading-comprehension question. You cannot read the story; "
          "debaters who read it quote sentences to support an answer. A quote marked VERIFIED "
          "appears in the story; a quote marked UNVERIFIED was not found there and may be "
          "invented. Decide which answer is correct.")
SYSTEM_FULL = ("You are the judge of a reading-comprehension question. Read the story and "
               "decide which answer is correct.")


READOUTS = ("letters", "cloze")
CLOZE_PREFIX = "The answer is"


def judge_messages(row: dict, passage: str | None = None, swap: bool = False,
                   readout: str = "letters") -> list[dict]:
  """The chat a judge reads for one transcript row; `swap` lists option 1 first (as A). With
  `readout="cloze"` the answers are named by their own text, not by letters."""
  order = (1, 0) if swap else (0, 1)
  if readout == "cloze":
    letter = {o: row["options"][o] for o in order}
  else:
    letter = {opt: LETTERS[i] for i, opt in enumerate(order)}
  lines = []
  if passage is not None:
    lines += ["Story:", passage.strip(), ""]
  lines += [f"Question: {row['question']}"]
  if readout == "cloze":
    lines += ["Answers: " + " or ".join(row["options"][o] for o in order)]
  else:
    lines += [f"{letter[o]}: {row['options'][o]}" for o in order]
  moves = row.get("moves", [])
  if moves:
    lines += ["", "Transcript:"]
  for m in moves:
    if "picks_option" in m:
      lines.append(f"A debater chose to argue for answer {letter[int(m['picks_option'])]}.")
    elif "quote" in m:
      mark = "VERIFIED" if m.get("verified") else "UNVERIFIED"
      lines.append(f"Debater for {letter[int(m['argues_option'])]} quotes ({mark}): "
                   f"\"{m['quote']}\"")
      if m.get("argument"):  # written around the quote (select-then-argue), quotes marked
        shown = quotes.mark_quotes(m["argument"], quotes.from_json(m.get("argument_quotes", [])))
        lines.append(f"  and argues: {shown}")
    elif "parts" in m:  # a free-text speech with quotes of the story inside (verified)
      shown = "".join(p["text"] if "text" in p else f"\"{p['quote']}\" (VERIFIED)"
                      for p in m["parts"])
      lines.append(f"Debater for {letter[int(m['argues_option'])]}: {shown.strip()}")
  lines += ["", "Which answer is correct? " + ("Reply with the answer only." if readout == "cloze"
                                               else "Reply with the letter A or B only.")]
  system = SYSTEM_FULL if passage is not None else SYSTEM
  return [{"role": "system", "content": system}, {"role": "user", "content": "\n".join(lines)}]


@dataclasses.dataclass
class Features:
  """A prompt set through the frozen bottom, batched by length."""
  batches: list   # (row indices, tokens_BxT, h_BxTxD, choice token ids_BxC)
  count: int


def _to_jnp(tree):
  return jax.tree.map(jnp.asarray, tree)


@dataclasses.dataclass
class PretrainedJudge:
  """A judge on a pretrained checkpoint (`models.llama_weights.Checkpoint`) and its tokenizer:
  `probs(rows, passages)` -> P(option) [N, 2], zero-shot or with fine-tuned top layers."""
  checkpoint: Any
  tokenizer: Any
  top_layers: int = 2
  batch_size: int = 16
  bucket: int = 32
  both_orders: bool = True
  # letters: the options listed as A and B, read from the letters' next-token logits; cloze:
  # the options named by their text, read after `answer_prefix` and the tokens both options
  # share ("He was" of "He was afraid" / "He was angry") from the next-token logits of the first
  # token where they differ (the end of turn for an option that has ended): the options'
  # likelihood ratio up to where they part, the shared tokens cancelling (small models answer
  # this way far better than by letter).
  readout: str = "letters"
  answer_prefix: str | None = None   # after the assistant's turn opens (None: the readout's)

  def __post_init__(self):
    from debate.train.trainer import functionalize
    from models.transformer import ChoiceTop, Decoder
    cfg = self.checkpoint.config
    if not 0 <= self.top_layers <= cfg.layers:
      raise ConfigError(f"top_layers={self.top_layers!r}; allowed: 0..{cfg.layers} (the "
                        "checkpoint's blocks)")
    if self.readout not in READOUTS:
      raise ConfigError(f"readout={self.readout!r}; allowed: {list(READOUTS)}")
    if self.answer_prefix is None:
      self.answer_prefix = CLOZE_PREFIX if self.readout == "cloze" else ""
    self.letter_ids = tuple(self._letter_id(x) for x in LETTERS)
    split = cfg.layers - self.top_layers
    bottom_cfg = dataclasses.replace(cfg, layers=split)
    self.top_cfg = dataclasses.replace(cfg, layers=self.top_layers)
    p = self.checkpoint.params
    bottom = {k: v for k, v in p.items() if k != "blocks"}
    bottom["blocks"] = {i: p["blocks"][i] for i in range(split)}
    output = np.asarray(p["embed"]["embedding"] if cfg.tied else p["unembed"].T, np.float32)
    self._output = jnp.asarray(output) if self.readout == "cloze" else None  # V x D
    rows = output[list(self.letter_ids)]
    self.zero_shot = _to_jnp({"blocks": {j: p["blocks"][split + j]
                                         for j in range(self.top_layers)},
                              "norm": p["norm"], "rows": np.asarray(rows, np.float32)})
    self.top = self.zero_shot
    fb = functionalize(lambda r: Decoder(bottom_cfg, rngs=r))
    ft = functionalize(lambda r: ChoiceTop(self.top_cfg, len(LETTERS), rngs=r))
    self._bottom = _to_jnp(bottom)
    self._hidden = jax.jit(lambda q, x: fb.module(q).hidden(x, final_norm=False))
    self.top_apply = lambda q, h, x, c: ft.module(q)(
        h, x, None if self._output is None else self._output[c])
    self._top = jax.jit(self.top_apply)
    self.tokens_scored = 0
    self.seconds = 0.0

  @property
  def name(self) -> str:
    import os
    return f"pretrained:{os.path.basename(str(self.checkpoint.source))}"

  def _letter_id(self, letter: str) -> int:
    ids = self.tokenizer.encode(letter, bos=False)
    if len(ids) != 1:
      raise ConfigError(f"option letter {letter!r} is {len(ids)} tokens for this tokenizer; "
                        "allowed: a tokenizer that writes it as one")
    return ids[0]

  def encode(self, messages: list[dict]) -> list[int]:
    return self.tokenizer.encode_chat(messages, self.answer_prefix)

  def prompts(self, rows: list[dict], passages: list, swap=False) -> list[list[int]]:
    """Token ids of each row's prompt; `swap` (a bool, or one per row) lists option 1 first.
    Cloze: the prompt ends with the tokens both options share."""
    swaps = np.broadcast_to(np.asarray(swap, bool), (len(rows),))
    shared = lambda r: self._cloze(r)[0] if self.readout == "cloze" else []
    return [self.encode(judge_messages(r, p, bool(s), self.readout)) + shared(r)
            for r, p, s in zip(rows, passages, swaps)]

  def _cloze(self, row: dict) -> tuple[list[int], tuple[int, int]]:
    """(the tokens both options start with, the first token of each where they differ; the
    end of turn for an option that has ended)."""
    a, b = (self.tokenizer.encode_text(" " + o.strip()) for o in row["options"][:2])
    k = 0
    while k < min(len(a), len(b)) and a[k] == b[k]:
      k += 1
    end = self.tokenizer.eos_id if self.tokenizer.eos_id is not None else 0
    return a[:k], (a[k] if k < len(a) else end, b[k] if k < len(b) else end)

  def choices(self, rows: list[dict], swap=False) -> np.ndarray:
    """[N, 2] token ids read for the options in listed order: the letters, or (cloze) each
    option's first token past the tokens they share."""
    swaps = np.broadcast_to(np.asarray(swap, bool), (len(rows),))
    if self.readout == "letters":
      return np.tile(np.asarray(self.letter_ids, np.int32), (len(rows), 1))
    ids = np.array([self._cloze(r)[1] for r in rows], np.int32)
    return np.where(swaps[:, None], ids[:, ::-1], ids)

  def features(self, prompts: list[list[int]], choices=None) -> Features:
    """The bottom's hidden states of every prompt, batched by length (each batch padded to a
    multiple of `bucket`, so only a few shapes compile)."""
    choices = (np.tile(np.asarray(self.letter_ids, np.int32), (len(prompts), 1))
               if choices is None else np.asarray(choices, np.int32))
    limit = self.checkpoint.context
    long = [len(x) for x in prompts if limit and len(x) > limit]
    if long:  # One line, before any of them runs (an 8k model given 50k tokens would not fit).
      raise ConfigError(f"{len(long)} prompt(s) of up to {max(long):,} tokens; allowed: at most "
                        f"{limit:,}, the context length of {self.checkpoint.source} (shorten the "
                        "passages or transcripts)")
    order = np.argsort([len(x) for x in prompts], kind="stable")
    t0, batches = time.time(), []
    last = t0
    for start in range(0, len(prompts), self.batch_size):
      idx = order[start:start + self.batch_size]
      length = -(-max(len(prompts[i]) for i in idx) // self.bucket) * self.bucket
      x = np.zeros((self.batch_size, length), np.int32)  # right padding (token 0)
      for j, i in enumerate(idx):
        x[j, :len(prompts[i])] = prompts[i]
        self.tokens_scored += len(prompts[i])
      h = self._hidden(self._bottom, jnp.asarray(x))
      c = np.zeros((self.batch_size, 2), np.int32)
      c[:len(idx)] = choices[idx]
      batches.append((idx, x, np.asarray(h), c))
      done = start + len(idx)
      if preempt.requested() and done < len(prompts):  # SIGTERM or Ctrl-C: stop now
        raise preempt.Preempted(f"pretrained judge: stopped after {done} of {len(prompts)} "
                                "prompts (rerun the same command to resume)")
      if time.time() - last > 10 and done < len(prompts):
        last, rate = time.time(), done / (time.time() - t0)
        logging.info("  pretrained judge: %d/%d prompts  %.1f prompts/s  ETA %.0f s", done,
                     len(prompts), rate, (len(prompts) - done) / rate)
    self.seconds += time.time() - t0
    return Features(batches, len(prompts))

  def letter_logits(self, feats: Features, top=None) -> np.ndarray:
    """[N, 2] logits of A and B for every prompt of `feats`, read by `top` (default: this
    judge's current top; `zero_shot`: the checkpoint's own)."""
    top = self.top if top is None else top
    out = np.zeros((feats.count, 2), np.float32)
    t0 = time.time()
    for idx, x, h, c in feats.batches:
      out[idx] = np.asarray(self._top(top, jnp.asarray(h), jnp.asarray(x),
                                      jnp.asarray(c)))[:len(idx)]
    self.seconds += time.time() - t0
    return out

  def probs(self, rows: list[dict], passages: list | None = None) -> np.ndarray:
    """The Judge interface: [N, 2], P(option 0), P(option 1) per row with the current top;
    `passages[i]` (under full information) or None per row."""
    return self.probs_by_top(rows, passages, [self.top])[0]

  def probs_by_top(self, rows: list[dict], passages: list | None, tops) -> list[np.ndarray]:
    """P(option 0), P(option 1) per row (the options in the row's order), one [N, 2] array per
    top in `tops`; the bottom runs once for all of them."""
    passages = [None] * len(rows) if passages is None else passages
    orders = (False, True) if self.both_orders else (False,)
    out = [0.0] * len(tops)
    for swap in orders:
      feats = self.features(self.prompts(rows, passages, swap), self.choices(rows, swap))
      for k, top in enumerate(tops):
        p = np.asarray(jax.nn.softmax(self.letter_logits(feats, top), -1))
        out[k] = out[k] + (p[:, ::-1] if swap else p) / len(orders)
    return out


def metrics(p_true: np.ndarray) -> dict:
  """Accuracy (P(true option) > 1/2) with its Wilson 95% interval, ECE, Brier and log score: the
  report the from-scratch judge gets (`debate.judging.verdict_metrics`)."""
  from debate import metrics as m
  p = np.clip(np.asarray(p_true, np.float64), 1e-12, 1.0)
  correct = p > 0.5
  return {"accuracy": float(correct.mean()), "ci95": list(m.wilson_ci(correct.sum(), len(p))),
          "games": int(len(p)), "ece": m.expected_calibration_error(np.maximum(p, 1 - p), correct),
          "brier": m.brier(p, np.ones(len(p))), "log_score": float(np.mean(np.log(p)))}
