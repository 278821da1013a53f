"""Text tasks: the synthetic generator agrees with an independent solver and is deterministic;
QuALITY-format and field-mapped JSONL files load offline; bad files get one clear line."""
import json
import re

import numpy as np
import pytest

from debate.config import ConfigError
from debate.data import reading, text_files


def _pattern(template: str) -> re.Pattern:
  body = re.escape(template).replace(r"\{n\}", r"(?P<n>\w+)").replace(
      r"\{a\}", r"(?P<a>\w+)").replace(r"\{c\}", r"(?P<c>\w+)")
  return re.compile(body.replace(r"\ a\ ", r"\ an?\ "))


EVENTS = [(kind, _pattern(t)) for split in reading.TEMPLATES
          for kind, ts in reading.TEMPLATES[split].items() for t in ts]


def solve(sentences: list[str], question: str) -> str:
  """Reads the passage as a person would: events in order (a statement, a change or a change
  back sets the colour; a decoy changes nothing), then the question's chain of facts."""
  pet, city, colour = {}, {}, {}
  for s in sentences:
    if m := re.fullmatch(r"(\w+) owns a (\w+)\.", s):
      pet[m[2]] = m[1]
      continue
    if m := re.fullmatch(r"(\w+) lives in (\w+)\.", s):
      city[m[2]] = m[1]
      continue
    for kind, p in EVENTS:
      if m := p.fullmatch(s):
        if kind != "decoy":
          colour[m["n"], m["a"]] = m["c"]
        break
  if m := re.fullmatch(r"What colour is (\w+)'s (\w+) now\?", question):
    return colour[m[1], m[2]]
  if m := re.fullmatch(r"What colour is the (\w+) of the person who owns the (\w+)\?", question):
    return colour[pet[m[2]], m[1]]
  m = re.fullmatch(r"What colour is the (\w+) of the person who lives in (\w+)\?", question)
  return colour[city[m[2]], m[1]]


@pytest.mark.parametrize("hops,overrides,distractors,tricky,split",
                         [(1, 0, 1, 0.0, "train"), (2, 1, 3, 0.5, "train"),
                          (2, 3, 5, 1.0, "test"), (1, 2, 3, 0.5, "test")])
def test_every_generated_answer_agrees_with_an_independent_solver(hops, overrides, distractors,
                                                                  tricky, split):
  cfg = reading.ReadingConfig(sentences=40, distractors=distractors, hops=hops,
                              overrides=overrides, tricky=tricky)
  rows = reading.generate(300, seed=3, cfg=cfg, split=split)
  for r in rows:
    assert solve(r["sentences"], r["question"]) == r["options"][r["label"]]
    assert r["options"][0] != r["options"][1]
    assert len(r["sentences"]) == 40 and r["passage"] == " ".join(r["sentences"])
    # Forgeries: a statement and a change for each option, none in the passage.
    assert len(r["forgeries"]) == 4 and all(f not in r["sentences"] for f in r["forgeries"])
    for k, f in enumerate(r["forgeries"]):
      assert r["options"][k // 2] in f and r["target"] in f
    # The evidence: every event on the asked thing (and the two-hop link) decides it alone.
    shown = [r["sentences"][i] for i in r["evidence"]]
    assert solve(shown, r["question"]) == r["options"][r["label"]]
    assert bool(re.search(rf"\b{r['target']}\b", r["question"])) == (hops == 1)
    # Names and things of the split only.
    assert r["target"] in reading.NAMES[split] and r["attribute"] in reading.THINGS[split]
  labels = [r["label"] for r in rows]
  assert 0.4 < np.mean(labels) < 0.6  # The truth at a random position.
  tricky_share = np.mean([r["qtype"] in ("changed", "reversed") for r in rows])
  assert abs(tricky_share - tricky) < 0.08


def test_on_every_question_type_the_false_option_has_a_verified_sentence_naming_the_person():
  """One quote can mislead: a sentence of the passage names the asked person and states the
  false option's colour, whatever the question type."""
  rows = reading.generate(400, seed=4)
  assert {r["qtype"] for r in rows} == set(reading.QTYPES)
  for r in rows:
    wrong = r["options"][1 - r["label"]]
    assert any(r["target"] in s and re.search(rf"\b{wrong}\b", s) for s in r["sentences"]), r


def test_train_and_test_share_no_person_thing_or_wording():
  assert not set(reading.NAMES["train"]) & set(reading.NAMES["test"])
  assert not set(reading.THINGS["train"]) & set(reading.THINGS["test"])
  train = {t for ts in reading.TEMPLATES["train"].values() for t in ts}
  test = {t for ts in reading.TEMPLATES["test"].values() for t in ts}
  assert not train & test
  a, b = reading.generate(100, 0, split="train"), reading.generate(100, 0, split="test")
  words = lambda rows: {w for r in rows for w in re.findall(r"[A-Z]\w+", r["passage"])}
  assert not (words(a) & set(reading.NAMES["test"])) and not (words(b) & set(
      reading.NAMES["train"]))


def test_generator_is_deterministic_and_prefix_stable():
  a = reading.generate(50, seed=7)
  assert a == reading.generate(50, seed=7)
  assert a[:20] == reading.generate(20, seed=7)
  assert a != reading.generate(50, seed=8)


@pytest.mark.parametrize("cfg,match", [
    (reading.ReadingConfig(hops=3), "data.hops=3"),
    (reading.ReadingConfig(sentences=5), "data.sentences=5"),
    (reading.ReadingConfig(distractors=40), "data.distractors=40"),
    (reading.ReadingConfig(tricky=-0.5), "data.tricky=-0.5"),
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


def _game(true_option, honest_quotes, liar_quotes, first="honest"):
  """A rendered debate: (quote, verified) per side, the first speaker's side first."""
  sides = {"honest": (true_option, honest_quotes), "liar": (1 - true_option, liar_quotes)}
  order = [first, "liar" if first == "honest" else "honest"]
  moves = []
  for k in range(max(len(honest_quotes), len(liar_quotes))):
    for who in order:
      option, quotes = sides[who]
      if k < len(quotes):
        moves.append({"speaker": who, "argues_option": option, "quote": quotes[k][0],
                      "verified": quotes[k][1]})
  return {"example": 0, "true_option": true_option, "moves": moves}


def test_shallow_rules_score_what_they_claim():
  """A keyword the honest side always quotes is a perfect rule; one both sides quote is a coin;
  a rule that is always wrong is reported inverted (its inverse is as shallow)."""
  from debate.tasks import reading_rules
  row = {"target": "Ana", "attribute": "hat"}
  games = [_game(t, [("Later, Ana painted the hat red.", True)],
                 [("Ana's hat is blue.", True), ("Bo's hat is red.", False)],
                 first="liar") for t in (0, 1, 1, 0)]
  r = reading_rules.rule_accuracies(games, [row])
  assert r["keyword_later"]["accuracy"] == 1.0 and not r["keyword_later"]["inverted"]
  assert r["name_match"]["accuracy"] == 0.5     # both sides quote Ana verified once
  assert r["first_quote"]["accuracy"] == 1.0 and r["first_quote"]["inverted"]  # liar first
  assert r["fewer_forgeries"]["accuracy"] == 1.0
  assert r["option_position"]["accuracy"] == 0.5
  assert {x["n"] for x in r.values()} == {4}
  # Without the generator's names, the name rules are not computed.
  assert "name_match" not in reading_rules.rule_accuracies(games, [{}])
