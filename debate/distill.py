"""Distilling debate into a reward model R(input) for any task: train it on verdict tables
(binary cross-entropy of every claim's logit against its verdict), evaluate it against the
table and the truth."""
from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np
import optax

from debate import metrics as metrics_lib
from debate import rewards
from debate.config import check_float, check_int
from debate.train import trainer
from debate.train.batches import BatchSource


def validate_keys(config) -> None:
  check_int(config, "train_images", 1)
  check_int(config, "eval_images", 1)
  check_int(config, "batch_size", 1)
  check_float(config, "learning_rate")
  check_int(config, "steps", 1)  # The reward model's training steps.


def reward_loss(model, batch, rng, aux):
  """Binary cross-entropy of every claim's logit against its debate verdict."""
  del rng, aux
  logits = model(**batch["inputs"])
  target = batch["table"].astype(jnp.float32)
  loss = optax.sigmoid_binary_cross_entropy(logits, target).mean()
  return loss, {"agreement": ((logits > 0) == batch["table"]).mean()}


def train_reward_model(config, workdir, runtime, inputs: dict, table, meta: dict):
  """Trains the reward model that `meta` names (`module`, `kwargs`) on (inputs, table)."""
  cls, kwargs = rewards._module_class(meta), dict(meta.get("kwargs", {}))
  task = trainer.TrainTask(
      init_model=lambda r: cls(**kwargs, rngs=r), loss_fn=reward_loss,
      optimizer=optax.adam(config.learning_rate),
      data=BatchSource({"inputs": inputs, "table": table}, config.batch_size, config.seed),
      name="reward_model")
  return trainer.train(task, runtime=runtime, steps=config.steps,
                       seed=config.seed, workdir=workdir, log_every=config.log_every,
                       checkpoint_every=config.checkpoint_every)


def evaluate(model: rewards.ScoredRewardModel, inputs: dict, truth, table) -> dict:
  probs = np.asarray(jax.nn.sigmoid(model.logits(inputs)))
  pred = probs > 0.5
  truth_table = np.arange(table.shape[1])[None, :] == np.asarray(truth)[:, None]
  majority = table.mean() >= 0.5
  tpr = pred[table].mean() if table.any() else float("nan")
  tnr = (~pred[~table]).mean() if (~table).any() else float("nan")
  return {
      "agreement": float((pred == table).mean()),
      "agreement_ci95": list(metrics_lib.wilson_ci((pred == table).sum(), table.size)),
      "majority_baseline_agreement": float((table == majority).mean()),
      "balanced_agreement": float((tpr + tnr) / 2),
      # Of R's accepted claims, the fraction that is true; and R's verdict vs the truth overall.
      "accuracy": float((pred == truth_table).mean()),
      "debate_accuracy": float((table == truth_table).mean()),
      "argmax_accuracy": float((probs.argmax(1) == np.asarray(truth)).mean()),
      "ece": metrics_lib.expected_calibration_error(probs, table),
      "brier": metrics_lib.brier(probs, table),
      "pairs": int(table.size),
  }


def distill(config, workdir, runtime, train_inputs: dict, train_table, meta: dict):
  """(reward model, train result): trained on the tables here, or reused from `tables_from`
  when that run trained the same model (same `meta`) on the same tables."""
  source = config.get("tables_from")
  if source and os.path.exists(os.path.join(source, "reward_model", "reward_model.json")) and \
      rewards.load_reward_model(source).meta == meta:
    model = rewards.load_reward_model(source)
    result = trainer.TrainResult(params=model.params, state=None, steps=config.steps,
                                 resumed_from_step=config.steps, wall_seconds=0.0,
                                 last_metrics={}, eval_history=[], mesh=runtime.mesh,
                                 steps_per_second=0.0)
    return model, result
  result = train_reward_model(config, workdir, runtime, train_inputs, train_table, meta)
  rewards.save_reward_model(workdir, result.params, meta)
  return rewards.load_reward_model(workdir), result
