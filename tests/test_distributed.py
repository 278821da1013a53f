"""Several hosts, for real: two processes on this machine join one 8-device mesh through
`jax.distributed` (coordinator on 127.0.0.1, gloo CPU collectives, 4 fake devices each) and get
the one-process results; a process that dies ends the other in one line."""
import json
import os
import socket
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.slow

JUDGE = "configs/mnist_judge.py:smoke,arch=tiny"
DEBATE = "configs/mnist_debate.py:smoke,pixels=6,baselines=greedy"


def _port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _env(i: int | None, port: int) -> dict:
  env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=8"}
  if i is not None:  # One of two processes with 4 devices each.
    env.update(JAX_COORDINATOR_ADDRESS=f"127.0.0.1:{port}", JAX_NUM_PROCESSES="2",
               JAX_PROCESS_ID=str(i), JAX_CPU_COLLECTIVES_IMPLEMENTATION="gloo",
               XLA_FLAGS="--xla_force_host_platform_device_count=4")
  return env


def _cmd(config, wd, *args):
  return [sys.executable, "-m", "experiments.run", "--config", config, "--workdir", str(wd),
          *args]


def _run(config, wd, *args, processes=2):
  """Runs the command on `processes` processes (1: one process, 8 devices); all must succeed."""
  port = _port()
  ids = [None] if processes == 1 else [0, 1]
  ps = [subprocess.Popen(_cmd(config, wd, *args), env=_env(i, port), stderr=subprocess.PIPE,
                         text=True) for i in ids]
  errs = [p.communicate(timeout=900)[1] for p in ps]
  for p, err in zip(ps, errs):
    assert p.returncode == 0, err[-3000:]
  return json.load(open(os.path.join(wd, "results.json")))


def _judge_metrics(res):
  """Every metric but timings; ECE to 6 digits (its float sums run in another order)."""
  return {k: round(v, 6) if k == "test_ece" else v for k, v in res["metrics"].items()
          if "second" not in k}


def test_two_processes_train_the_judge_and_play_the_table_as_one(digits_dir, tmp_path):
  data = f"--config.data.dir={digits_dir}"
  one = _run(JUDGE, tmp_path / "j1", data, processes=1)
  two = _run(JUDGE, tmp_path / "j2", data)
  assert (one["num_processes"], two["num_processes"]) == (1, 2)
  assert one["mesh"] == two["mesh"] == {"data": 8, "model": 1}
  assert _judge_metrics(two) == _judge_metrics(one)
  # A checkpoint restores on either layout: 10 steps on two processes, the last 10 on one
  # (and the other way round) end where 20 uninterrupted steps do.
  for first, then in ((2, 1), (1, 2)):
    wd = tmp_path / f"resume_{first}{then}"
    _run(JUDGE, wd, data, "--config.steps=10", "--config.checkpoint_every=5", processes=first)
    res = _run(JUDGE, wd, data, "--config.checkpoint_every=5", processes=then)
    assert res["resumed_from_step"] == 10
    assert _judge_metrics(res) == _judge_metrics(one)
  # The debate table: every game the same as on one process; only process 0 wrote.
  judge = f"--config.judge_workdir={tmp_path / 'j1'}"
  d1 = _run(DEBATE, tmp_path / "d1", data, judge, processes=1)
  d2 = _run(DEBATE, tmp_path / "d2", data, judge)
  rates = lambda r: {k: v for k, v in r["metrics"].items() if "win_rate" in k}
  assert rates(d2) == rates(d1) and len(rates(d1)) == 8
  read = lambda d: open(tmp_path / d / "transcripts.jsonl").read()
  assert read("d2") == read("d1")
  assert len(json.loads("[" + ",".join(open(tmp_path / "d2" / "invocations.jsonl")) + "]")) == 1


@pytest.mark.parametrize("victim", [0, 1])
def test_a_killed_process_ends_the_other_in_one_line(victim, digits_dir, tmp_path):
  """kill -9 of either process (1, or 0 that hosts the coordinator): the other stops at once
  with one line, not after JAX's 100-second heartbeat check and a page of C++ logs."""
  port = _port()
  cmd = _cmd(JUDGE, tmp_path / "w", f"--config.data.dir={digits_dir}", "--config.steps=100000")
  ps = [subprocess.Popen(cmd, env=_env(i, port), stderr=subprocess.PIPE, text=True)
        for i in (0, 1)]
  survivor = ps[1 - victim]
  for line in survivor.stderr:
    if " step 10/" in line:
      break
  ps[victim].kill()
  t0 = time.time()
  err = survivor.communicate(timeout=180)[1]
  ps[victim].communicate()
  lines = [x for x in err.splitlines() if " INFO " not in x and not x.startswith("[Gloo]")]
  assert survivor.returncode == 1 and len(lines) == 1, err[-3000:]
  assert lines[0].startswith("error: ") and "rerun every process" in lines[0].lower()
  assert time.time() - t0 < 60
