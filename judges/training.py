"""Judge training, evaluation and load-or-train, shared by every experiment that needs a judge."""
from __future__ import annotations

import os

import numpy as np
import optax

from debate import metrics as metrics_lib
from debate.config import ConfigError
from debate.data import mnist
from debate.train import trainer
from judges import mnist_judge as judge_lib


def train_judge(config, workdir: str, mesh, *, pixels: int, steps: int, arch: str,
                batch_size: int, learning_rate: float, log_every: int = 200,
                checkpoint_every: int = 1000, keep: int = 3, stop_after=None):
  """Trains a judge on random k-pixel masks of the config's training split."""
  train = mnist.load_from_config(config, "train")
  source = mnist.BatchSource(train, batch_size, config.seed)
  spec = judge_lib.get_arch(arch)
  task = trainer.TrainTask(
      init_model=lambda rngs: judge_lib.SparseJudge(spec, rngs=rngs),
      loss_fn=judge_lib.make_loss(pixels), optimizer=optax.adam(learning_rate),
      data=source, name=f"judge_k{pixels}")
  return trainer.train(task, mesh=mesh, rules=list(config.sharding.rules),
                       batch_axes=tuple(config.sharding.batch_axes), steps=steps,
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


def get_judge(config, workdir: str, mesh, k: int):
  """(apply, params, arch, source) of the k-pixel judge: from `config.judge_workdir` (which may
  contain '{k}'), or trained with `config.judge` into `workdir/judge_k{k}` (reused when there)."""
  if config.judge_workdir:
    path = config.judge_workdir.format(k=k)
    arch, pixels, params, _ = judge_lib.load_judge(path)
    if pixels != k:
      raise ConfigError(f"judge_workdir={path!r} holds a judge for k={pixels}, not k={k}")
    source = path
  else:
    jdir = os.path.join(workdir, f"judge_k{k}")
    arch = config.judge.arch
    if os.path.exists(os.path.join(jdir, "judge", "judge.json")):
      _, _, params, _ = judge_lib.load_judge(jdir)
    else:
      result = train_judge(config, jdir, mesh, pixels=k, steps=config.judge.steps, arch=arch,
                           batch_size=config.judge.batch_size,
                           learning_rate=config.judge.learning_rate)
      params = result.params
      judge_lib.save_judge(jdir, params, arch, k, {"steps": config.judge.steps})
    source = jdir
  return judge_lib.make_apply(judge_lib.get_arch(arch)), params, arch, source
