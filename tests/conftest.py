import os

# 8 fake CPU devices for every test; must be set before jax is imported.
# LLVM's optimisation level 0: the suite is mostly XLA compiling small programs run once; this
# cuts its time by about a fifth (measured). Every equality a test checks compares programs built
# with the same flags.
_flags = os.environ.get("XLA_FLAGS", "")
if "xla_backend_optimization_level" not in _flags:
  _flags += " --xla_backend_optimization_level=0"
os.environ["XLA_FLAGS"] = (_flags + " --xla_force_host_platform_device_count=8").strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")
# One compilation cache for the whole run, shared by the xdist workers (they share the run's
# uid): many tests compile the same judge step or player, and compiling is most of their time.
_run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID") or f"pid{os.getpid()}"
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", f"/tmp/debate_tests_jax_cache_{_run_id}")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")

import logging
import pathlib

import numpy as np
import pytest
from debate.train.runtime import Runtime

logging.getLogger("absl").setLevel(logging.WARNING)

REPO = pathlib.Path(__file__).resolve().parents[1]
SHIPPED_MNIST = REPO / "data" / "mnist"  # 10,000 real images shipped with the repository.


def make_digits(n: int, seed: int = 0):
  """Synthetic 'digits': class c is a bright 6x6 block at a class-specific place, plus noise."""
  rng = np.random.default_rng(seed)
  labels = rng.integers(0, 10, size=n).astype(np.int32)
  images = np.zeros((n, 28, 28), np.uint8)
  for i, c in enumerate(labels):
    r, col = 2 + 8 * (c // 4), 2 + 6 * (c % 4)
    images[i, r:r + 6, col:col + 6] = rng.integers(128, 256, size=(6, 6))
    noise = rng.random((28, 28)) < 0.03
    images[i][noise] = rng.integers(1, 80, size=noise.sum())
  return images, labels


@pytest.fixture(scope="session")
def digits_dir(tmp_path_factory):
  from debate.data.mnist import write_idx
  d = tmp_path_factory.mktemp("digits")
  for split, n, seed in (("train", 512, 0), ("t10k", 128, 1)):
    images, labels = make_digits(n, seed)
    write_idx(str(d / f"{split}-images-idx3-ubyte.gz"), images)
    write_idx(str(d / f"{split}-labels-idx1-ubyte.gz"), labels)
  return str(d)


@pytest.fixture(scope="session")
def mnist_dir():
  return str(SHIPPED_MNIST)


def train_small_judge(data_dir: str, workdir: str, k: int, steps: int, arch: str = "small"):
  """Trains a judge on real data through the project's trainer; returns (apply, result)."""
  import optax

  from debate.data import mnist
  from debate.train import mesh as mesh_lib
  from debate.train import trainer
  from judges import mnist_judge as judge_lib
  spec = judge_lib.get_arch(arch)
  train = mnist.load_mnist("train", data_dir)
  task = trainer.TrainTask(init_model=lambda r: judge_lib.SparseJudge(spec, rngs=r),
                           loss_fn=judge_lib.make_loss(k), optimizer=optax.adam(1e-3),
                           data=mnist.BatchSource(train, 64, 0), name="judge")
  mesh = mesh_lib.make_mesh({"data": 8, "model": 1})
  result = trainer.train(task, runtime=Runtime(mesh), steps=steps, seed=0, workdir=workdir,
                         log_every=10, checkpoint_every=1000)
  return judge_lib.make_apply(spec), result


def pytest_sessionfinish(session, exitstatus):
  """The run's compilation cache goes with the run (the controller removes it)."""
  if os.environ.get("PYTEST_XDIST_WORKER") is None:
    import shutil
    cache = os.environ.get("JAX_COMPILATION_CACHE_DIR", "")
    if cache.startswith("/tmp/debate_tests_jax_cache_"):
      shutil.rmtree(cache, ignore_errors=True)
