"""Shallow rules on reading-debate transcripts: how far a judge gets without reading. Each rule
looks at the form of the quotes only (a keyword, the forgeries' form, whether a quote names the
asked person, who spoke first, who has more verified quotes, the option's position) and picks
an option; a tie counts half. A rule and its inverse are both shallow, so each is reported in
its better direction. A debate result that one of these explains is not a result.

`rule_accuracies(transcripts, rows)` takes the rendered games (`TextDebate.render`, with
`example`) and the task's rows (`target` and `attribute` when the generator names them)."""
from __future__ import annotations

import re
from typing import Callable

import numpy as np

CHANGE_WORDS = re.compile(r"\b(later|then|changed|painted|dyed|back|finally)\b", re.I)


def _quotes(t: dict, option: int, verified: bool | None = None) -> list[str]:
  return [m["quote"] or "" for m in t["moves"] if m.get("argues_option") == option and (
      verified is None or m["verified"] == verified)]


def _count_rule(count: Callable[[dict, dict, int], float]) -> Callable:
  """Picks the option whose side scores higher by `count(transcript, row, option)`."""
  def rule(t: dict, row: dict) -> float:
    a, b = count(t, row, 0), count(t, row, 1)
    return 0.5 if a == b else float(a > b)  # P(option 0)
  return rule


def _names(row: dict, word: str) -> Callable[[str], bool]:
  return lambda q: bool(re.search(rf"\b{re.escape(row[word])}\b", q)) if row.get(word) else False


RULES = {
    # A quote starting "Later" (the generator's old change marker).
    "keyword_later": _count_rule(lambda t, r, o: sum(q.startswith("Later")
                                                     for q in _quotes(t, o))),
    # Any change word in the side's quotes.
    "change_words": _count_rule(lambda t, r, o: sum(bool(CHANGE_WORDS.search(q))
                                                    for q in _quotes(t, o))),
    # "back to": the reversal's wording.
    "back_to": _count_rule(lambda t, r, o: sum("back to" in q for q in _quotes(t, o))),
    # The form of the side's forgeries: change wording among its unverified quotes.
    "forgery_form": _count_rule(lambda t, r, o: sum(bool(CHANGE_WORDS.search(q))
                                                    for q in _quotes(t, o, verified=False))),
    "more_verified": _count_rule(lambda t, r, o: len(_quotes(t, o, verified=True))),
    "fewer_forgeries": _count_rule(lambda t, r, o: -len(_quotes(t, o, verified=False))),
    "first_quote": lambda t, row: next((1.0 - m["argues_option"] for m in t["moves"]
                                        if "argues_option" in m), 0.5),
    "last_quote": lambda t, row: next((1.0 - m["argues_option"] for m in t["moves"][::-1]
                                       if "argues_option" in m), 0.5),
    "option_position": lambda t, row: 1.0,
}
NAMED = {  # rules that need the row's `target` (the asked person) and `attribute` (the thing)
    "name_match": _count_rule(lambda t, r, o: sum(
        _names(r, "target")(q) for q in _quotes(t, o, verified=True))),
    "name_and_thing": _count_rule(lambda t, r, o: sum(
        _names(r, "target")(q) and _names(r, "attribute")(q)
        for q in _quotes(t, o, verified=True))),
}


def rule_accuracies(transcripts: list[dict], rows: list[dict]) -> dict[str, dict]:
  """{rule: {accuracy, inverted, n}} over the games: the accuracy of the rule or of its inverse,
  whichever is higher (`inverted` says which), ties counting half."""
  out = {}
  rules = dict(RULES)
  if rows and all("target" in r and "attribute" in r for r in rows):
    rules.update(NAMED)
  for name, rule in rules.items():
    scores = []
    for t in transcripts:
      p0 = rule(t, rows[t["example"]])
      truth = t["true_option"]
      scores.append(p0 if truth == 0 else 1.0 - p0)
    acc = float(np.mean(scores)) if scores else float("nan")
    out[name] = {"accuracy": max(acc, 1 - acc), "inverted": bool(acc < 0.5), "n": len(scores)}
  return out


def strongest(rules: dict[str, dict]) -> tuple[str, float]:
  name = max(rules, key=lambda k: rules[k]["accuracy"])
  return name, rules[name]["accuracy"]


def accuracy_by(correct: dict[int, float], rows: list[dict], field: str) -> dict[str, dict]:
  """{value of rows[i][field]: {accuracy, n}} over the examples of `correct` (example -> 1, 0 or
  a probability of being right), e.g. per question type."""
  groups: dict[str, list[float]] = {}
  for i, c in correct.items():
    if field in rows[i]:
      groups.setdefault(str(rows[i][field]), []).append(float(c))
  return {k: {"accuracy": float(np.mean(v)), "n": len(v)} for k, v in sorted(groups.items())}


def paired(correct: dict[str, dict[int, float]], base: str) -> dict[str, dict]:
  """`base` (e.g. debate) against every other protocol on the questions both played: the mean
  per-question difference with its paired 95% interval."""
  from debate import metrics
  out = {}
  for name, other in correct.items():
    if name == base or base not in correct:
      continue
    ids = sorted(set(correct[base]) & set(other))
    m, lo, hi = metrics.paired_difference_ci([correct[base][i] for i in ids],
                                             [other[i] for i in ids])
    out[name] = {"difference": m, "ci95": [lo, hi], "n": len(ids)}
  return out


def mixture_accuracy(by_type: dict[str, dict], shares: dict[str, float]) -> float | None:
  """The accuracy a fixed judge would have on another mixture of question types: its accuracy
  per type weighted by `shares` (None when a type with weight is missing)."""
  if any(w > 0 and t not in by_type for t, w in shares.items()):
    return None
  return float(sum(w * by_type[t]["accuracy"] for t, w in shares.items() if w > 0))
