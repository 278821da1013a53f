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
