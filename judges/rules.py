"""Shallow rules as judges (`judges.base.Judge` over transcript rows): what a judge that does not
read the argument could score. A headline must beat them on the same games, so every report
computes them beside the real judges.

Each rule gives probability 1 to the option it picks (0.5 / 0.5 when it cannot tell)."""
from __future__ import annotations

import numpy as np


def _pick(score_0: float, score_1: float) -> list[float]:
  if score_0 == score_1:
    return [0.5, 0.5]
  return [1.0, 0.0] if score_0 > score_1 else [0.0, 1.0]


def _by_side(row: dict, measure) -> tuple[float, float]:
  out = [0.0, 0.0]
  for m in row.get("moves", []):
    if "argues_option" in m:
      out[int(m["argues_option"])] += measure(m)
  return out[0], out[1]


def _quotes(m: dict) -> float:
  return float(len(m.get("quotes", [])) or ("quote" in m))


def _words(m: dict) -> float:
  text = " ".join(p.get("text", p.get("quote", "")) for p in m.get("parts", [])) or \
      m.get("quote", "")
  return float(len(text.split()))


RULES = {
    # The option whose text is longer (QuALITY's right answers run longer, a known artefact).
    "longer_answer": lambda row: _pick(len(row["options"][0]), len(row["options"][1])),
    # Its opposite (a rule below one half is a cue too, read the other way).
    "shorter_answer": lambda row: _pick(len(row["options"][1]), len(row["options"][0])),
    # The side that quoted the story more often.
    "more_quotes": lambda row: _pick(*_by_side(row, _quotes)),
    # The side that wrote more words.
    "more_words": lambda row: _pick(*_by_side(row, _words)),
    # Believe whoever spoke (a consultant; in debate, the side that spoke more often).
    "believe_the_speaker": lambda row: _pick(*_by_side(row, lambda m: 1.0)),
}


class RuleJudge:
  def __init__(self, name: str):
    self.name, self._rule = name, RULES[name]

  def probs(self, rows: list[dict], passages: list | None = None) -> np.ndarray:
    del passages
    return np.asarray([self._rule(r) for r in rows], np.float64).reshape(len(rows), 2)
