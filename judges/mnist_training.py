"""The sparse MNIST judge from a config: trained on random k-pixel masks (`train_mnist_judge`),
evaluated, checked before a run, loaded or trained (`get_judge`), fingerprinted."""
from __future__ import annotations

import os

import numpy as np
import optax

from debate import metrics as metrics_lib
from debate.config import ConfigError
from debate.data import mnist
from debate.train import trainer
from judges import mnist_judge as judge_lib


def train_mnist_judge(config, workdir: str, runtime, *, pixels: int, steps: int, arch: str,
                batch_size: int, learning_rate: float, holdout: int = 0, log_every: int = 200,
                checkpoint_every: int = 1000, keep: int = 3, stop_after=None):
  """Trains a judge on random k-pixel masks of the config's training split, less its last
  `holdout` images (kept unseen for self-play's evaluation, `judge.json` records how many)."""
  train = mnist.load_from_config(config, "train")
  if holdout:
    train = {key: v[:-holdout] for key, v in train.items()}
  source = mnist.BatchSource(train, batch_size, config.seed)
  spec = judge_lib.get_arch(arch)
  task = trainer.TrainTask(
      init_model=lambda rngs: judge_lib.SparseJudge(spec, rngs=rngs),
      loss_fn=judge_lib.make_loss(pixels), optimizer=optax.adam(learning_rate),
      data=source, name=f"judge_k{pixels}")
  # At least ~50 points on the loss curve, whatever the run's length.
  log_every = max(1, min(log_every, steps // 50))
  return trainer.train(task, runtime=runtime, steps=steps,
                       seed=config.seed, workdir=workdir, log_every=log_every,
                       checkpoint_every=checkpoint_every, keep=keep, stop_after=stop_after)


def evaluate_judge(config, apply, params, pixels: int, masks_per_image: int) -> dict:
  """Accuracy (with 95% CI), ECE and NLL on random k-pixel masks of the test split."""
  test = mnist.load_from_config(config, "test")
  correct, probs = judge_lib.random_mask_accuracy(
      apply, params, mnist.to_float(test["image"]), test["label"], pixels,
      seed=config.seed + 1, masks_per_image=masks_per_image)
  flat_probs = probs.reshape(-1, 10)
  flat_labels = np.repeat(test["label"], probs.shape[1])
  return {
      "pixels": pixels,
      "test_accuracy": float(correct.mean()),
      "test_accuracy_ci95": list(metrics_lib.wilson_ci(correct.sum(), correct.size)),
      "test_images": int(len(test["label"])),
      "test_masks_per_image": masks_per_image,
      "test_ece": metrics_lib.multiclass_ece(flat_probs, flat_labels),
      "test_nll": float(-np.mean(np.log(flat_probs[np.arange(len(flat_labels)), flat_labels]
                                        + 1e-12))),
  }


def check_judge_source(config, k: int) -> None:
  """Before anything is written: a given `judge_workdir` holds a finished judge for this k (a
  readable judge.json and its parameters). A judge trained here (no `judge_workdir`) needs
  steps >= 1, a finite learning rate, and a batch and holdout that fit the data."""
  from debate.config import check_float, check_int
  if config.judge_workdir:
    path = config.judge_workdir.format(k=k)
    meta_path = os.path.join(path, "judge", "judge.json")
    if not os.path.isdir(path):
      raise ConfigError(f"judge_workdir={path!r} does not exist; allowed: the workdir of a "
                        "finished configs/mnist_judge.py run, or unset to train one here")
    if not os.path.exists(meta_path):
      raise ConfigError(f"judge_workdir={path!r} holds no finished judge ({meta_path} is "
                        "missing: still training, or not a judge run); allowed: the workdir of a "
                        "finished configs/mnist_judge.py run")
    meta = judge_lib.read_meta(meta_path)
    if meta["pixels"] != k:
      raise ConfigError(f"judge_workdir={path!r} holds a judge for k={meta['pixels']}, not "
                        f"k={k}; allowed: a judge trained with the same pixels (use '{{k}}' in "
                        "the path)")
    if not os.path.isdir(os.path.join(path, "judge", "params")):
      raise ConfigError(f"judge_workdir={path!r} has a judge.json but no parameters "
                        f"({os.path.join(path, 'judge', 'params')} is missing); allowed: a "
                        "finished configs/mnist_judge.py run (rerun it to write them)")
  elif "judge" in config and "batch_size" in config.judge:
    check_int(config, "judge.steps", 1)
    if "learning_rate" in config.judge:
      check_float(config, "judge.learning_rate")
    n = len(mnist.load_from_config(config, "train")["label"])
    holdout = int(config.judge.get("holdout", 0))
    check_int(config, "judge.holdout", 0, n - 1) if "holdout" in config.judge else None
    if config.judge.batch_size > n - holdout:
      raise ConfigError(f"config.judge.batch_size={config.judge.batch_size} is larger than the "
                        f"{n - holdout} training images it trains on; allowed: "
                        f"1..{n - holdout}")


def fingerprint(params) -> str:
  """A short SHA-256 of a judge's parameters: which judge played is recorded with every result,
  and a resumed run refuses to mix two judges."""
  import hashlib

  import jax
  h = hashlib.sha256()
  for leaf in jax.tree.leaves(jax.device_get(params)):
    a = np.ascontiguousarray(np.asarray(leaf))
    h.update(str((a.shape, a.dtype)).encode())
    h.update(a.tobytes())
  return h.hexdigest()[:16]


def judge_meta(source: str) -> dict:
  """What a saved judge's judge.json says about its training (steps, seed), for reports."""
  path = os.path.join(source, "judge", "judge.json")
  meta = judge_lib.read_meta(path) if os.path.exists(path) else {}
  return {"steps": meta.get("steps"), "seed": meta.get("seed"), "holdout": meta.get("holdout", 0)}


def check_judge_holdout(config, k: int, unseen: int) -> None:
  """Before anything is written: the judge never trained on the last `unseen` training images
  (the ones a run evaluates on). A judge trained here holds out `config.judge.holdout`."""
  if config.judge_workdir:
    path = config.judge_workdir.format(k=k)
    held = int(judge_meta(path)["holdout"] or 0)
    where = f"judge_workdir={path!r}"
  else:
    held, where = int(config.judge.get("holdout", 0)), "config.judge.holdout"
  if held < unseen:
    raise ConfigError(f"{where} holds out {held} training images from its judge, fewer than the "
                      f"{unseen} evaluation images (eval_games={unseen}); allowed: a judge trained "
                      f"with holdout >= {unseen} (configs/mnist_judge.py holds out 200), or a "
                      f"smaller eval_games")


def get_judge(config, workdir: str, runtime, k: int) -> judge_lib.MnistJudge:
  """The k-pixel judge: from `config.judge_workdir` (which may contain '{k}'), or trained with
  `config.judge` into `workdir/judge_k{k}` (reused when there)."""
  if config.judge_workdir:
    path = config.judge_workdir.format(k=k)
    judge = judge_lib.MnistJudge.load(path)
    if judge.pixels != k:
      raise ConfigError(f"judge_workdir={path!r} holds a judge for k={judge.pixels}, not k={k}")
    return judge
  jdir = os.path.join(workdir, f"judge_k{k}")
  if os.path.exists(os.path.join(jdir, "judge", "judge.json")):
    return judge_lib.MnistJudge.load(jdir)
  holdout = int(config.judge.get("holdout", 0))
  result = train_mnist_judge(config, jdir, runtime, pixels=k, steps=config.judge.steps,
                             arch=config.judge.arch, batch_size=config.judge.batch_size,
                             learning_rate=config.judge.learning_rate, holdout=holdout)
  judge = judge_lib.MnistJudge.create(config.judge.arch, result.params, k, jdir)
  judge.save(jdir, {"steps": config.judge.steps, "holdout": holdout})
  return judge
