"""The Judge interface: every judge of the project, model or person, gives batched probabilities
over the options (claims) of what it is shown.

A judge reads one kind of view:
- `ArrayJudge`: the engine's judge. Its view is the arrays a game's `judge_view` returns; it is a
  pure function `apply(params, *view_B) -> logits_BxC` with its parameters, so rollout, search,
  debaters and the uses of debate call it inside `jit` (they take `judge.apply` and
  `judge.params`). The sparse MNIST judge (`judges.mnist_judge.MnistJudge`, with its exact
  incremental form for search leaves) and the from-scratch text judge
  (`judges.text_judge.TextJudge`) are ArrayJudges; training one is `judges.mnist_training.
  train_mnist_judge` (random pixel masks) or `debate.judging.train_judge` (any game's
  transcripts, co-trained with the debaters by `debate.cotrain`).
- `RowJudge`: a judge that reads transcript rows as stored (`debate.games.text.TextDebate.render`
  rows: question, options, moves with their quotes; never who is honest): the pretrained
  language model (`judges.pretrained.PretrainedJudge`, fine-tuned by `judges.pretrained_finetune`)
  and recorded verdicts (`RecordedJudge`: people or models whose verdicts were stored).

`probs(views)` is the one call every judge answers: float [N, C], each row summing to 1.
"""
from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Callable, Protocol, runtime_checkable

import jax
import numpy as np

from models.errors import ConfigError


@runtime_checkable
class Judge(Protocol):
  name: str

  def probs(self, views) -> np.ndarray:
    """float [N, C]: the judge's probability of each option of each of N views."""


@dataclasses.dataclass
class ArrayJudge:
  """A judge over a game's array views: `apply(params, *view_B) -> logits_BxC`, pure and
  jittable, with its parameters. What the engine plays against."""
  name: str
  apply: Callable[..., jax.Array]
  params: Any

  def logits(self, *view_B) -> jax.Array:
    return self.apply(self.params, *view_B)

  def probs(self, views, batch: int = 512) -> np.ndarray:
    """`views`: a tuple of arrays with leading dim N (a game's `judge_view`, batched)."""
    views = tuple(views)
    n = len(views[0])
    fn = _softmax_of(self.apply)
    return np.concatenate([np.asarray(fn(self.params, *(v[s:s + batch] for v in views)))
                           for s in range(0, n, batch)]) if n else np.zeros((0, 0), np.float32)


_SOFTMAX: dict = {}


def _softmax_of(apply):
  if apply not in _SOFTMAX:
    _SOFTMAX[apply] = jax.jit(lambda params, *view: jax.nn.softmax(apply(params, *view), -1))
  return _SOFTMAX[apply]


class RowJudge(Protocol):
  """A judge over stored transcript rows (and, under full information, the passages)."""
  name: str

  def probs(self, rows: list[dict], passages: list | None = None) -> np.ndarray:
    """float [N, 2]: each row's probability of option 0 and option 1."""


def row_key(row: dict) -> tuple:
  """What identifies one judged game across files: its protocol, question and, when present, the
  debate's own id."""
  return (row.get("protocol"), row.get("example"), row.get("debate_id"))


class RecordedJudge:
  """Verdicts someone already gave (people through a dataset or the judging page, or a model's
  stored verdicts), as a judge: `probs` looks each row up by `row_key`. A row nobody judged is
  refused in one line, never guessed."""

  def __init__(self, name: str, verdicts: dict[tuple, np.ndarray]):
    self.name = name
    self.verdicts = {k: np.asarray(v, np.float64) for k, v in verdicts.items()}

  def __contains__(self, row: dict) -> bool:
    return row_key(row) in self.verdicts

  def probs(self, rows: list[dict], passages: list | None = None) -> np.ndarray:
    del passages  # The recorded judge read whatever it read when it judged.
    out = []
    for r in rows:
      key = row_key(r)
      if key not in self.verdicts:
        raise ConfigError(f"judge {self.name!r} has no verdict for game {key}; allowed: the "
                          f"{len(self.verdicts)} games it judged")
      out.append(self.verdicts[key])
    return np.stack(out) if out else np.zeros((0, 2))

  @classmethod
  def from_jsonl(cls, path: str, name: str | None = None, field: str = "probs"):
    """Rows of {protocol, example, [debate_id], `field`: [p0, p1]} (one per judged game), or
    {protocol, example, `field`: P(true option), true_option} as `pretrained_judge/
    verdicts.jsonl` stores them."""
    if not os.path.isfile(path):
      raise ConfigError(f"verdicts file {path!r} does not exist; allowed: a JSONL file of "
                        "recorded verdicts")
    verdicts = {}
    with open(path, "rb") as f:
      for i, line in enumerate(f, 1):
        if not line.strip():
          continue
        try:
          row = json.loads(line.decode("utf-8"))
          v = row[field]
          if isinstance(v, list):
            p = [float(x) for x in v]
          else:  # P(true option): which option that is must be in the row
            p = [1 - float(v), float(v)] if int(row["true_option"]) == 1 else \
                [float(v), 1 - float(v)]
          if len(p) != 2 or not all(0 <= x <= 1 for x in p) or abs(sum(p) - 1) > 1e-6:
            raise ValueError(f"{field}={v!r} is not a probability pair")
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
          raise ConfigError(f"{path} line {i}: {type(e).__name__}: {str(e)[:80]}; allowed: a "
                            f"JSON object with protocol, example and {field!r} (two "
                            "probabilities summing to 1, or P(true option) with true_option)")
        verdicts[row_key(row)] = np.asarray(p)
    return cls(name or os.path.splitext(os.path.basename(path))[0], verdicts)
