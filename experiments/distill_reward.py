"""Distils the whole debate into R(image, label): one forward pass instead of a debate."""
from __future__ import annotations

import logging
import time

import jax
import jax.numpy as jnp
import numpy as np

from debate import metrics as metrics_lib
from debate import rewards
from debate.data import mnist
from debate import distill as distill_lib
from debate import runs as common
from debate.tasks import base as task_base
from experiments.common import mnist_uses as uses
from debate.tasks.mnist import MnistTask
from judges import mnist_judge as judge_lib
from models.mnist_cnn import RewardModel


def validate(config) -> None:
  uses.validate_debate_keys(config)
  distill_lib.validate_keys(config)


def time_costs(config, rt, apply, params, model, images_u8, batch: int) -> dict:
  """Measured seconds for one batch: R forward vs full debates, same batch size."""
  images = mnist.to_float(images_u8[:batch])
  labels = np.arange(batch, dtype=np.int32) % 10
  other = (labels + 1) % 10
  task = MnistTask(images, labels, config.pixels)
  examples = task.examples(task_base.keys(np.arange(batch), labels, other, 0))
  player, _ = rewards.debate_player(task.game, apply, uses.settings(config))
  jax.block_until_ready(player(jax.random.PRNGKey(0), params, (None, None), examples))
  t0 = time.perf_counter()
  jax.block_until_ready(player(jax.random.PRNGKey(1), params, (None, None), examples))
  debate_s = time.perf_counter() - t0
  x = {"image": jnp.asarray(images_u8[:batch])}
  jax.block_until_ready(model.logits(x))
  reps, t0 = 0, time.perf_counter()
  while reps < 20 or time.perf_counter() - t0 < 1.0:
    jax.block_until_ready(model.logits(x))
    reps += 1
  r_s = (time.perf_counter() - t0) / reps
  return {"batch": batch, "debate_seconds": debate_s, "reward_model_seconds": r_s,
          "time_ratio": debate_s / r_s}


def train_and_evaluate(config, workdir: str) -> dict:
  validate(config)
  rt = common.prepare_workdir(config, workdir, mnist.check_config)
  t0 = time.time()
  apply, params, model, result, train, held = uses.distill(config, workdir, rt)
  _, eval_u8, eval_labels, eval_t = held
  m = distill_lib.evaluate(model, {"image": eval_u8}, eval_labels, eval_t["table_NxC"])
  judge_arch = judge_lib.get_arch(mnist_judge_arch(config, workdir))
  calls = int(eval_t["judge_calls_per_game"])
  debate_flops = calls * judge_lib.flops_per_example(judge_arch)
  r_flops = RewardModel.flops(config.width, config.dense)
  timing = time_costs(config, rt, apply, params, model, eval_u8,
                      min(config.debate_batch_size, len(eval_labels)))
  m.update({"flops_debate": debate_flops, "flops_reward_model": r_flops,
            "flops_ratio": debate_flops / r_flops, "cost_ratio": timing["time_ratio"],
            "timing": timing, "judge_calls_per_debate": calls,
            "train_table_seconds": float(train[3]["seconds"]),
            "train_debates": int(train[3]["games"]),
            "train_table_debate_accuracy": float(
                (train[3]["table_NxC"] == (np.arange(10)[None] == train[2][:, None])).mean())})
  wall = time.time() - t0
  common.write_results(workdir, config, metrics=m, runtime=rt, steps=config.steps,
                       resumed_from_step=result.resumed_from_step, wall_seconds=wall)
  rows = [["agreement with debate verdict", metrics_lib.fmt_pct(m["agreement"],
                                                               m["agreement_ci95"])],
          ["majority-class baseline agreement", metrics_lib.fmt_pct(m["majority_baseline_agreement"])],
          ["balanced agreement (mean of TPR, TNR)", metrics_lib.fmt_pct(m["balanced_agreement"])],
          ["R verdict accuracy vs truth", metrics_lib.fmt_pct(m["accuracy"])],
          ["debate verdict accuracy vs truth", metrics_lib.fmt_pct(m["debate_accuracy"])],
          ["argmax_a R(image, a) accuracy", metrics_lib.fmt_pct(m["argmax_accuracy"])],
          ["ECE / Brier", f"{m['ece']:.3f} / {m['brier']:.3f}"],
          ["FLOPs: debate / R", f"{debate_flops:.3g} / {r_flops:.3g} = {m['flops_ratio']:.0f}x"],
          [f"time at batch {timing['batch']}: debate / R",
           f"{timing['debate_seconds']:.2f} s / {1e3 * timing['reward_model_seconds']:.2f} ms = "
           f"{m['cost_ratio']:.0f}x"]]
  common.write_report(workdir, "\n".join([
      "# Debate distilled into a one-pass reward model", "",
      f"Debates: k={config.pixels}, {config.debater} debaters with {config.sims} simulations, "
      f"precommit, each wrong label against the truth (9 games per image). Trained on "
      f"{config.train_images} train-split images ({10 * config.train_images} (image, label) "
      f"pairs), evaluated on {config.eval_images} held-out test-split images.", "",
      common.md_table(["metric", "value"], rows)]))
  logging.info("distilled reward model: agreement %.4f, cost ratio %.0f", m["agreement"],
               m["cost_ratio"])
  return m


def mnist_judge_arch(config, workdir) -> str:
  if config.judge_workdir:
    return judge_lib.MnistJudge.load(config.judge_workdir.format(k=config.pixels)).arch_name
  return config.judge.arch
