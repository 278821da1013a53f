"""Distilling debate into a reward model: train R(image) on verdict tables, evaluate it."""
from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np
import optax

from debate import metrics as metrics_lib
from debate import rewards, verdicts
from debate.config import check, check_int
from debate.data import mnist
from debate.train import trainer


def validate_keys(config) -> None:
  verdicts.validate_debate_keys(config)
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


def distill(config, workdir, mesh):
  """Tables, reward model and its evaluation; shared with the RL experiment."""
  apply, params = verdicts.judge(config, workdir, mesh)
  train_u8, train_labels, train_t = verdicts.table_for(
      config, workdir, mesh, apply, params, "train", config.train_images, "train")
  eval_u8, eval_labels, eval_t = verdicts.table_for(
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
