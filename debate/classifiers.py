"""Supervised MNIST classifiers: the untrusted models the runtime check reads."""
from __future__ import annotations

import jax
import numpy as np
import optax

from debate import rewards
from debate.data import mnist
from debate.train import trainer


def train_classifier(config, workdir, mesh, images_u8, labels, *, steps: int, name: str,
                     lr: float = 1e-3, batch: int = 64):
  """A supervised PolicyNet (used as an untrusted model to check at runtime)."""
  def loss_fn(model, b, rng, aux):
    logits = model(b["image"].astype(np.float32) / 255.0)
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, b["label"]).mean()
    return loss, {"accuracy": (logits.argmax(-1) == b["label"]).mean()}

  task = trainer.TrainTask(init_model=lambda r: rewards.PolicyNet(rngs=r), loss_fn=loss_fn,
                           optimizer=optax.adam(lr),
                           data=mnist.BatchSource({"image": images_u8, "label": labels},
                                                  min(batch, len(labels)), config.seed),
                           name=name)
  return trainer.train(task, mesh=mesh, rules=list(config.sharding.rules), steps=steps,
                       seed=config.seed, workdir=workdir, log_every=max(steps // 5, 1),
                       checkpoint_every=max(steps, 1))


def predict(module_cls, params, images_u8, batch: int = 500) -> np.ndarray:
  """Logits of a PolicyNet/RewardModel over many images."""
  functional = trainer.functionalize(lambda r: module_cls(rngs=r))
  f = jax.jit(lambda p, x: functional.module(p)(x.astype(np.float32) / 255.0))
  return np.concatenate([np.asarray(f(params, images_u8[i:i + batch]))
                         for i in range(0, len(images_u8), batch)])
