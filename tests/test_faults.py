"""Faults and bad input: each is survived with one clear line, and nothing already written is lost.

docs/FAULTS.md lists every case with its message; the parametrized tests below cover them.
"""
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest

from debate import io, lock
from debate.config import ConfigError
from debate.data import mnist
from experiments import run

JUDGE = "configs/mnist_judge.py:smoke,arch=tiny"
DEBATE = "configs/mnist_debate.py:smoke,pixels=4,first=honest,precommit=true,baselines="


def _copy(src: str, dst) -> str:
  shutil.copytree(src, dst)
  return str(dst)


def _write(path, data: bytes):
  os.chmod(path, 0o644) if os.path.exists(path) else None
  with open(path, "wb") as f:
    f.write(data)


def _gz(arr_bytes: bytes) -> bytes:
  return gzip.compress(arr_bytes)


def _header(dims, code=0x08) -> bytes:
  import struct
  return bytes([0, 0, code, len(dims)]) + struct.pack(">" + "I" * len(dims), *dims)


def _bad_data(kind: str, digits_dir: str, tmp) -> str:
  d = _copy(digits_dir, tmp / "data")
  img = os.path.join(d, "train-images-idx3-ubyte.gz")
  lbl = os.path.join(d, "train-labels-idx1-ubyte.gz")
  if kind == "truncated":  # Half of the gzip stream.
    raw = open(img, "rb").read()
    _write(img, raw[:len(raw) // 2])
  elif kind == "not_gzip":
    _write(img, b"this is not a gzip file at all")
  elif kind == "short_body":  # A valid gzip of an IDX whose body is cut.
    _write(img, _gz(_header((512, 28, 28)) + bytes(1000)))
  elif kind == "bad_magic":
    _write(img, _gz(b"\x12\x34\x08\x03" + bytes(100)))
  elif kind == "shape":
    _write(img, _gz(_header((512, 32, 32)) + bytes(512 * 32 * 32)))
  elif kind == "count":
    _write(lbl, _gz(_header((100,)) + bytes(100)))
  elif kind == "labels_range":
    _write(lbl, _gz(_header((512,)) + bytes([12]) * 512))
  elif kind == "empty":
    for f in os.listdir(d):
      os.unlink(os.path.join(d, f))
  return d


@pytest.mark.parametrize("kind, message", [
    ("truncated", "cannot be read"),
    ("not_gzip", "cannot be read"),
    ("short_body", "truncated or damaged"),
    ("bad_magic", "is not an IDX file"),
    ("shape", "allowed: uint8 images of shape (28, 28)"),
    ("count", "labels for 512 images; allowed: one label per image"),
    ("labels_range", "has labels in [12, 12]; allowed: 0..9"),
    ("empty", "has no train-images-idx3-ubyte[.gz]"),
])
def test_bad_data_is_one_line_and_writes_nothing(kind, message, digits_dir, tmp_path, capsys):
  data = _bad_data(kind, digits_dir, tmp_path)
  wd = str(tmp_path / "w")
  assert run.main(["--config", JUDGE, "--workdir", wd, f"--config.data.dir={data}"]) == 2
  err = capsys.readouterr().err
  assert message in err and err.count("\n") == 1, err
  assert not os.path.exists(wd)


def _judge_run(digits_dir, wd, *extra):
  return run.main(["--config", "configs/mnist_judge.py:smoke,arch=tiny,pixels=4", "--workdir",
                   str(wd), f"--config.data.dir={digits_dir}", *extra])


@pytest.fixture(scope="module")
def k4_judge(tmp_path_factory):
  """A finished k = 4 judge as far as the checks read it (its judge.json)."""
  wd = tmp_path_factory.mktemp("judges") / "judge_k4"
  io.atomic_write_json(str(wd / "judge" / "judge.json"), {"arch": "tiny", "pixels": 4})
  return str(wd)


@pytest.mark.parametrize("args, message", [
    ([], "config argument pixels='5'; allowed: ['4', '6', 'both']"),
    (["--config.images=100000"], "config.images=100000 but the test split has 128 images"),
    (["--config.judge_workdir=/no/such/judge"], "judge_workdir='/no/such/judge' does not exist"),
    (["--config.judge_workdir={tmp}"], "holds no finished judge"),
    (["--config.judge_workdir={k4}"], "holds a judge for k=4, not k=6"),
    (["--config.judge.batch_size=100000"], "config.judge.batch_size=100000 is larger than the "
                                           "312 training images it trains on"),
    (["--config.data.source=tfds", "--config.data.tfds_download=false",
      "--config.data.tfds_data_dir={tmp}"], "with tfds_download=False, but TFDS 'mnist' is not"),
    (["--config.data.source=web"], "config.data.source='web' is not allowed"),
])
def test_bad_debate_input_is_one_line_and_writes_nothing(args, message, digits_dir, k4_judge,
                                                         tmp_path, capsys):
  spec = DEBATE.replace("pixels=4", "pixels=5") if not args else \
      DEBATE.replace("pixels=4", "pixels=6")
  empty = tmp_path / "empty"
  empty.mkdir()
  args = [a.format(tmp=empty, k4=k4_judge) for a in args]
  wd = str(tmp_path / "w")
  assert run.main(["--config", spec, "--workdir", wd, f"--config.data.dir={digits_dir}",
                   *args]) == 2
  err = capsys.readouterr().err
  assert message in err and err.count("\n") == 1, err
  assert not os.path.exists(wd)


def test_judge_batch_larger_than_data_writes_nothing(digits_dir, tmp_path, capsys):
  wd = str(tmp_path / "w")
  assert _judge_run(digits_dir, wd, "--config.batch_size=4096") == 2
  assert "config.batch_size=4096 is not allowed; allowed: at most the 312" in \
      capsys.readouterr().err
  assert not os.path.exists(wd)


def test_workdir_that_is_a_file(digits_dir, tmp_path, capsys):
  wd = tmp_path / "file"
  wd.write_text("precious")
  assert _judge_run(digits_dir, wd) == 2
  assert f"workdir {str(wd)!r} is a file" in capsys.readouterr().err
  assert wd.read_text() == "precious"


def test_divergence_without_nan_stops_with_clear_error(digits_dir, tmp_path, capsys):
  wd = str(tmp_path / "w")
  assert _judge_run(digits_dir, wd, "--config.learning_rate=1e6") == 1
  err = capsys.readouterr().err
  assert "Traceback" not in err and err.splitlines()[-1].startswith("error: "), err
  assert "diverged: lower the learning rate" in err
  assert not os.path.exists(os.path.join(wd, "results.json"))


def test_second_run_on_a_workdir_stops_naming_the_first(tmp_path):
  wd = str(tmp_path / "w")
  os.makedirs(wd)
  sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
  try:
    with open(os.path.join(wd, lock.LOCK), "w") as f:
      json.dump({"pid": sleeper.pid, "host": __import__("socket").gethostname(),
                 "started": "then"}, f)
    with pytest.raises(ConfigError, match=f"in use by another run \\(pid {sleeper.pid}"):
      lock.acquire(wd)
  finally:
    sleeper.kill()
    sleeper.wait()
  lock.acquire(wd)  # Its process is gone: the stale lock is taken over.
  assert json.load(open(os.path.join(wd, lock.LOCK)))["pid"] == os.getpid()
  lock.release_all()
  assert not os.path.exists(os.path.join(wd, lock.LOCK))


def test_two_processes_on_one_workdir(digits_dir, tmp_path):
  """A real second process on a running workdir exits at once with status 2 and one line."""
  wd = str(tmp_path / "w")
  os.makedirs(wd)
  lock.acquire(wd)  # This process plays the first run.
  try:
    out = subprocess.run([sys.executable, "-m", "experiments.run", "--config", JUDGE,
                          "--workdir", wd, f"--config.data.dir={digits_dir}"],
                         capture_output=True, text=True, timeout=120,
                         env={**os.environ, "XLA_FLAGS": ""})
    assert out.returncode == 2 and f"(pid {os.getpid()} on" in out.stderr, out.stderr
    assert not os.path.exists(os.path.join(wd, "config.json"))
  finally:
    lock.release_all()


def test_results_are_readable_by_others(tmp_path):
  old = os.umask(0o022)
  try:
    path = str(tmp_path / "r.json")
    io.atomic_write_json(path, {"a": 1})
    assert os.stat(path).st_mode & 0o777 == io.FILE_MODE == 0o644
  finally:
    os.umask(old)


def test_half_written_metrics_line_is_dropped(tmp_path, caplog):
  from debate.train.writers import MetricWriter, read_metrics
  w = MetricWriter(str(tmp_path), name="m")
  w.write(1, {"loss": 1.0})
  w.write(2, {"loss": 0.5})
  w.close()
  with open(tmp_path / "m.jsonl", "a") as f:
    f.write('{"loss": 0.2, "st')  # A kill during the append.
  w = MetricWriter(str(tmp_path), name="m", resume_step=2)
  w.write(3, {"loss": 0.1})
  w.close()
  assert [r["step"] for r in read_metrics(str(tmp_path / "m.jsonl"))] == [1, 2, 3]
  assert "damaged" in caplog.text


def test_same_size_damage_is_detected_and_previous_checkpoint_used(tmp_path):
  import jax.numpy as jnp

  from debate.train import checkpoint as ckpt_lib
  ck = ckpt_lib.Checkpointer(str(tmp_path / "ck"), keep=3)
  state = {"w": jnp.arange(4096, dtype=jnp.float32)}
  ck.save(1, state, {"data_step": 1})
  ck.save(2, {"w": state["w"] + 1}, {"data_step": 2})
  biggest = max((os.path.join(r, f) for r, _, fs in os.walk(tmp_path / "ck" / "2" / "state")
                 for f in fs), key=os.path.getsize)
  raw = bytearray(open(biggest, "rb").read())
  raw[len(raw) // 2] ^= 0xFF  # One flipped byte, same size.
  _write(biggest, bytes(raw))
  step, restored, extra = ck.restore({"w": state["w"]})
  assert step == 1 and extra["data_step"] == 1
  np.testing.assert_array_equal(np.asarray(restored["w"]), np.arange(4096))


def test_disk_full_is_one_line(digits_dir, tmp_path, capsys, monkeypatch):
  import errno

  def full(path, data):
    raise OSError(errno.ENOSPC, "No space left on device", path)
  monkeypatch.setattr(io, "atomic_write_bytes", full)
  assert _judge_run(digits_dir, tmp_path / "w") == 1
  err = capsys.readouterr().err
  assert "No space left on device" in err and err.count("\n") == 1, err


# SIGINT takes the same path as SIGTERM (debate.train.preempt); the default suite tries one.
@pytest.mark.parametrize("sig", [pytest.param(signal.SIGTERM, marks=pytest.mark.slow),
                                 signal.SIGINT])
def test_signal_saves_and_exits_preempted(sig, digits_dir, tmp_path):
  """SIGTERM and Ctrl-C: a checkpoint, one line, exit status 75; rerunning resumes."""
  wd = str(tmp_path / "w")
  cmd = [sys.executable, "-m", "experiments.run", "--config",
         "configs/mnist_judge.py:smoke,arch=tiny", "--workdir", wd,
         f"--config.data.dir={digits_dir}", "--config.steps=100000",
         "--config.checkpoint_every=100000"]
  p = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True,
                       env={**os.environ, "XLA_FLAGS": ""})
  for line in p.stderr:
    if " step " in line:  # Training has started.
      p.send_signal(sig)
      break
  err = p.stderr.read()
  assert p.wait(timeout=120) == 75, err
  assert "Traceback" not in err and "preempted: " in err, err
  assert os.listdir(os.path.join(wd, "checkpoints", "judge_k6"))


@pytest.mark.slow  # Two judge trainings and a self-play start; the refusal logic is small.
def test_resume_with_a_replaced_judge_is_refused(digits_dir, tmp_path, capsys):
  judge, wd = tmp_path / "judge", str(tmp_path / "debate")
  argv = ["--config", DEBATE.replace(",baselines=", ",baselines=,honest=greedy,liar=greedy"),
          "--workdir", wd, f"--config.data.dir={digits_dir}", f"--config.judge_workdir={judge}",
          "--config.images=8"]
  assert _judge_run(digits_dir, judge) == 0
  assert run.main(argv) == 0
  first = json.load(open(os.path.join(wd, "results.json")))
  assert first["metrics"]["cells_loaded"] == 0
  assert run.main(argv) == 0  # The same judge: every cell is loaded, and said so.
  before = open(os.path.join(wd, "results.json")).read()
  assert json.loads(before)["metrics"]["cells_loaded"] == 1
  shutil.rmtree(judge)
  assert _judge_run(digits_dir, judge, "--config.seed=1") == 0  # Another judge, same path.
  capsys.readouterr()
  assert run.main(argv) == 2
  err = capsys.readouterr().err
  assert "Traceback" not in err and err.splitlines()[-1].startswith("error: cell "), err
  assert "was replaced" in err
  assert open(os.path.join(wd, "results.json")).read() == before


@pytest.mark.parametrize("config, args, message", [
    ("distill_reward", ["--config.eval_images=5000"], "config.eval_images=5000 is not allowed"),
    ("debate_reward_rl", ["--config.rl.image_offset=500"], "config.rl.images=32 is not allowed"),
    ("debate_runtime", ["--config.weak.train_images=600"], "config.weak.train_images=600"),
    ("mnist_selfplay", ["--config.judge_workdir=/no/such/judge"], "does not exist"),
    ("mnist_tournament.py:smoke,debaters=random+greedy,population=false",
     ["--config.images=100000"], "config.images=100000 is not allowed"),
])
def test_bad_input_of_every_experiment_writes_nothing(config, args, message, digits_dir, tmp_path,
                                                      capsys):
  wd = str(tmp_path / "w")
  spec = f"configs/{config}" if ".py" in config else f"configs/{config}.py:smoke"
  assert run.main(["--config", spec, "--workdir", wd,
                   f"--config.data.dir={digits_dir}", *args]) == 2
  err = capsys.readouterr().err
  assert message in err and err.count("\n") == 1, err
  assert not os.path.exists(wd)
