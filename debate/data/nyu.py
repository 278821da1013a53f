"""The NYU human debate dataset (Michael et al. 2023, "Debate Helps Supervise Unreliable Experts",
CC-BY 4.0): debate and consultancy rooms over QuALITY stories, with the human judges'
probabilities after every round and their final verdicts.

Reads a directory in the dataset's own format (`official/*.json`, one room per file, and
`debates-metadata.jsonl`), or the compact copy this repository ships in `data/nyu-debate`
(`rooms.jsonl.gz` with every story stored once in `stories.jsonl.gz`; `pack` writes it from the
former). Stories come as token lists (Penn Treebank tokens: `-LRB-`, `'s`, ...); `detokenize`
turns one into text with each token's character span, so a quote's token span becomes the text
the judge saw. Rooms that cannot be scored (unfinished, no final judgement, a quote outside the
story, a damaged file) are counted by reason and skipped, never a crash.
"""
from __future__ import annotations

import collections
import dataclasses
import glob
import gzip
import hashlib
import json
import os
from typing import Any

from models.errors import ConfigError

# The copy shipped with the repository (its README keeps the dataset's attribution).
SHIPPED = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__)))), "data", "nyu-debate")
SETTINGS = ("human_debate", "human_consultancy", "ai_debate", "ai_consultancy")

_PTB = {"-LRB-": "(", "-RRB-": ")", "-LSB-": "[", "-RSB-": "]", "-LCB-": "{", "-RCB-": "}",
        "``": "\u201c", "''": "\u201d"}
_NO_SPACE_BEFORE = {".", ",", ";", ":", "!", "?", "%", ")", "]", "}", "\u201d", "...", "n't",
                    "'s", "'re", "'ve", "'m", "'ll", "'d", "'S", "'RE", "'VE", "'M", "'LL", "'D",
                    "N'T"}
_NO_SPACE_AFTER = {"(", "[", "{", "\u201c", "$", "#"}


def detokenize(tokens: list[str]) -> tuple[str, list[int], list[int]]:
  """(text, start, end): the story as text, and each token's [start, end) characters in it."""
  out, starts, ends, pos = [], [], [], 0
  prev = None
  for tok in tokens:
    t = _PTB.get(tok, tok)
    space = bool(out) and t not in _NO_SPACE_BEFORE and prev not in _NO_SPACE_AFTER
    if space:
      out.append(" ")
      pos += 1
    starts.append(pos)
    out.append(t)
    pos += len(t)
    ends.append(pos)
    prev = t
  return "".join(out), starts, ends


@dataclasses.dataclass
class Speech:
  """One debater's speech: `side` 0 or 1 (the answer it argues: Debater A or B), and its parts in
  order, each {"text": ...} or {"quote": the story's text, "span": [begin, end) in tokens}."""
  side: int
  parts: list[dict]
  round: int


@dataclasses.dataclass
class Room:
  name: str
  story_id: str
  title: str
  story: str
  question: str
  answers: tuple[str, str]
  correct: int
  is_human: bool            # human debaters (else GPT-4)
  is_debate: bool           # two debaters (else one consultant)
  included_in_paper: bool
  speeches: list[Speech]
  # The live judge's probabilities after each of its feedback rounds (the first is before any
  # speech, usually 0.5 / 0.5), and its final verdict.
  beliefs: list[tuple[float, float]]
  final: tuple[float, float]

  @property
  def setting(self) -> str:
    return f"{'human' if self.is_human else 'ai'}_{'debate' if self.is_debate else 'consultancy'}"

  @property
  def judged_right(self) -> bool:
    """The paper's rule: the final probability of the correct answer is above one half."""
    return self.final[self.correct] > 0.5

  def transcript_row(self) -> dict:
    """The room as the project's judges read a transcript (`judges.pretrained.judge_messages`):
    the question, the answers and each speech, its quotes marked verified (they are the story's
    own words); the story and the live judge's feedback are not in it."""
    moves = [{"argues_option": s.side, "round": s.round,
              "parts": [{"text": p["text"]} if "text" in p else {"quote": p["quote"]}
                        for p in s.parts],
              "quotes": [p["quote"] for p in s.parts if "quote" in p]} for s in self.speeches]
    return {"protocol": "debate" if self.is_debate else "consultancy", "example": self.name,
            "setting": self.setting,
            "question": self.question, "options": list(self.answers), "moves": moves,
            "true_option": self.correct}


@dataclasses.dataclass
class Loaded:
  rooms: list[Room]
  skipped: dict[str, int]   # reason -> rooms skipped for it
  source: str

  def summary(self) -> str:
    skipped = ", ".join(f"{n} {why}" for why, n in sorted(self.skipped.items()))
    return (f"{len(self.rooms)} rooms over {len({r.story_id for r in self.rooms})} stories from "
            f"{self.source}" + (f"; skipped: {skipped}" if skipped else ""))


def _parse_room(name: str, room: dict, meta: dict, stories: dict) -> Room:
  """A Room, or ValueError naming why it cannot be scored."""
  status = meta.get("status", {})
  if "Complete" not in status:
    raise ValueError("unfinished")
  info = (status["Complete"].get("result") or {}).get("judgingInfo")
  if not info or not info.get("finalJudgement"):
    raise ValueError("no final judgement")
  setup = room["setup"]
  source = setup["sourceMaterial"]["QuALITYSourceMaterial"]
  sid = str(source["articleId"])
  key = (sid, len(source["contents"]), tuple(source["contents"][:50]))
  if key not in stories:  # one story's rooms may hold differently tokenized copies
    stories[key] = detokenize(source["contents"])
  text, starts, ends = stories[key]
  answers = tuple(str(a).strip() for a in setup["answers"])
  if len(answers) != 2:
    raise ValueError("not two answers")
  correct = int(setup["correctAnswerIndex"])
  final = tuple(float(x) for x in info["finalJudgement"])
  if correct not in (0, 1) or len(final) != 2:
    raise ValueError("bad answer index or judgement")
  speeches, beliefs, r = [], [], 0
  for entry in room["rounds"]:
    (kind, body), = entry.items()
    if kind in ("SimultaneousSpeeches", "SequentialSpeeches"):
      for key in sorted(body["speeches"], key=int):
        parts = []
        for seg in body["speeches"][key]["content"]:
          if "Text" in seg:
            parts.append({"text": seg["Text"]["text"]})
          elif "Quote" in seg:
            b, e = (int(x) for x in seg["Quote"]["span"])
            if not 0 <= b < e <= len(starts):
              raise ValueError("quote span outside the story")
            parts.append({"quote": text[starts[b]:ends[e - 1]], "span": [b, e]})
        speeches.append(Speech(int(key), parts, r))
      r += 1
    elif kind == "JudgeFeedback" and body.get("distribution"):
      beliefs.append(tuple(float(x) for x in body["distribution"]))
  return Room(name=name, story_id=sid, title=str(source.get("title", "")), story=text,
              question=str(setup["question"]).strip(), answers=answers, correct=correct,
              is_human=bool(meta["setting"]["isHuman"]), is_debate=bool(meta["setting"]["isDebate"]),
              included_in_paper=bool(meta.get("includedInPaper")), speeches=speeches,
              beliefs=beliefs, final=final)


def _metadata(path: str) -> dict[str, dict]:
  out = {}
  with open(path, "rb") as f:
    for i, line in enumerate(f, 1):
      if not line.strip():
        continue
      try:
        row = json.loads(line.decode("utf-8"))
        out[str(row["name"])] = row
      except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path} line {i} is damaged ({type(e).__name__}: {str(e)[:60]}); "
                          "allowed: the dataset's debates-metadata.jsonl, one JSON object "
                          "with a name per line")
  return out


def _shipped_rooms(directory: str):
  """(name, room) pairs of the compact copy, stories restored from `stories.jsonl.gz`."""
  stories = {}
  with gzip.open(os.path.join(directory, "stories.jsonl.gz"), "rb") as f:
    for line in f:
      row = json.loads(line)
      stories[row["id"]] = row["contents"]
  with gzip.open(os.path.join(directory, "rooms.jsonl.gz"), "rb") as f:
    for line in f:
      row = json.loads(line)
      room = row["room"]
      src = room["setup"]["sourceMaterial"]["QuALITYSourceMaterial"]
      src["contents"] = stories[src.pop("contentsOf")]
      yield row["name"], room


def _official_rooms(directory: str):
  for path in sorted(glob.glob(os.path.join(directory, "official", "*.json"))):
    name = os.path.splitext(os.path.basename(path))[0]
    try:
      with open(path, "rb") as f:
        yield name, json.loads(f.read().decode("utf-8"))
    except (ValueError, UnicodeDecodeError, OSError):
      yield name, None


def load(directory: str | None = None) -> Loaded:
  """Every room of `directory` (default: the shipped copy) that can be scored."""
  directory = directory or SHIPPED
  shipped = os.path.isfile(os.path.join(directory, "rooms.jsonl.gz"))
  meta_path = os.path.join(directory, "debates-metadata.jsonl")
  if not os.path.isfile(meta_path) or not (shipped or os.path.isdir(os.path.join(directory,
                                                                                   "official"))):
    raise ConfigError(f"data directory {directory!r} holds no NYU debate rooms; allowed: a "
                      "directory with official/*.json and debates-metadata.jsonl (the dataset's "
                      "format), or the shipped data/nyu-debate")
  meta = _metadata(meta_path)
  rooms, skipped, stories = [], collections.Counter(), {}
  for name, room in (_shipped_rooms(directory) if shipped else _official_rooms(directory)):
    if room is None:
      skipped["damaged file"] += 1
      continue
    if name not in meta:
      skipped["not in the metadata"] += 1
      continue
    try:
      rooms.append(_parse_room(name, room, meta[name], stories))
    except ValueError as e:
      skipped[str(e)] += 1
    except (KeyError, TypeError, AttributeError, IndexError):
      skipped["damaged room"] += 1
  return Loaded(rooms, dict(skipped), directory)


def pack(official_dir: str, out_dir: str) -> dict:
  """Writes the compact copy: rooms without their story text (`contentsOf`: the story id),
  every story once, and the metadata as is."""
  from debate import io
  os.makedirs(out_dir, exist_ok=True)
  stories, rooms = {}, []
  for name, room in _official_rooms(official_dir):
    if room is None:
      continue
    src = room["setup"]["sourceMaterial"]["QuALITYSourceMaterial"]
    contents = src.pop("contents")
    # Rooms of one story may hold differently tokenized copies: one entry per distinct copy.
    key = str(src["articleId"]) + ":" + hashlib.sha1(
        json.dumps(contents).encode()).hexdigest()[:10]
    stories.setdefault(key, contents)
    src["contentsOf"] = key
    rooms.append({"name": name, "room": room})

  def gz(rows: list[Any]) -> bytes:
    import io as _io
    buf = _io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9, mtime=0) as f:
      for r in rows:
        f.write((json.dumps(r, separators=(",", ":"), ensure_ascii=False) + "\n").encode())
    return buf.getvalue()
  io.atomic_write_bytes(os.path.join(out_dir, "stories.jsonl.gz"),
                        gz([{"id": k, "contents": v} for k, v in sorted(stories.items())]))
  io.atomic_write_bytes(os.path.join(out_dir, "rooms.jsonl.gz"), gz(rooms))
  with open(os.path.join(official_dir, "debates-metadata.jsonl"), "rb") as f:
    io.atomic_write_bytes(os.path.join(out_dir, "debates-metadata.jsonl"), f.read())
  return {"rooms": len(rooms), "stories": len(stories)}


if __name__ == "__main__":
  import sys
  if len(sys.argv) != 4 or sys.argv[1] != "pack":
    print("usage: python -m debate.data.nyu pack OFFICIAL_DIR OUT_DIR", file=sys.stderr)
    raise SystemExit(2)
  print(pack(sys.argv[2], sys.argv[3]))
