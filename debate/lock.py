"""One run per workdir: a lock file holding the owner's pid, host and start time.

A second run on the same workdir stops at once, naming the first. A lock whose process is gone
(same host, pid not running) is stale and taken over with a warning. The owning process may take
it again (a resume in the same process, as tests do); it is removed when the process exits.
"""
from __future__ import annotations

import atexit
import json
import logging
import os
import socket
import time

from debate.config import ConfigError

LOCK = ".lock"
_held: set[str] = set()


def _alive(pid: int) -> bool:
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:  # Someone else's process.
    return True
  return True


def _read(path: str) -> dict | None:
  try:
    with open(path) as f:
      return json.load(f)
  except (OSError, ValueError):
    return None


def acquire(workdir: str) -> None:
  path = os.path.join(os.path.abspath(workdir), LOCK)
  me = {"pid": os.getpid(), "host": socket.gethostname(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S")}
  for _ in range(3):
    try:
      fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
      owner = _read(path)
      if owner and owner.get("pid") == me["pid"] and owner.get("host") == me["host"]:
        _held.add(path)
        return
      if owner and owner.get("host") == me["host"] and _alive(int(owner.get("pid", -1))):
        raise ConfigError(
            f"workdir {workdir!r} is in use by another run (pid {owner['pid']} on "
            f"{owner['host']}, started {owner.get('started')}); allowed: wait for it to finish "
            f"or use another workdir (if that process is gone, delete {path})") from None
      if owner and owner.get("host") != me["host"]:
        raise ConfigError(
            f"workdir {workdir!r} is locked by a run on host {owner.get('host')} (pid "
            f"{owner.get('pid')}, started {owner.get('started')}); allowed: wait for it, or "
            f"delete {path} if that run is gone") from None
      logging.warning("workdir %s: stale lock of pid %s (not running) taken over", workdir,
                      owner.get("pid") if owner else "?")
      try:
        os.unlink(path)
      except FileNotFoundError:
        pass
      continue
    with os.fdopen(fd, "w") as f:
      json.dump(me, f)
    _held.add(path)
    return
  raise ConfigError(f"workdir {workdir!r}: could not take its lock {path}; allowed: a workdir "
                    "no other run is using")


def release_all() -> None:
  for path in list(_held):
    owner = _read(path)
    if owner and owner.get("pid") == os.getpid():
      try:
        os.unlink(path)
      except OSError:
        pass
    _held.discard(path)


atexit.register(release_all)
