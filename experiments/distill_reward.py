"""Distils the whole debate into R(image, label): one forward pass instead of a debate."""
from __future__ import annotations

import logging
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from debate import metrics as metrics_lib
from debate import rewards
from debate.config import check, check_int
from debate.data import mnist
from debate.games import mnist_pixels as g
from debate import rollout
from debate.debaters import make_debater
from debate.train import trainer
from experiments import common, debate_uses
from judges import mnist_judge as judge_lib


def validate(config) -> None:
  debate_uses.validate_debate_keys(config)
  check_int(config, "train_images", 1)
  check_int(config, "eval_images", 1)
  check_int(config, "batch_size", 1)
  check(isinstance(config.learning_rate, float) and config.learning_rate > 0, "learning_rate",
        config.learning_rate, "a positive float")


def reward_loss(model, batch, rng, aux):
  """Binary cross-entropy of every label's logit against its debate verdict."""
  del rng, aux
  logits = model(batch["image"].astype(jnp.float32) / 255.0)
  target = batch["table"].astype(jnp.float32)
  loss = optax.sigmoid_binary_cross_entropy(logits, target).mean()
  return loss, {"agreement": ((logits > 0) == batch["table"]).mean()}


def train_reward_model(config, workdir, mesh, images_u8, table):
  task = trainer.TrainTask(
      init_model=lambda r: rewards.RewardModel(config.width, config.dense, rngs=r),
      loss_fn=reward_loss, optimizer=optax.adam(config.learning_rate),
      data=mnist.BatchSource({"image": images_u8, "table": table}, config.batch_size,
                             config.seed), name="reward_model")
  return trainer.train(task, mesh=mesh, rules=list(config.sharding.rules),
                       batch_axes=tuple(config.sharding.batch_axes), steps=config.steps,
                       seed=config.seed, workdir=workdir, log_every=config.log_every,
                       checkpoint_every=config.checkpoint_every)


def evaluate(model: rewards.ScoredRewardModel, images_u8, labels, table) -> dict:
  probs = np.asarray(jax.nn.sigmoid(model.logits(images_u8)))
  pred = probs > 0.5
  truth = np.arange(10)[None, :] == np.asarray(labels)[:, None]
  majority = table.mean() >= 0.5
  tpr = pred[table].mean() if table.any() else float("nan")
  tnr = (~pred[~table]).mean() if (~table).any() else float("nan")
  return {
      "agreement": float((pred == table).mean()),
      "agreement_ci95": list(metrics_lib.wilson_ci((pred == table).sum(), table.size)),
      "majority_baseline_agreement": float((table == majority).mean()),
      "balanced_agreement": float((tpr + tnr) / 2),
      # Of R's accepted labels, the fraction that is true; and R's verdict vs the truth overall.
      "accuracy": float((pred == truth).mean()),
      "debate_accuracy": float((table == truth).mean()),
      "argmax_accuracy": float((probs.argmax(1) == np.asarray(labels)).mean()),
      "ece": metrics_lib.expected_calibration_error(probs, table),
      "brier": metrics_lib.brier(probs, table),
      "pairs": int(table.size),
  }


def time_costs(config, mesh, apply, params, model, images_u8, batch: int) -> dict:
  """Measured seconds for one batch: R forward vs full debates, same batch size."""
  images = mnist.to_float(images_u8[:batch])
  labels = np.arange(batch, dtype=np.int32) % 10
  other = (labels + 1) % 10
  slots = g.slots_for(images)
  games = g.make_games(images, labels, other, g.HONEST, slots)
  d = make_debater(config.debater, sims=config.sims)
  player = rollout.make_player(None, judge_apply=apply, honest=d, liar=d, k=config.pixels,
                               precommit=True, first=g.HONEST)
  jax.block_until_ready(player(jax.random.PRNGKey(0), params, games))
  t0 = time.perf_counter()
  jax.block_until_ready(player(jax.random.PRNGKey(1), params, games))
  debate_s = time.perf_counter() - t0
  x = jnp.asarray(images_u8[:batch])
  jax.block_until_ready(model.logits(x))
  reps, t0 = 0, time.perf_counter()
  while reps < 20 or time.perf_counter() - t0 < 1.0:
    jax.block_until_ready(model.logits(x))
    reps += 1
  r_s = (time.perf_counter() - t0) / reps
  return {"batch": batch, "debate_seconds": debate_s, "reward_model_seconds": r_s,
          "time_ratio": debate_s / r_s}


def distill(config, workdir, mesh):
  """Tables, reward model and its evaluation; shared with the RL experiment."""
  apply, params = debate_uses.judge(config, workdir, mesh)
  train_u8, train_labels, train_t = debate_uses.table_for(
      config, workdir, mesh, apply, params, "train", config.train_images, "train")
  eval_u8, eval_labels, eval_t = debate_uses.table_for(
      config, workdir, mesh, apply, params, "test", config.eval_images, "test")
  meta = {"width": config.width, "dense": config.dense, "pixels": config.pixels,
          "debater": config.debater, "sims": config.sims, "train_images": config.train_images,
          "steps": config.steps, "seed": config.seed, "learning_rate": config.learning_rate}
  source = config.get("tables_from")
  if source and os.path.exists(os.path.join(source, "reward_model", "reward_model.json")) and \
      rewards.load_reward_model(source).meta == meta:
    # The same reward model was already trained on the same tables: reuse it.
    model = rewards.load_reward_model(source)
    result = trainer.TrainResult(params=model.params, state=None, steps=config.steps,
                                 resumed_from_step=config.steps, wall_seconds=0.0,
                                 last_metrics={}, eval_history=[], mesh=mesh,
                                 steps_per_second=0.0)
  else:
    result = train_reward_model(config, workdir, mesh, train_u8, train_t["table_Nx10"])
    rewards.save_reward_model(workdir, result.params, meta)
    model = rewards.load_reward_model(workdir)
  return apply, params, model, result, (train_u8, train_labels, train_t), \
      (eval_u8, eval_labels, eval_t)


def train_and_evaluate(config, workdir: str) -> dict:
  validate(config)
  mesh = common.prepare_workdir(config, workdir)
  t0 = time.time()
  apply, params, model, result, train, held = distill(config, workdir, mesh)
  eval_u8, eval_labels, eval_t = held
  m = evaluate(model, eval_u8, eval_labels, eval_t["table_Nx10"])
  judge_arch = judge_lib.get_arch(mnist_judge_arch(config, workdir))
  calls = int(eval_t["judge_calls_per_game"])
  debate_flops = calls * judge_lib.flops_per_example(judge_arch)
  r_flops = rewards.reward_model_flops(config.width, config.dense)
  timing = time_costs(config, mesh, apply, params, model, eval_u8,
                      min(config.debate_batch_size, len(eval_labels)))
  m.update({"flops_debate": debate_flops, "flops_reward_model": r_flops,
            "flops_ratio": debate_flops / r_flops, "cost_ratio": timing["time_ratio"],
            "timing": timing, "judge_calls_per_debate": calls,
            "train_table_seconds": float(train[2]["seconds"]),
            "train_debates": int(train[2]["games"]),
            "train_table_debate_accuracy": float(
                (train[2]["table_Nx10"] == (np.arange(10)[None] == train[1][:, None])).mean())})
  wall = time.time() - t0
  common.write_results(workdir, config, metrics=m, mesh=mesh, steps=config.steps,
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
    return judge_lib.load_judge(config.judge_workdir.format(k=config.pixels))[0]
  return config.judge.arch
