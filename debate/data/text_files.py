"""Reading-comprehension files for text debate: QuALITY v1.0.1 JSONL, or any JSONL of passage,
question, options and label through a field mapping. Every loader gives the same rows as the
synthetic generator (`debate.data.reading`): `passage`, `sentences`, `question`, two `options`
and the `label` (0 or 1) of the true one, plus where the distractor came from.

QuALITY (Pang et al. 2022): one line per article, `article` and `questions[]` with `question`,
four `options` and a 1-based `gold_label`; validators name the best distractor
(`validation[].untimed_best_distractor`, 1-based). As Khan et al. (2024) do, each question
becomes two options: the truth against the distractor most validators named (the first wrong
option when the file names none, said in `distractor_source`), the truth at a random position.
"""
from __future__ import annotations

import collections
import json
import os
import re

import numpy as np

from debate.config import ConfigError

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")


def split_sentences(passage: str) -> list[str]:
  """Sentences of a passage (the units a debater may quote): split after ., ! or ? followed by
  white space and a capital or digit; white space inside is kept as written."""
  return [s.strip() for s in _SENTENCE_END.split(passage.strip()) if s.strip()]


def _read_jsonl(path: str) -> list[dict]:
  if not os.path.isfile(path):
    raise ConfigError(f"data.path={path!r} is not a file; allowed: a JSONL file (QuALITY "
                      "v1.0.1, or passage/question/options/label rows with data.fields)")
  rows = []
  with open(path, "rb") as f:
    for n, raw in enumerate(f, 1):
      try:
        line = raw.decode("utf-8")
      except UnicodeDecodeError as e:
        raise ConfigError(f"data.path={path!r} line {n} is not UTF-8 (byte {e.start}); allowed: "
                          "UTF-8 text") from None
      if not line.strip():
        continue
      try:
        row = json.loads(line)
      except json.JSONDecodeError as e:
        raise ConfigError(f"data.path={path!r} line {n} is not JSON ({e.msg}); allowed: one JSON "
                          "object per line") from None
      if not isinstance(row, dict):
        raise ConfigError(f"data.path={path!r} line {n} is a JSON {type(row).__name__}; allowed: "
                          "one JSON object per line")
      rows.append(row)
  if not rows:
    raise ConfigError(f"data.path={path!r} holds no rows; allowed: a JSONL file with at least one")
  return rows


def _bad(path: str, n: int, field: str, value, allowed: str) -> ConfigError:
  shown = repr(value)
  shown = shown if len(shown) <= 60 else shown[:57] + "..."
  return ConfigError(f"data.path={path!r} line {n}: {field}={shown}; allowed: {allowed}")


def _check_text(path: str, n: int, field: str, value) -> str:
  if not isinstance(value, str) or not value.strip():
    raise _bad(path, n, field, value, "a non-empty string")
  return value


def _check_options(path: str, n: int, field: str, options) -> list[str]:
  ok = isinstance(options, list) and len(options) >= 2 and all(
      isinstance(o, str) and o.strip() for o in options)
  if not ok or len({o.strip() for o in options}) != len(options):
    raise _bad(path, n, field, options, "a list of at least two distinct non-empty strings")
  return options


def _check_label(path: str, n: int, field: str, label, lo: int, hi: int) -> int:
  if isinstance(label, bool) or not isinstance(label, int) or not lo <= label <= hi:
    raise _bad(path, n, field, label, f"an integer in {lo}..{hi}")
  return label


def _two_options(options: list[str], gold: int, distractor: int, rng) -> tuple[list[str], int]:
  pair = [options[gold], options[distractor]]
  label = int(rng.integers(2))
  return (pair if label == 0 else pair[::-1]), label


def load_quality(path: str, seed: int = 0) -> list[dict]:
  """Two-option rows (truth against the validators' best distractor) from a QuALITY JSONL."""
  rng = np.random.default_rng(seed)
  out = []
  for n, art in enumerate(_read_jsonl(path), 1):
    if "article" not in art or "questions" not in art:
      raise ConfigError(f"data.path={path!r} line {n} has no 'article' or 'questions'; allowed: "
                        "QuALITY v1.0.1 rows (or data.format=jsonl with data.fields)")
    sentences = split_sentences(_check_text(path, n, "article", art["article"]))
    if not isinstance(art["questions"], list):
      raise _bad(path, n, "questions", art["questions"], "a list of question objects")
    for k, q in enumerate(art["questions"]):
      where = f"questions[{k}]"
      if not isinstance(q, dict) or not {"question", "options", "gold_label"} <= set(q):
        raise _bad(path, n, where, q, "an object with question, options and gold_label")
      _check_text(path, n, f"{where}.question", q["question"])
      options = _check_options(path, n, f"{where}.options", q["options"])
      gold = _check_label(path, n, f"{where}.gold_label", q["gold_label"], 1, len(options)) - 1
      votes = collections.Counter(int(v["untimed_best_distractor"]) - 1
                                  for v in q.get("validation", [])
                                  if v.get("untimed_best_distractor") is not None)
      votes.pop(gold, None)
      ranked = [i for i, _ in sorted(votes.items(), key=lambda kv: (-kv[1], kv[0]))
                if 0 <= i < len(options)]
      distractor = ranked[0] if ranked else next(i for i in range(len(options)) if i != gold)
      pair, label = _two_options(options, gold, distractor, rng)
      out.append({"passage": art["article"], "sentences": sentences,
                  "question": q["question"], "options": pair, "label": label,
                  "distractor_source": "validators" if ranked else "first_wrong_option",
                  "id": q.get("question_unique_id", f"{art.get('article_id', n)}_{len(out)}")})
  return out


DEFAULT_FIELDS = {"passage": "passage", "question": "question", "options": "options",
                  "label": "label"}


def load_jsonl(path: str, fields: dict | None = None, label_base: int = 0,
               seed: int = 0) -> list[dict]:
  """Rows of any JSONL with a passage, a question, a list of options and the index of the true
  one (`label_base` 0 or 1); `fields` maps these names to the file's keys. With more than two
  options, the truth plays against the first wrong one."""
  fields = {**DEFAULT_FIELDS, **(fields or {})}
  rng = np.random.default_rng(seed)
  out = []
  for n, row in enumerate(_read_jsonl(path), 1):
    missing = [k for k, v in fields.items() if v not in row]
    if missing:
      raise ConfigError(f"data.path={path!r} line {n} has no {[fields[k] for k in missing]}; "
                        f"allowed: rows with {sorted(fields.values())} (data.fields maps them)")
    _check_text(path, n, fields["passage"], row[fields["passage"]])
    _check_text(path, n, fields["question"], row[fields["question"]])
    options = _check_options(path, n, fields["options"], row[fields["options"]])
    gold = _check_label(path, n, fields["label"], row[fields["label"]], label_base,
                        len(options) - 1 + label_base) - label_base
    distractor = next(i for i in range(len(options)) if i != gold)
    pair, label = _two_options(options, gold, distractor, rng)
    out.append({"passage": row[fields["passage"]],
                "sentences": split_sentences(row[fields["passage"]]),
                "question": row[fields["question"]], "options": pair, "label": label,
                "distractor_source": "first_wrong_option"})
  return out
