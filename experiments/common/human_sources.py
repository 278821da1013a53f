"""Debates a person can judge, from the places the project keeps them: a text-debate run's
`transcripts*.jsonl` (quotes marked verified or not; arguments around them when the run wrote
them) and NYU-format rooms (`debate.data.nyu`: the shipped split by default). Each becomes one
`Debate`: the question, the two answers, the speeches round by round as parts of plain text and
quotes, and what the judge must never see (the truth, which side is honest, the story, who
debated) kept apart from what is served.

A damaged or missing source is one line in the log and the others are still served."""
from __future__ import annotations

import dataclasses
import glob
import hashlib
import logging
import os

from debate import io
from debate.data import nyu


@dataclasses.dataclass(frozen=True)
class Debate:
  id: str                  # stable: a hash of the source and the game's key
  source: str              # where it came from (never shown to a judge)
  story: str               # one key per hidden story: a judge is served each story once
  protocol: str            # debate | consultancy (open ones count as theirs)
  question: str
  answers: tuple[str, str]
  true_option: int         # never shown before the verdict
  # per round, its speeches: {"side": 0 or 1, "parts": [{"text"} or {"quote", "verified"}]}
  rounds: tuple
  setting: str = ""        # e.g. "human debate" (NYU), the run's debaters (never shown)
  key: tuple = ()          # (protocol, example, debate_id) of the source row: the Judge seam's key

  def served(self, upto: int) -> dict:
    """What a judge may see after `upto` rounds: no truth, no honesty, no source."""
    return {"id": self.id, "protocol": self.protocol, "question": self.question,
            "answers": list(self.answers), "rounds": [list(r) for r in self.rounds[:upto]],
            "total_rounds": len(self.rounds)}


def _id(source: str, key: str) -> str:
  return hashlib.sha256(f"{source}\0{key}".encode()).hexdigest()[:16]


def _parts_of_move(m: dict) -> list[dict]:
  if "parts" in m:  # NYU speeches and argued transcripts
    return [{"text": str(p["text"])} if "text" in p else
            {"quote": str(p["quote"]), "verified": bool(p.get("verified", True))}
            for p in m["parts"]]
  parts = []
  if m.get("argument"):
    parts.append({"text": str(m["argument"])})
  if m.get("quote") is not None:
    parts.append({"quote": str(m["quote"]), "verified": bool(m.get("verified"))})
  return parts


def from_transcript(row: dict, source: str) -> Debate:
  """A project transcript row (`TextDebate.render`, `nyu.Room.transcript_row`) as a Debate."""
  protocol = str(row["protocol"])
  two = protocol.endswith("debate")
  rounds: list[list[dict]] = []
  speeches = [m for m in row["moves"] if "argues_option" in m]  # (not the open protocols' picks)
  first = min((int(m["round"]) for m in speeches if "round" in m), default=0)
  for k, m in enumerate(speeches):
    r = int(m["round"]) - first if "round" in m else k // (2 if two else 1)
    while len(rounds) <= r:
      rounds.append([])
    rounds[r].append({"side": int(m["argues_option"]), "parts": _parts_of_move(m)})
  options = row["options"]
  if len(options) != 2 or not all(isinstance(o, str) for o in options):
    raise ValueError(f"options {options!r} are not two strings")
  key = f"{row['protocol']}/{row['example']}/{row.get('debate_id', '')}"
  return Debate(id=_id(source, key), source=source,
                story=f"{source}#{row.get('story', row['example'])}",
                protocol="debate" if two else "consultancy", question=str(row["question"]),
                answers=(options[0], options[1]), true_option=int(row["true_option"]),
                rounds=tuple(tuple(r) for r in rounds if r),
                setting=str(row.get("setting", protocol)),
                key=(protocol, row["example"], row.get("debate_id")))


def load(sources: list[str]) -> tuple[list[Debate], list[str]]:
  """Every debate of `sources` (run workdirs, transcript files, NYU directories; [] or
  ["nyu"]: the shipped rooms), and one line per source that could not be read."""
  debates, problems = [], []
  for src in sources or ["nyu"]:
    try:
      debates += _load_one(src)
    except Exception as e:  # a damaged source: said once, the rest still served
      problems.append(f"source {src!r} skipped: {type(e).__name__}: {str(e)[:120]}")
      logging.warning(problems[-1])
  seen, unique = set(), []
  for d in debates:
    if d.id not in seen and d.rounds:
      seen.add(d.id)
      unique.append(d)
  return unique, problems


def _load_one(src: str) -> list[Debate]:
  if src == "nyu" or os.path.isfile(os.path.join(src, "debates-metadata.jsonl")) or \
      os.path.isdir(os.path.join(src, "official")):
    loaded = nyu.load(None if src == "nyu" else src)
    out = []
    for room in loaded.rooms:
      d = from_transcript(room.transcript_row(), "nyu" if src == "nyu" else src)
      out.append(dataclasses.replace(d, story=f"nyu#{room.story_id}", setting=room.setting))
    return out
  files = ([src] if os.path.isfile(src) else
           sorted(glob.glob(os.path.join(src, "transcripts*.jsonl"))))
  if not files:
    raise FileNotFoundError("no transcripts*.jsonl and no NYU rooms")
  out = []
  for path in files:
    for row in io.read_jsonl(path, strict=True):
      out.append(from_transcript(row, os.path.abspath(path)))
  return out
