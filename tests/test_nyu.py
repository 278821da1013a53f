"""The NYU human debates: rooms read from the dataset's format and from the shipped copy, quotes
turned into the story's words, damaged or unscorable rooms counted and skipped, and the human
judges' accuracy computed from the data."""
import json

import numpy as np
import pytest

from debate.data import nyu


def _room(tokens, spans, final=(0.2, 0.8), correct=1, rounds=None):
  speech = lambda b, e: {"speaker": "x", "timestamp": 0, "content": [
      {"Text": {"text": "Look: "}}, {"Quote": {"span": [b, e]}}]}
  return {"setup": {"sourceMaterial": {"QuALITYSourceMaterial": {
      "articleId": "7", "title": "T", "contents": tokens}},
      "question": "Who won?", "answers": ["Ann ", "Bob"], "correctAnswerIndex": correct,
      "roles": {}, "rules": {}, "offlineJudges": {}, "creationTime": 0},
      "rounds": rounds if rounds is not None else [
          {"JudgeFeedback": {"distribution": [0.5, 0.5], "endDebate": False}},
          {"SimultaneousSpeeches": {"speeches": {"0": speech(*spans[0]), "1": speech(*spans[1])}}},
          {"JudgeFeedback": {"distribution": list(final), "endDebate": True}}],
      "feedback": [], "scratchpads": {}}


def _meta(name, final=(0.2, 0.8), complete=True, human=True, debate=True, paper=True):
  status = ({"Complete": {"result": {"correctAnswerIndex": 1, "judgingInfo": {
      "correctAnswerIndex": 1, "finalJudgement": list(final)}}}} if complete
            else {"InProgress": {}})
  return {"name": name, "setting": {"isHuman": human, "isDebate": debate}, "status": status,
          "includedInPaper": paper}


TOKENS = ["-LRB-", "Bob", "-RRB-", "won", "the", "race", ",", "and", "Ann", "did", "n't", "."]


def _write(tmp_path, rooms: dict, metas: list):
  (tmp_path / "official").mkdir()
  for name, room in rooms.items():
    (tmp_path / "official" / f"{name}.json").write_text(
        room if isinstance(room, str) else json.dumps(room))
  (tmp_path / "debates-metadata.jsonl").write_text("\n".join(json.dumps(m) for m in metas))
  return str(tmp_path)


def test_detokenized_text_has_each_tokens_span():
  text, starts, ends = nyu.detokenize(TOKENS)
  assert text == "(Bob) won the race, and Ann didn't."
  assert [text[s:e] for s, e in zip(starts, ends)][:3] == ["(", "Bob", ")"]


def test_rooms_are_read_quotes_become_story_text_and_bad_rooms_are_counted(tmp_path):
  rooms = {"good": _room(TOKENS, [(8, 11), (1, 6)]),
           "outside": _room(TOKENS, [(8, 40), (1, 6)]),
           "open": _room(TOKENS, [(8, 11), (1, 6)]),
           "nojudge": _room(TOKENS, [(8, 11), (1, 6)]),
           "broken": "{not json",
           "consult": _room(TOKENS, [(1, 3), (3, 6)], final=(0.7, 0.3))}
  metas = [_meta("good"), _meta("outside"), _meta("open", complete=False),
           {**_meta("nojudge"), "status": {"Complete": {"result": {"judgingInfo": None}}}},
           _meta("broken"), _meta("consult", final=(0.7, 0.3), human=False, debate=False)]
  loaded = nyu.load(_write(tmp_path, rooms, metas))
  assert [r.name for r in loaded.rooms] == ["consult", "good"]
  assert loaded.skipped == {"quote span outside the story": 1, "unfinished": 1,
                            "no final judgement": 1, "damaged file": 1}
  good = loaded.rooms[1]
  assert good.speeches[0].parts[1]["quote"] == "Ann didn't"
  assert good.speeches[1].parts[1]["quote"] == "Bob) won the race"  # tokens 1-5
  assert good.answers == ("Ann", "Bob") and good.judged_right
  assert good.beliefs == [(0.5, 0.5), (0.2, 0.8)]
  assert loaded.rooms[0].setting == "ai_consultancy" and not loaded.rooms[0].judged_right
  # The judges' view: speeches and quotes, never the story or the live judge's feedback.
  row = good.transcript_row()
  assert row["options"] == ["Ann", "Bob"] and row["moves"][0]["quotes"] == ["Ann didn't"]
  assert "race" not in json.dumps(row["moves"][0]) and "distribution" not in json.dumps(row)


def test_the_compact_copy_reads_as_the_original(tmp_path):
  (tmp_path / "a").mkdir()
  src = _write(tmp_path / "a", {"good": _room(TOKENS, [(8, 11), (1, 6)]),
                                "other": _room(TOKENS[:6] + ["."], [(1, 2), (3, 6)])},
               [_meta("good"), _meta("other")])
  nyu.pack(src, str(tmp_path / "b"))
  a, b = nyu.load(src), nyu.load(str(tmp_path / "b"))
  assert [(r.name, r.story, r.speeches) for r in a.rooms] == \
      [(r.name, r.story, r.speeches) for r in b.rooms]
  assert a.rooms[0].story != a.rooms[1].story  # one story id, two tokenizations, both kept


def test_a_directory_without_rooms_is_one_line(tmp_path):
  from debate.config import ConfigError
  with pytest.raises(ConfigError, match="holds no NYU debate rooms"):
    nyu.load(str(tmp_path))


def test_the_shipped_rooms_give_the_human_judges_accuracy_from_the_data():
  """On the shipped split (78 stories), as the paper scores it (complete rooms it used; right when
  the final probability of the correct answer is above one half): 83.5% of human debates and
  75.3% of human consultancies (the paper: 84% and 74% over all 96 stories, quoted)."""
  loaded = nyu.load()
  assert len(loaded.rooms) == 425 and len({r.story_id for r in loaded.rooms}) == 78
  paper = [r for r in loaded.rooms if r.included_in_paper]
  acc = {s: np.mean([r.judged_right for r in paper if r.setting == s]) for s in nyu.SETTINGS}
  assert round(acc["human_debate"], 3) == 0.835 and round(acc["human_consultancy"], 3) == 0.753


def test_the_judges_read_speeches_with_verified_quotes_and_rules_score_rows(tmp_path):
  from judges import pretrained, rules
  from judges.base import RecordedJudge, row_key
  loaded = nyu.load(_write(tmp_path, {"good": _room(TOKENS, [(8, 11), (1, 6)])},
                           [_meta("good")]))
  room = loaded.rooms[0]
  row = room.transcript_row()
  chat = pretrained.judge_messages(row, readout="cloze")[1]["content"]
  assert 'Debater for Ann: Look: "Ann didn\'t" (VERIFIED)' in chat
  assert 'Debater for Bob: Look: "Bob) won the race" (VERIFIED)' in chat
  assert "race, and" not in chat  # the story itself is never shown
  np.testing.assert_array_equal(rules.RuleJudge("more_words").probs([row]), [[0.0, 1.0]])
  np.testing.assert_array_equal(rules.RuleJudge("longer_answer").probs([row]), [[0.5, 0.5]])
  np.testing.assert_array_equal(rules.RuleJudge("more_quotes").probs([row]), [[0.5, 0.5]])
  human = RecordedJudge("human", {row_key(row): room.final})
  np.testing.assert_allclose(human.probs([row]), [room.final])


def test_the_experiment_puts_humans_and_rules_on_held_out_stories(tmp_path):
  """configs/nyu_debate.py on the shipped rooms: the humans' table from the data, each rule on
  the same rooms, stories never shared between tuning and evaluation; with `data.eval_dir`,
  another directory's rooms are the ones evaluated."""
  from experiments import run
  wd = str(tmp_path / "run")
  assert run.main(["--config", "configs/nyu_debate.py", "--workdir", wd]) == 0
  res = json.load(open(f"{wd}/results.json"))["metrics"]
  assert res["rooms"]["evaluated_stories"] == 23 and res["rooms"]["tuning_stories"] == 55
  assert res["human_all_stories"]["human_debate"]["n"] == 115
  assert round(res["human_all_stories"]["human_debate"]["accuracy"], 3) == 0.835
  for judge in ("human", "rule:longer_answer", "rule:shorter_answer"):
    assert sum(res["judges"][judge][s]["n"] for s in nyu.SETTINGS) == \
        res["rooms"]["evaluated_rooms"]
  rows = [json.loads(line) for line in open(f"{wd}/verdicts.jsonl")]
  longer = np.array([r["rule:longer_answer"][r["true_option"]] for r in rows])
  shorter = np.array([r["rule:shorter_answer"][r["true_option"]] for r in rows])
  np.testing.assert_allclose(longer + shorter, 1.0)  # opposite rules; ties count half each
  # Another directory: its rooms are evaluated, whatever the shipped split holds.
  src = _write(tmp_path, {"good": _room(TOKENS, [(8, 11), (1, 6)])}, [_meta("good")])
  wd2 = str(tmp_path / "run2")
  assert run.main(["--config", "configs/nyu_debate.py", "--workdir", wd2,
                   f"--config.data.eval_dir={src}"]) == 0
  res2 = json.load(open(f"{wd2}/results.json"))["metrics"]
  assert res2["rooms"]["evaluated_rooms"] == 1
  assert res2["judges"]["human"]["human_debate"]["accuracy"] == 1.0
