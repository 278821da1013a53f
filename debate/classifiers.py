"""Supervised classifiers on a task's inputs: the untrusted models the runtime check reads."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from debate.train import trainer
from debate.train.batches import BatchSource


def train_classifier(config, workdir, runtime, inputs: dict, labels, make_model, *, steps: int,
                     name: str, lr: float = 1e-3, batch: int = 64):
  """A supervised classifier `make_model(rngs)` on (inputs, labels), on the one trainer."""
  def loss_fn(model, b, rng, aux):
    logits = model(**b["inputs"])
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, b["label"]).mean()
    return loss, {"accuracy": (logits.argmax(-1) == b["label"]).mean()}

  task = trainer.TrainTask(init_model=make_model, loss_fn=loss_fn, optimizer=optax.adam(lr),
                           data=BatchSource({"inputs": inputs, "label": labels},
                                            min(batch, len(labels)), config.seed),
                           name=name)
  return trainer.train(task, runtime=runtime, steps=steps,
                       seed=config.seed, workdir=workdir, log_every=max(steps // 5, 1),
                       checkpoint_every=max(steps, 1))


def predict(make_model, params, inputs: dict, batch: int = 500) -> np.ndarray:
  """Logits of a classifier (or reward model) over many examples."""
  functional = trainer.functionalize(make_model)
  f = jax.jit(lambda p, x: functional.module(p)(**x))
  n = len(jax.tree.leaves(inputs)[0])
  return np.concatenate([np.asarray(f(params, jax.tree.map(lambda v: jnp.asarray(v[i:i + batch]),
                                                           inputs)))
                         for i in range(0, n, batch)])
