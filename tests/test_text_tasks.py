"""Text tasks: the synthetic generator agrees with an independent solver and is deterministic;
QuALITY-format and field-mapped JSONL files load offline; bad files get one clear line."""
import json
import re

import numpy as np
import pytest

from debate.config import ConfigError
from debate.data import reading, text_files


def solve(sentences: list[str], question: str) -> str:
  """Reads the passage as a person would: facts in order, a later change overrides, then the
  question's chain of facts."""
  pet, city, colour = {}, {}, {}
  for s in sentences:
    if m := re.fullmatch(r"(\w+) owns a (\w+)\.", s):
      pet[m[2]] = m[1]
    elif m := re.fullmatch(r"(\w+) lives in (\w+)\.", s):
      city[m[2]] = m[1]
    elif m := re.fullmatch(r"(\w+)'s (hat|car) is (\w+)\.", s):
      colour[m[1], m[2]] = m[3]
    elif m := re.fullmatch(r"Later, (\w+) dyed her hat (\w+)\.", s):
      colour[m[1], "hat"] = m[2]
    elif m := re.fullmatch(r"Later, (\w+) painted the car (\w+)\.", s):
      colour[m[1], "car"] = m[2]
  if m := re.fullmatch(r"What colour is (\w+)'s (hat|car)\?", question):
    return colour[m[1], m[2]]
  if m := re.fullmatch(r"What colour is the (hat|car) of the person who owns the (\w+)\?",
                       question):
    return colour[pet[m[2]], m[1]]
  m = re.fullmatch(r"What colour is the (hat|car) of the person who lives in (\w+)\?", question)
  return colour[city[m[2]], m[1]]


@pytest.mark.parametrize("hops,overrides,distractors,tricky",
                         [(1, 0, 1, None), (2, 1, 3, None), (2, 3, 5, None), (1, 2, 3, 0.5)])
def test_every_generated_answer_agrees_with_an_independent_solver(hops, overrides, distractors,
                                                                  tricky):
  cfg = reading.ReadingConfig(sentences=40, distractors=distractors, hops=hops,
                              overrides=overrides, tricky=tricky)
  rows = reading.generate(300, seed=3, cfg=cfg)
  labels = []
  for r in rows:
    assert solve(r["sentences"], r["question"]) == r["options"][r["label"]]
    assert r["options"][0] != r["options"][1]
    assert len(r["sentences"]) == 40 and r["passage"] == " ".join(r["sentences"])
    assert sum(s.startswith("Later,") for s in r["sentences"]) == overrides
    # Forgeries would support an option and are not in the passage.
    assert all(f not in r["sentences"] for f in r["forgeries"])
    if hops == 1:
      assert r["target"] in r["question"]
    else:
      assert r["target"] not in r["question"]
    labels.append(r["label"])
  assert 0.4 < np.mean(labels) < 0.6  # The truth at a random position.
  if tricky is not None:  # That share of questions asks about a changed fact.
    changed = [any(s.startswith(f"Later, {r['target']}") and r["attribute"][:3] in s
                   for s in r["sentences"]) for r in rows]
    assert abs(np.mean(changed) - tricky) < 0.08


def test_a_single_quote_can_mislead():
  # With an override, the overridden value is the distractor, and the sentence stating it is in
  # the passage: quoting it alone argues for the wrong option.
  rows = reading.generate(200, seed=4, cfg=reading.ReadingConfig(hops=1, overrides=8,
                                                                 distractors=3, sentences=30))
  misleading = 0
  for r in rows:
    wrong = r["options"][1 - r["label"]]
    misleading += any(s.endswith(f"{r['attribute']} is {wrong}.") and s.startswith(r["target"])
                      for s in r["sentences"])
  assert misleading == len(rows)  # Every question's attribute was overridden (8 of 8 facts).


def test_generator_is_deterministic_and_prefix_stable():
  a = reading.generate(50, seed=7)
  assert a == reading.generate(50, seed=7)
  assert a[:20] == reading.generate(20, seed=7)
  assert a != reading.generate(50, seed=8)


@pytest.mark.parametrize("cfg,match", [
    (reading.ReadingConfig(hops=3), "data.hops=3"),
    (reading.ReadingConfig(sentences=5), "data.sentences=5"),
    (reading.ReadingConfig(distractors=40), "data.distractors=40"),
])
def test_bad_knobs_are_one_clear_line(cfg, match):
  with pytest.raises(ConfigError, match=match):
    reading.generate(1, 0, cfg)


def _write(path, rows):
  path.write_text("".join(json.dumps(r) + "\n" for r in rows))
  return str(path)


QUALITY = [{
    "article_id": "a1", "article": "The ship left at dawn. Nobody saw the captain again! "
                                   "Was it the storm? Years later, a letter arrived.",
    "questions": [
        {"question": "When did the ship leave?", "options": ["at dusk", "at dawn", "at noon",
                                                              "never"], "gold_label": 2,
         "question_unique_id": "a1_q1",
         "validation": [{"untimed_best_distractor": 3}, {"untimed_best_distractor": 1},
                        {"untimed_best_distractor": 3}]},
        {"question": "What arrived?", "options": ["a letter", "a ship", "a storm", "nothing"],
         "gold_label": 1},
    ]}]


def test_quality_rows_are_truth_against_the_validators_best_distractor(tmp_path):
  rows = text_files.load_quality(_write(tmp_path / "q.jsonl", QUALITY), seed=0)
  assert len(rows) == 2
  r = rows[0]
  assert r["options"][r["label"]] == "at dawn"
  assert r["options"][1 - r["label"]] == "at noon"  # Two of three validators named option 3.
  assert r["distractor_source"] == "validators" and r["id"] == "a1_q1"
  assert r["sentences"] == ["The ship left at dawn.", "Nobody saw the captain again!",
                            "Was it the storm?", "Years later, a letter arrived."]
  r = rows[1]  # No validation: the first wrong option.
  assert set(r["options"]) == {"a letter", "a ship"} and r["options"][r["label"]] == "a letter"
  assert r["distractor_source"] == "first_wrong_option"
  # The truth's position is random over many questions.
  many = QUALITY[0] | {"questions": QUALITY[0]["questions"] * 40}
  labels = [r["label"] for r in text_files.load_quality(_write(tmp_path / "m.jsonl", [many]))]
  assert 0.3 < np.mean(labels) < 0.7


def test_any_jsonl_through_a_field_mapping(tmp_path):
  rows = [{"story": "Ann ran. Bob sat.", "q": "Who ran?", "choices": ["Bob", "Ann"], "answer": 2}]
  out = text_files.load_jsonl(_write(tmp_path / "f.jsonl", rows),
                              {"passage": "story", "question": "q", "options": "choices",
                               "label": "answer"}, label_base=1)
  assert out[0]["options"][out[0]["label"]] == "Ann" and out[0]["sentences"] == ["Ann ran.",
                                                                                  "Bob sat."]


@pytest.mark.parametrize("content,match", [
    ("not json\n", "line 1 is not JSON"),
    ('{"article": "x", "questions": [{"question": "q", "options": ["a", "b"], '
     '"gold_label": 5}]}\n', "gold_label=5"),
    ('{"text": "x"}\n', "no 'article'"),
    ("", "holds no rows"),
])
def test_bad_quality_files_are_one_clear_line(tmp_path, content, match):
  p = tmp_path / "bad.jsonl"
  p.write_text(content)
  with pytest.raises(ConfigError, match=match):
    text_files.load_quality(str(p))


def test_missing_file_is_one_clear_line(tmp_path):
  with pytest.raises(ConfigError, match="is not a file"):
    text_files.load_jsonl(str(tmp_path / "nope.jsonl"))


_Q = lambda **kw: json.dumps({"article": "A. B.", "questions": [
    {"question": "q", "options": ["a", "b"], "gold_label": 1} | kw]}) + "\n"
_J = lambda **kw: json.dumps({"passage": "Ann ran.", "question": "Who?",
                              "options": ["Ann", "Bob"], "label": 0} | kw) + "\n"


@pytest.mark.parametrize("loader,content,match", [
    ("quality", b'{"article": "caf\xe9"}\n', "is not UTF-8 (byte 16)"),
    ("quality", "[1, 2]\n", "is a JSON list"),
    ("quality", json.dumps({"article": "A.", "questions": [{"question": "q",
                                                            "options": ["a", "b"]}]}) + "\n",
     "an object with question, options and gold_label"),
    ("quality", _Q(options=["a"]), "at least two distinct"),
    ("quality", _Q(gold_label="1"), "gold_label='1'; allowed: an integer in 1..2"),
    ("quality", json.dumps({"article": " ", "questions": []}) + "\n", "article=' '"),
    ("jsonl", _J(label="A"), "label='A'"),
    ("jsonl", _J(label=0.7), "label=0.7"),
    ("jsonl", _J(label=True), "label=True"),
    ("jsonl", _J(options="PR"), "options='PR'; allowed: a list of at least two distinct"),
    ("jsonl", _J(options=["Ann", "Ann"]), "options="),
    ("jsonl", _J(options=["Ann", ""]), "options="),
    ("jsonl", _J(passage=""), "passage=''; allowed: a non-empty string"),
    ("jsonl", _J(question=3), "question=3"),
])
def test_bad_rows_name_the_file_the_line_and_the_field(tmp_path, loader, content, match):
  p = tmp_path / "bad.jsonl"
  good = _Q() if loader == "quality" else _J()
  p.write_bytes(good.encode() + (content if isinstance(content, bytes) else content.encode()))
  load = text_files.load_quality if loader == "quality" else text_files.load_jsonl
  with pytest.raises(ConfigError, match="line 2") as e:
    load(str(p))
  assert match in str(e.value) and "\n" not in str(e.value)
