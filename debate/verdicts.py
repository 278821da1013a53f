"""Verdict tables for the uses of debate (any task): computed once, cached in the workdir, and
shared between runs (`tables_from`) only when they were made the same way."""
from __future__ import annotations

import io as _io
import json
import logging
import os
import time

import numpy as np

from debate import io, rewards
from debate.config import ConfigError


def cached_table(path: str, compute, key: dict) -> dict:
  """Loads a verdict table from `path` (npz) or computes and saves it atomically.

  `key` (the debate settings, examples and judge) must match the saved one."""
  if os.path.exists(path):
    out = io.load_npz(path)
    saved = json.loads(str(out.get("key", "{}")))
    if saved != key:
      raise ConfigError(f"verdict table {path} was made with {saved}, not {key}; allowed: "
                        "tables_from a run with the same task, debater, sims, seed and judge")
    return out
  t0 = time.time()
  out = compute()
  out = {k: np.asarray(v) for k, v in out.items()}
  out["key"] = np.asarray(json.dumps(key, sort_keys=True))
  out["seconds"] = np.asarray(time.time() - t0)
  buf = _io.BytesIO()
  np.savez(buf, **out)
  io.atomic_write_bytes(path, buf.getvalue())
  logging.info("verdict table %s: %d games in %.0f s", path, int(out["games"]), out["seconds"])
  return out


def table_for(task, ids, judge_apply, judge_params, settings: rewards.DebateSettings, *, runtime,
              seed: int, workdir: str, name: str, key: dict,
              tables_from: str | None = None) -> dict:
  """The verdict table (`rewards.verdict_table`) of examples `ids` of `task`: read from
  `tables_from` when that run made it with the same `key`, otherwise computed (and cached) in
  `workdir` as `verdicts_{name}.npz`. `key` says how it was made (task, examples, judge)."""
  key = {**key, "debater": settings.debater, "sims": settings.sims, "seed": seed,
         "truth_rule": "paper"}
  path = os.path.join(workdir, f"verdicts_{name}.npz")
  if tables_from:
    shared = os.path.join(tables_from, f"verdicts_{name}.npz")
    path = shared if os.path.exists(shared) else path
  return cached_table(path, lambda: rewards.verdict_table(
      task, judge_apply, judge_params, ids, settings, runtime, seed=seed), key)
