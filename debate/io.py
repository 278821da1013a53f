"""Atomic file writes, JSON helpers and library versions for results files."""
from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import tempfile
from typing import Any

import numpy as np


def _to_jsonable(x: Any) -> Any:
  if isinstance(x, dict):
    return {str(k): _to_jsonable(v) for k, v in x.items()}
  if isinstance(x, (list, tuple)):
    return [_to_jsonable(v) for v in x]
  if isinstance(x, (np.generic,)):
    return x.item()
  if hasattr(x, "shape") and hasattr(x, "tolist"):
    return np.asarray(x).tolist()
  if hasattr(x, "to_dict"):
    return _to_jsonable(x.to_dict())
  return x


def _umask() -> int:
  mask = os.umask(0o022)
  os.umask(mask)
  return mask


# Files get the permissions `open` would give them (0644 under the usual umask), not mkstemp's
# 0600, so that collaborators can read results.
FILE_MODE = 0o666 & ~_umask()


def writes_files() -> bool:
  """Whether this process writes files: in a multi-process run (`jax.distributed`) only
  process 0 does (the workdir is shared); read without starting JAX's backends."""
  import sys
  if "jax" not in sys.modules:
    return True
  from jax._src import distributed
  state = distributed.global_state
  return state.client is None or state.process_id == 0


def atomic_write_bytes(path: str, data: bytes) -> None:
  """Writes `data` to `path` through a temp file in the same directory, then renames (on
  process 0 only, `writes_files`)."""
  if not writes_files():
    return
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp_" + os.path.basename(path))
  try:
    os.fchmod(fd, FILE_MODE)
    with os.fdopen(fd, "wb") as f:
      f.write(data)
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.unlink(tmp)
    raise


def atomic_write_text(path: str, text: str) -> None:
  atomic_write_bytes(path, text.encode("utf-8"))


def dumps(obj: Any) -> str:
  return json.dumps(_to_jsonable(obj), indent=2, sort_keys=True, allow_nan=True)


def atomic_write_json(path: str, obj: Any) -> None:
  atomic_write_text(path, dumps(obj) + "\n")


def atomic_write_jsonl(path: str, rows: list[dict]) -> None:
  atomic_write_text(path, "".join(json.dumps(_to_jsonable(r), sort_keys=True) + "\n" for r in rows))


def save_npz(path: str, **arrays) -> None:
  """Arrays in one npz, written whole or not at all."""
  import io as _io

  import numpy as np
  buf = _io.BytesIO()
  np.savez(buf, **arrays)
  atomic_write_bytes(path, buf.getvalue())


def read_jsonl(path: str, strict: bool = False) -> list[dict]:
  """Rows of a JSONL file. A damaged line (a kill during an append leaves half a line at the
  end) is dropped with a warning (logs the run appends to), or with `strict` (data a result is
  computed from: transcripts, verdicts) refused in one line naming the file and the line."""
  import logging

  from models.errors import ConfigError
  if not os.path.exists(path):
    if strict:
      raise ConfigError(f"{path} does not exist; allowed: the JSONL file a finished run writes")
    return []
  rows = []
  with open(path, "rb") as f:
    for n, raw in enumerate(f, 1):
      try:
        line = raw.decode("utf-8")
        if not line.strip():
          continue
        row = json.loads(line)
        if not isinstance(row, dict):
          raise ValueError(f"a JSON {type(row).__name__}")
        rows.append(row)
      except ValueError as e:  # (JSONDecodeError and UnicodeDecodeError are ValueErrors)
        if strict:
          raise ConfigError(f"{path} line {n} is damaged ({type(e).__name__}: {str(e)[:60]}); "
                            "allowed: one JSON object per line, as the run wrote it (rerun "
                            "it)") from None
        logging.warning("%s: line %d is damaged (%r...); dropped", path, n, raw[:60])
  return rows


def load_npz(path: str) -> dict:
  """The arrays of an npz file a run wrote; a missing, cut or damaged file is one line naming
  it."""
  import zipfile

  import numpy as np

  from models.errors import ConfigError
  try:
    with np.load(path) as f:
      if not hasattr(f, "files"):
        raise ValueError("not an npz archive")
      return {k: f[k] for k in f.files}
  except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
    raise ConfigError(f"{path} is missing or damaged ({type(e).__name__}: {str(e)[:80]}); "
                      "allowed: the file as a finished run wrote it (delete it and rerun to "
                      "make it again)") from None


def read_json(path: str) -> Any:
  with open(path) as f:
    return json.load(f)


def savefig(fig, path: str) -> None:
  """Saves a matplotlib figure atomically as PNG."""
  import io as _io
  buf = _io.BytesIO()
  fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
  atomic_write_bytes(path, buf.getvalue())


_LIBS = ("jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "chex", "mctx", "grain",
         "ml_collections", "tensorflow-datasets", "numpy", "tensorboardX")


def versions() -> dict[str, str]:
  out = {"python": platform.python_version(), "platform": platform.platform()}
  for lib in _LIBS:
    try:
      out[lib] = importlib.metadata.version(lib)
    except importlib.metadata.PackageNotFoundError:
      out[lib] = "not installed"
  return out
