"""The human judges' database: SQLite in the workdir, WAL, one transaction per write, so a
server killed mid-request keeps every verdict it acknowledged and stores no half of one.

Tables: judges (a name, a token's hash, admin or not), served (which debate each judge was
given, the answer order it saw, the rounds it has read and its probability after each), and
verdicts (one per judge and debate: the final probability of each answer, the explanation, the
score). A judge is served a story at most once and sees only its own rows."""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import sqlite3
import time

SCHEMA = """
CREATE TABLE IF NOT EXISTS judges (
  id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, token_hash TEXT UNIQUE NOT NULL,
  admin INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS served (
  judge_id INTEGER NOT NULL REFERENCES judges(id), debate_id TEXT NOT NULL, story TEXT NOT NULL,
  swap INTEGER NOT NULL, rounds_read INTEGER NOT NULL DEFAULT 1, steps TEXT NOT NULL DEFAULT '[]',
  served_at REAL NOT NULL, PRIMARY KEY (judge_id, debate_id), UNIQUE (judge_id, story));
CREATE TABLE IF NOT EXISTS verdicts (
  judge_id INTEGER NOT NULL REFERENCES judges(id), debate_id TEXT NOT NULL,
  p_answers TEXT NOT NULL, p_true REAL NOT NULL, correct INTEGER NOT NULL,
  rounds_read INTEGER NOT NULL, steps TEXT NOT NULL, first_is_true INTEGER NOT NULL,
  score REAL NOT NULL,
  explanation TEXT NOT NULL, created REAL NOT NULL, PRIMARY KEY (judge_id, debate_id));
"""


def token_hash(token: str) -> str:
  return hashlib.sha256(token.encode()).hexdigest()


class Store:
  """One connection per call site (SQLite connections are not shared across threads)."""

  def __init__(self, path: str):
    self.path = path
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    db = self._connect()
    try:
      db.executescript(SCHEMA)
    finally:
      db.close()

  def _connect(self) -> sqlite3.Connection:
    db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")  # an acknowledged verdict survives a kill or a crash
    db.execute("PRAGMA foreign_keys=ON")
    db.row_factory = sqlite3.Row
    return db

  def _write(self, sql: str, args=()) -> sqlite3.Cursor:
    db = self._connect()
    try:
      db.execute("BEGIN IMMEDIATE")
      cur = db.execute(sql, args)
      db.execute("COMMIT")
      return cur
    except BaseException:
      db.execute("ROLLBACK")
      raise
    finally:
      db.close()

  def _read(self, sql: str, args=()) -> list[sqlite3.Row]:
    db = self._connect()
    try:
      return db.execute(sql, args).fetchall()
    finally:
      db.close()

  # Judges ------------------------------------------------------------------------------------

  def add_judge(self, name: str, admin: bool = False) -> str:
    """A new judge; returns its token (shown once, stored only as a hash)."""
    token = secrets.token_urlsafe(24)
    self._write("INSERT INTO judges (name, token_hash, admin, created) VALUES (?, ?, ?, ?)",
                (name, token_hash(token), int(admin), time.time()))
    return token

  def judge_for(self, token: str | None) -> sqlite3.Row | None:
    if not token:
      return None
    rows = self._read("SELECT * FROM judges WHERE token_hash = ?", (token_hash(token),))
    return rows[0] if rows else None

  def judges(self) -> list[sqlite3.Row]:
    return self._read("SELECT id, name, admin, created FROM judges ORDER BY id")

  # Serving -----------------------------------------------------------------------------------

  def served(self, judge_id: int, debate_id: str) -> sqlite3.Row | None:
    rows = self._read("SELECT * FROM served WHERE judge_id = ? AND debate_id = ?",
                      (judge_id, debate_id))
    return rows[0] if rows else None

  def open_debate(self, judge_id: int) -> sqlite3.Row | None:
    """The debate this judge was served and has not decided yet, if any."""
    rows = self._read("SELECT s.* FROM served s LEFT JOIN verdicts v ON v.judge_id = s.judge_id "
                      "AND v.debate_id = s.debate_id WHERE s.judge_id = ? AND v.debate_id IS "
                      "NULL ORDER BY s.served_at LIMIT 1", (judge_id,))
    return rows[0] if rows else None

  def stories_seen(self, judge_id: int) -> set[str]:
    return {r["story"] for r in self._read("SELECT story FROM served WHERE judge_id = ?",
                                           (judge_id,))}

  def serve(self, judge_id: int, debate_id: str, story: str, swap: bool) -> bool:
    """Records that the judge was given this debate; False if the story was already served to
    it (a concurrent request won)."""
    try:
      self._write("INSERT INTO served (judge_id, debate_id, story, swap, served_at) VALUES "
                  "(?, ?, ?, ?, ?)", (judge_id, debate_id, story, int(swap), time.time()))
      return True
    except sqlite3.IntegrityError:
      return False

  def advance(self, judge_id: int, debate_id: str, p_first: float, total: int) -> int | None:
    """Records the judge's probability after the rounds read and opens the next round; the new
    number of rounds read, or None when there is none left."""
    db = self._connect()
    try:
      db.execute("BEGIN IMMEDIATE")
      row = db.execute("SELECT rounds_read, steps FROM served WHERE judge_id = ? AND debate_id = ?",
                       (judge_id, debate_id)).fetchone()
      if row is None or row["rounds_read"] >= total:
        db.execute("ROLLBACK")
        return None
      steps = json.loads(row["steps"]) + [p_first]
      db.execute("UPDATE served SET rounds_read = ?, steps = ? WHERE judge_id = ? AND "
                 "debate_id = ?", (row["rounds_read"] + 1, json.dumps(steps), judge_id, debate_id))
      db.execute("COMMIT")
      return row["rounds_read"] + 1
    except BaseException:
      db.execute("ROLLBACK")
      raise
    finally:
      db.close()

  # Verdicts ----------------------------------------------------------------------------------

  def add_verdict(self, judge_id: int, debate_id: str, p_answers: list[float], p_true: float,
                  rounds_read: int, steps: list[float], first_is_true: bool, score: float,
                  explanation: str) -> bool:
    """One verdict, in one transaction; False when this judge already decided this debate.
    `steps`: P(the answer shown first) after each round read; `first_is_true` says which."""
    try:
      self._write("INSERT INTO verdicts (judge_id, debate_id, p_answers, p_true, correct, "
                  "rounds_read, steps, first_is_true, score, explanation, created) VALUES (?, ?, "
                  "?, ?, ?, ?, ?, ?, ?, ?, ?)", (judge_id, debate_id, json.dumps(p_answers),
                                                p_true, int(p_true > 0.5), rounds_read,
                                                json.dumps(steps), int(first_is_true), score,
                                                explanation, time.time()))
      return True
    except sqlite3.IntegrityError:
      return False

  def decided_debates(self) -> set[str]:
    return {r["debate_id"] for r in self._read("SELECT DISTINCT debate_id FROM verdicts")}

  def verdicts_for(self, judge_id: int, debate_id: str) -> list[sqlite3.Row]:
    return self._read("SELECT * FROM verdicts WHERE judge_id = ? AND debate_id = ?",
                      (judge_id, debate_id))

  def verdicts(self, judge_id: int | None = None) -> list[sqlite3.Row]:
    if judge_id is None:
      return self._read("SELECT v.*, j.name FROM verdicts v JOIN judges j ON j.id = v.judge_id "
                        "ORDER BY v.created")
    return self._read("SELECT * FROM verdicts WHERE judge_id = ? ORDER BY created", (judge_id,))
