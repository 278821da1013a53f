"""Orbax checkpoints of the whole train state (model, optimizer, RNG) plus data-iterator state."""
from __future__ import annotations

import hashlib
import json
import logging
import errno
import os
from typing import Any

import jax
import orbax.checkpoint as ocp


class Checkpointer:
  """Keeps the last `keep` checkpoints under `directory`; restores the newest one that loads."""

  def __init__(self, directory: str, keep: int = 3):
    self.directory = os.path.abspath(directory)
    options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=True,
                                           enable_async_checkpointing=False)
    self._mngr = ocp.CheckpointManager(self.directory, options=options)

  def all_steps(self) -> list[int]:
    self._mngr.reload()
    return sorted(self._mngr.all_steps())

  def latest_step(self) -> int | None:
    steps = self.all_steps()
    return steps[-1] if steps else None

  def save(self, step: int, state: Any, extra: dict) -> None:
    args = ocp.args.Composite(state=ocp.args.StandardSave(state), extra=ocp.args.JsonSave(extra))
    try:
      self._mngr.save(step, args=args, force=True)
      self._mngr.wait_until_finished()
    except Exception as e:  # Orbax reports a full disk as ValueError(RESOURCE_EXHAUSTED ...).
      raise as_write_error(e, os.path.join(self.directory, str(step))) from e
    if jax.process_index() == 0:
      from debate import io
      step_dir = os.path.join(self.directory, str(step))
      io.atomic_write_json(os.path.join(step_dir, DIGEST), digest(step_dir))

  def restore(self, abstract_state: Any) -> tuple[int, Any, dict] | None:
    """Newest checkpoint that restores; a damaged one is reported and the previous one is tried.
    Damage includes bytes changed in place (same size): every file's SHA-256, recorded at save
    time, must match."""
    for step in reversed(self.all_steps()):
      try:
        verify(os.path.join(self.directory, str(step)))
        args = ocp.args.Composite(state=ocp.args.StandardRestore(abstract_state),
                                  extra=ocp.args.JsonRestore())
        out = self._mngr.restore(step, args=args)
        return step, out["state"], dict(out["extra"])
      except Exception as e:  # Orbax raises many kinds of errors for damaged files.
        logging.warning("checkpoint at step %d in %s is damaged (%s: %s); trying the previous one",
                        step, self.directory, type(e).__name__, str(e).splitlines()[0][:200])
        self._set_aside(step)
    return None

  def _set_aside(self, step: int) -> None:
    """Renames a damaged step out of the manager's way (kept for inspection, never deleted)."""
    src = os.path.join(self.directory, str(step))
    if jax.process_index() == 0 and os.path.isdir(src):
      dst = f"{src}.damaged"
      i = 1
      while os.path.exists(dst):
        dst, i = f"{src}.damaged{i}", i + 1
      os.rename(src, dst)
    self._mngr.reload()

  def close(self) -> None:
    self._mngr.close()


DIGEST = "sha256.json"  # Beside orbax's items in each step's directory.


def digest(step_dir: str) -> dict[str, str]:
  """SHA-256 of every file of a saved step (paths relative to it), the digest file excepted."""
  out = {}
  for root, _, files in os.walk(step_dir):
    for name in files:
      path = os.path.join(root, name)
      rel = os.path.relpath(path, step_dir)
      if rel == DIGEST:
        continue
      h = hashlib.sha256()
      with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
          h.update(block)
      out[rel] = h.hexdigest()
  return out


def verify(step_dir: str) -> None:
  """Raises if a file recorded at save time is missing or its bytes changed. Steps saved before
  digests existed (no digest file) are left to orbax's own checks."""
  path = os.path.join(step_dir, DIGEST)
  if not os.path.exists(path):
    return
  with open(path) as f:
    want = json.load(f)
  have = digest(step_dir)
  bad = sorted(k for k, v in want.items() if have.get(k) != v)
  if bad:
    raise ValueError(f"{len(bad)} file(s) differ from their digest at save time: {bad[:3]}")


def abstract_with_shardings(tree: Any, shardings: Any) -> Any:
  return jax.tree.map(lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s),
                      tree, shardings)


_WRITE_FAILURES = {"No space left on device": errno.ENOSPC, "os_error_code='28'": errno.ENOSPC,
                   "Disk quota exceeded": errno.EDQUOT, "Read-only file system": errno.EROFS,
                   "Permission denied": errno.EACCES}


def as_write_error(e: BaseException, path: str) -> BaseException:
  """Orbax's and TensorStore's failed writes as the OSError they are (so the runner says one
  line); anything else unchanged."""
  if isinstance(e, OSError):
    return e
  text = str(e)
  for needle, code in _WRITE_FAILURES.items():
    if needle in text:
      return OSError(code, os.strerror(code), path)
  return e


def save_params(path: str, params: Any) -> None:
  """Parameters alone (a saved judge, network or reward model) at `path`, waited for; a failed
  write is an OSError (`as_write_error`)."""
  ckptr = ocp.StandardCheckpointer()
  try:
    ckptr.save(path, jax.device_get(params), force=True)
    ckptr.wait_until_finished()
  except Exception as e:
    raise as_write_error(e, path) from e
