"""The judging page under load: a real server process on localhost (`experiments.serve`), many
judges submitting at once through the JSON API; every acknowledged verdict counted against the
database, latency percentiles of the verdict requests."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import numpy as np


def _call(url, method="GET", body=None, token=None):
  h = {"X-Debate-Client": "1", "Authorization": f"Bearer {token}"}
  data = None if body is None else json.dumps(body).encode()
  if data is not None:
    h["Content-Type"] = "application/json"
  req = urllib.request.Request(url, data=data, method=method, headers=h)
  with urllib.request.urlopen(req, timeout=60) as r:
    return r.status, json.loads(r.read())


def synthetic_transcripts(path: str, n: int) -> None:
  """n one-round debates, each over its own story."""
  with open(path, "w") as f:
    for i in range(n):
      f.write(json.dumps({"protocol": "debate", "example": i, "question": f"Question {i}?",
                          "options": ["red", "blue"], "true_option": i % 2, "moves": [
                              {"argues_option": 0, "quote": "The hat is red.", "verified": True},
                              {"argues_option": 1, "quote": "It is blue.", "verified": False}]})
              + "\n")


def bench_judging(judges: int = 50, verdicts: int = 2000, workdir: str | None = None) -> dict:
  from experiments.common import human_db
  wd = workdir or tempfile.mkdtemp(prefix="judging_load_")
  src = os.path.join(wd, "transcripts.jsonl")
  per = -(-verdicts // judges)
  synthetic_transcripts(src, per)  # each judge can judge every story once
  store = human_db.Store(os.path.join(wd, "w", "judging.sqlite"))
  tokens = [store.add_judge(f"load{i}") for i in range(judges)]
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
  proc = subprocess.Popen([sys.executable, "-m", "experiments.serve", "--workdir",
                           os.path.join(wd, "w"), "--sources", src, "--port", str(port)],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  url = f"http://127.0.0.1:{port}"
  for _ in range(300):
    try:
      urllib.request.urlopen(url + "/", timeout=1)
      break
    except Exception:
      time.sleep(0.1)
  latencies, acked, errors, lock = [], [0], [0], threading.Lock()
  target = [verdicts]

  def judge(token):
    while True:
      with lock:
        if target[0] <= 0:
          return
        target[0] -= 1
      try:
        _, d = _call(url + "/api/next", token=token)
        if d.get("done"):
          return
        t0 = time.perf_counter()
        status, _ = _call(url + "/api/verdicts", "POST", {"debate": d["id"], "probabilities":
                                                          [70, 30], "explanation": "load"}, token)
        with lock:
          latencies.append(time.perf_counter() - t0)
          acked[0] += status == 200
      except Exception:
        with lock:
          errors[0] += 1
  t0 = time.time()
  threads = [threading.Thread(target=judge, args=(t,)) for t in tokens]
  for t in threads:
    t.start()
  for t in threads:
    t.join()
  wall = time.time() - t0
  proc.terminate()
  proc.wait(10)
  stored = len(store.verdicts())
  ms = np.asarray(latencies) * 1000
  return {"judges": judges, "verdicts_acknowledged": acked[0], "verdicts_stored": stored,
          "lost": acked[0] - stored, "errors": errors[0], "wall_seconds": wall,
          "verdicts_per_second": acked[0] / wall,
          "latency_ms": {f"p{q}": float(np.percentile(ms, q)) for q in (50, 90, 99)}
          if len(ms) else {}}
