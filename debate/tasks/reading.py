"""Reading-comprehension questions as text-debate games (`debate.tasks.base.Task`): two claims
per example (the options), the passage's sentences as quotable units, tokenized once to fixed
shapes; the judge's belief without debate is the blind judge's."""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from debate import judging
from debate.games import text as text_game
from debate.tasks import base
from debate.tasks.base import GameKey


@dataclasses.dataclass(frozen=True)
class Sizes:
  sentences: int = 32      # quotable sentences per passage (more are dropped)
  sentence_tokens: int = 16
  passage_tokens: int = 320
  question_tokens: int = 24
  option_tokens: int = 6
  forgeries: int = 4
  evidence: int = 4        # sentences the retrieval and oracle protocols show


class ReadingTask(base.TaskDefaults):
  """Rows from `debate.data.reading.generate` or `debate.data.text_files` under one protocol."""
  name = "reading"
  num_claims = 2

  def __init__(self, rows: list[dict], tokenizer, sizes: Sizes,
               protocol: text_game.TextFormat, _arrays: dict | None = None):
    self.rows, self.tokenizer, self.sizes, self.protocol = rows, tokenizer, sizes, protocol
    self.arrays = _arrays if _arrays is not None else _tokenize(rows, tokenizer, sizes)
    self.game = text_game.TextDebate(protocol, sizes.sentences, sizes.forgeries,
                                     tokenizer.special,
                                     "lm" if "quote_scores" in self.arrays else "retrieval")

  def with_protocol(self, protocol: text_game.TextFormat) -> "ReadingTask":
    """The same examples, played under another protocol."""
    return ReadingTask(self.rows, self.tokenizer, self.sizes, protocol, self.arrays)

  def with_quote_scores(self, scores_NxU: np.ndarray) -> "ReadingTask":
    """The same examples and protocol, the game's prior a language model's quote scores
    (`text_game.Example.quote_scores_U`, one row per example)."""
    scores_NxU = np.asarray(scores_NxU, np.float32)
    want = (len(self.rows), self.sizes.sentences + self.sizes.forgeries)
    if scores_NxU.shape != want:
      raise ValueError(f"quote scores of shape {scores_NxU.shape}; allowed: {want}")
    return ReadingTask(self.rows, self.tokenizer, self.sizes, self.protocol,
                       {**self.arrays, "quote_scores": scores_NxU})

  def __len__(self) -> int:
    return len(self.rows)

  def truth(self, ids) -> np.ndarray:
    return self.arrays["label"][np.asarray(ids)]

  def examples(self, key: GameKey) -> text_game.Example:
    ids = np.asarray(key.example_id)
    a = {k: v[ids] for k, v in self.arrays.items()}
    return text_game.Example(
        sents_SxL=a["sents"], num_sents=a["num_sents"], fakes_FxL=a["fakes"],
        num_fakes=a["num_fakes"], passage_P=a["passage"], question_Q=a["question"],
        options_2xO=a["options"], label=a["label"],
        claims_2=np.asarray(key.claims_2, np.int32),
        truth_seat=np.asarray(key.truth_seat, np.int32), first=np.asarray(key.first, np.int32),
        quote_scores_U=a["quote_scores"] if "quote_scores" in a else np.zeros(
            (len(ids), self.sizes.sentences + self.sizes.forgeries), np.float32),
        evidence_K=a["evidence"])

  def judge_probs(self, judge_apply, judge_params, ids, rng) -> np.ndarray:
    """The blind judge's probabilities (question and options only)."""
    blind = text_game.TextDebate(text_game.TextFormat("blind", 0), self.sizes.sentences,
                                 self.sizes.forgeries, self.tokenizer.special)
    ex = self.examples(base.keys(ids, self.truth(ids), 1 - self.truth(ids), 0))
    ex = jax.tree.map(jnp.asarray, ex)
    view = jax.vmap(blind.judge_view)(ex, jax.vmap(blind.init)(ex))
    return np.asarray(jax.nn.softmax(judge_apply(judge_params, *view)))

  def inputs(self, ids) -> dict[str, np.ndarray]:
    """The passage, the question and both options as one token sequence (what a policy or a
    reward model reads)."""
    a = {k: self.arrays[k][np.asarray(ids)] for k in ("passage", "question", "options")}
    return {"tokens": np.concatenate([a["passage"], a["question"],
                                      a["options"].reshape(len(a["question"]), -1)], 1)}

  def text(self, i: int) -> dict:
    """Example i's strings, for transcripts."""
    r = self.rows[i]
    return {"sentences": r["sentences"][:self.sizes.sentences],
            "forgeries": list(r.get("forgeries", []))[:self.sizes.forgeries],
            "question": r["question"], "options": list(r["options"])}


def _tokenize(rows: list[dict], tok, sizes: Sizes) -> dict[str, np.ndarray]:
  n, S, L, F = len(rows), sizes.sentences, sizes.sentence_tokens, sizes.forgeries
  _report_cuts(rows, tok, sizes)
  sents = np.zeros((n, S, L), np.int32)
  fakes = np.zeros((n, F, L), np.int32)
  num_sents, num_fakes = np.zeros(n, np.int32), np.zeros(n, np.int32)
  for i, r in enumerate(rows):
    ss = r["sentences"][:S]
    if ss:
      sents[i, :len(ss)] = tok.encode(ss, L)
    num_sents[i] = len(ss)
    ff = list(r.get("forgeries", []))[:F]
    if ff:
      fakes[i, :len(ff)] = tok.encode(ff, L)
    num_fakes[i] = len(ff)
  options = np.stack([tok.encode(list(r["options"]), sizes.option_tokens) for r in rows])
  evidence = np.full((n, sizes.evidence), -1, np.int32)  # (rows from files name none)
  for i, r in enumerate(rows):
    ev = [e for e in r.get("evidence", []) if e < S][:sizes.evidence]
    evidence[i, :len(ev)] = ev
  return {"sents": sents, "num_sents": num_sents, "fakes": fakes, "num_fakes": num_fakes,
          "passage": tok.encode([r["passage"] for r in rows], sizes.passage_tokens),
          "question": tok.encode([r["question"] for r in rows], sizes.question_tokens),
          "options": options, "label": np.asarray([r["label"] for r in rows], np.int32),
          "evidence": evidence}


def _report_cuts(rows, tok, sizes: Sizes) -> None:
  """Says how much text the fixed shapes cut (sentences past `sentences`, tokens past each
  budget), so that a user with longer passages sees it and raises the sizes."""
  import logging
  sample = rows[:200]
  cut = {
      "sentences dropped": sum(max(len(r["sentences"]) - sizes.sentences, 0) for r in rows),
      "sentences cut short": sum(len(tok.ids(s)) > sizes.sentence_tokens
                                 for r in sample for s in r["sentences"][:sizes.sentences]),
      "passages cut short": sum(len(tok.ids(r["passage"])) > sizes.passage_tokens
                                for r in sample),
      "questions cut short": sum(len(tok.ids(r["question"])) > sizes.question_tokens
                                 for r in sample),
      "options cut short": sum(len(tok.ids(o)) > sizes.option_tokens
                               for r in sample for o in r["options"]),
  }
  if any(cut.values()):
    logging.warning("reading task: the fixed sizes cut text (%s; all questions for dropped "
                    "sentences, the first %d for the rest); raise config.sizes to keep it", cut,
                    len(sample))


def transcript_rows(name: str, task, key, out) -> list[dict]:
  """Each game of `out` as a readable JSON row (`TextGame.render`), with its protocol and
  question index."""
  ex = task.examples(key)
  return [{"protocol": name, "example": int(key.example_id[i]),
           **task.game.render(ex, out, i, task.text(int(key.example_id[i])))}
          for i in range(len(key.example_id))]


def quote_stats(task, out: dict) -> dict:
  """Verified share of quotes (by honest and liar), and in the open protocols how often the
  side-picker chose the true option."""
  s, f = task.game.sentences, task.game.fakes
  actions, seats, moved = (np.asarray(out[k]) for k in ("actions_BxT", "seats_BxT", "moved_BxT"))
  quote = moved & (actions >= 0) & (actions < s + f)
  honest_seat = np.where(judging.truth_in_seat0(out), 0, 1)[:, None]
  stats = {}
  for who, sel in (("all", quote), ("honest", quote & (seats == honest_seat)),
                   ("liar", quote & (seats != honest_seat))):
    stats[f"verified_share_{who}"] = float((actions[sel] < s).mean()) if sel.any() else None
  return stats
