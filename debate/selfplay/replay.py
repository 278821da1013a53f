"""A fixed-capacity ring buffer of self-play positions, as one pytree of numpy arrays (so it is
saved in the checkpoint with everything else, and a resumed run samples the same batches).

A position is the game's key (what rebuilds its example), the state before the move, the seat
that moved, and the targets: the mover's action weights (search: visit shares) and the verdict
from the mover's side (+1 / -1)."""
from __future__ import annotations

from typing import Any

import jax
import numpy as np


def empty(capacity: int, key_example: Any, state_example: Any, num_actions: int,
          hints: bool = False) -> dict:
  """A buffer holding nothing, shaped after one key and one state (no leading dim); with
  `hints`, room for each position's move hints."""
  zeros = lambda x: np.zeros((capacity, *np.shape(x)), np.asarray(x).dtype)
  buf = {"key": jax.tree.map(zeros, key_example), "state": jax.tree.map(zeros, state_example),
         "seat": np.zeros(capacity, np.int32),
         "policy": np.zeros((capacity, num_actions), np.float32),
         "value": np.zeros(capacity, np.float32),
         "size": np.zeros((), np.int64), "cursor": np.zeros((), np.int64)}
  if hints:
    buf["hints"] = np.zeros((capacity, num_actions), np.float32)
  return buf


def _fields(buf: dict) -> list[str]:
  return [k for k in buf if k not in ("size", "cursor")]


def add(buf: dict, positions: dict) -> dict:
  """Writes `positions` (same structure, leading dim N) at the cursor, wrapping around."""
  capacity = len(buf["value"])
  n = len(positions["value"])
  at = (int(buf["cursor"]) + np.arange(n)) % capacity

  def put(dst, src):
    dst = np.array(dst)
    dst[at] = src
    return dst

  out = jax.tree.map(put, {k: buf[k] for k in _fields(buf)},
                     {k: positions[k] for k in _fields(buf)})
  out["size"] = np.asarray(min(int(buf["size"]) + n, capacity))
  out["cursor"] = np.asarray((int(buf["cursor"]) + n) % capacity)
  return out


def sample(buf: dict, rng: np.random.Generator, batch: int) -> dict:
  idx = rng.integers(0, int(buf["size"]), batch)
  return jax.tree.map(lambda x: x[idx], {k: buf[k] for k in _fields(buf)})
