"""Trains the sparse-pixel MNIST judge and measures its accuracy on random k-pixel masks."""
from __future__ import annotations

import logging
import os
import time


from debate import metrics as metrics_lib
from debate.data import mnist
from debate.config import check, check_float, check_int
from debate import runs as common
from judges import mnist_judge as judge_lib
from judges.mnist_training import evaluate_judge, train_mnist_judge


def validate(config) -> None:
  check_int(config, "pixels", 1, 28 * 28)
  check_int(config, "steps", 1)
  check_int(config, "batch_size", 1)
  check_float(config, "learning_rate")
  judge_lib.get_arch(config.judge.arch)
  check_int(config, "eval.masks_per_image", 1)
  check_int(config, "log_every", 1)
  check_int(config, "checkpoint_every", 1)
  check_int(config, "keep_checkpoints", 1)
  check_int(config, "holdout", 0)


def train_and_evaluate(config, workdir: str, *, stop_after: int | None = None) -> dict:
  validate(config)
  n = len(mnist.load_from_config(config, "train")["label"])  # Checked before any write.
  check(config.holdout < n, "holdout", config.holdout, f"fewer than the {n} training images")
  check(config.batch_size <= n - config.holdout, "batch_size", config.batch_size,
        f"at most the {n - config.holdout} training images it trains on")
  rt = common.prepare_workdir(config, workdir, mnist.check_config)
  t0 = time.time()
  result = train_mnist_judge(config, workdir, rt, pixels=config.pixels, steps=config.steps,
                       arch=config.judge.arch, batch_size=config.batch_size,
                       learning_rate=config.learning_rate, holdout=config.holdout,
                       log_every=config.log_every,
                       checkpoint_every=config.checkpoint_every, keep=config.keep_checkpoints,
                       stop_after=stop_after)
  train_seconds = time.time() - t0
  judge = judge_lib.MnistJudge.create(config.judge.arch, result.params, config.pixels, workdir)
  judge.save(workdir, {"steps": config.steps, "seed": config.seed, "holdout": config.holdout})
  rows = trainer_metrics(workdir, f"judge_k{config.pixels}")
  metrics = {
      **evaluate_judge(config, judge.apply, judge.params, config.pixels,
                       config.eval.masks_per_image),
      # As logged: the mean loss over the last logging interval (the last row of the metrics).
      "final_train_loss": rows[-1]["loss"] if rows else result.last_metrics.get("loss"),
      "train_steps_per_second": result.steps_per_second,
      "train_seconds": train_seconds,
  }
  wall = time.time() - t0
  common.write_results(workdir, config, metrics=metrics, runtime=rt, steps=config.steps,
                       resumed_from_step=result.resumed_from_step, wall_seconds=wall)
  if rows:
    common.plot_curves(os.path.join(workdir, "train_loss.png"),
                       {"loss": ([r["step"] for r in rows], [r["loss"] for r in rows])},
                       "step", "cross-entropy", f"judge training, k={config.pixels}")
  ci = metrics["test_accuracy_ci95"]
  common.write_report(workdir, "\n".join([
      f"# Sparse MNIST judge, k = {config.pixels} pixels", "",
      common.md_table(
          ["pixels", "arch", "steps", "batch", "test accuracy (random nonzero pixels)", "ECE",
           "images x masks", "train wall"],
          [[config.pixels, config.judge.arch, config.steps, config.batch_size,
            metrics_lib.fmt_pct(metrics["test_accuracy"], ci), f"{metrics['test_ece']:.3f}",
            f"{metrics['test_images']} x {config.eval.masks_per_image}",
            f"{train_seconds:.0f} s"]]),
      "Paper (Irving et al. 2018, 60k training images): 59.4% at k=6 (30k batches), "
      "48.2% at k=4 (50k batches).", "",
      f"Data: {'TFDS mnist' if config.data.source == 'tfds' else config.data.dir}; "
      f"mesh {common.mesh_lib.mesh_shape(rt.mesh)}; "
      f"resumed from step {result.resumed_from_step}.", "",
      "![training loss](train_loss.png)", ""]))
  logging.info("judge k=%d: test accuracy %.4f", config.pixels, metrics["test_accuracy"])
  return metrics


def trainer_metrics(workdir: str, name: str) -> list[dict]:
  from debate.train.writers import read_metrics
  return read_metrics(os.path.join(workdir, f"metrics_{name}.jsonl"))
