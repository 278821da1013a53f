"""Judges trained on transcripts, and what a judge's verdicts are worth, for any game.

`views_of` replays played games and gives the judge's view after every move (and before the
first), each with the true claim: the judge learns to give a probability per claim on the
transcripts the current debaters produce, partial ones included (search and greedy debaters ask
it about partial transcripts). `train_judge` fits it on the project's one trainer (resuming,
sharded, warm-started from the previous judge when the debaters change). `verdict_metrics`:
accuracy with its 95% interval, calibration (ECE, Brier) and log score of the final verdicts.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from debate import metrics as metrics_lib
from debate import rollout
from debate.train import trainer
from debate.train.batches import BatchSource


@functools.partial(jax.jit, static_argnums=0)
def _views(game, examples, actions_BxT, moved_BxT):
  """Views [B, T + 1, ...] after 0..T moves (after the end: the final view)."""
  states = rollout.replay(game, examples, actions_BxT, moved_BxT)
  flat = lambda x: x.reshape(-1, *x.shape[2:])
  rep = jax.tree.map(lambda x: jnp.repeat(x, actions_BxT.shape[1] + 1, axis=0), examples)
  views = jax.vmap(game.judge_view)(rep, jax.tree.map(flat, states))
  return jax.tree.map(lambda v: v.reshape(actions_BxT.shape[0], -1, *v.shape[1:]), views)


def truth_in_seat0(transcript: dict) -> np.ndarray:
  """bool [B]: the honest seat is seat 0 (at the end of the game)."""
  return np.asarray(transcript["honest_wins_B"]) == np.asarray(transcript["seat0_wins_B"])


def true_claims(transcript: dict) -> np.ndarray:
  """The true claim of every game: the honest seat's claim at the end."""
  claims = np.asarray(transcript["claims_Bx2"])
  return np.where(truth_in_seat0(transcript), claims[:, 0], claims[:, 1]).astype(np.int32)


def views_of(game, examples, transcript: dict, every_move: bool = True) -> dict:
  """{"view": the judge's views (a tuple of arrays, leading dim rows), "target": the true
  claim}: after every move made and before the first (`every_move`), else the final view."""
  actions = np.asarray(transcript["actions_BxT"])
  moved = np.asarray(transcript["moved_BxT"], bool)
  B, T = actions.shape
  if T == 0:
    views = jax.vmap(game.judge_view)(jax.tree.map(jnp.asarray, examples),
                                      jax.vmap(game.init)(jax.tree.map(jnp.asarray, examples)))
    views = jax.tree.map(lambda v: np.asarray(v)[:, None], views)
  else:
    views = jax.device_get(_views(game, jax.tree.map(jnp.asarray, examples),
                                  jnp.asarray(actions), jnp.asarray(moved)))
  target = true_claims(transcript)
  if every_move:
    rows = np.concatenate([np.ones((B, 1), bool), moved], 1).reshape(-1)
    flat = lambda v: np.asarray(v).reshape(B * (T + 1), *np.shape(v)[2:])[rows]
    return {"view": tuple(flat(v) for v in views),
            "target": np.repeat(target, T + 1)[rows]}
  last = moved.sum(1)
  return {"view": tuple(np.asarray(v)[np.arange(B), last] for v in views), "target": target}


class GroupedBatches:
  """Batches that each come from one group (a protocol's views, all of one length), groups in
  turn: step s reads group s mod G, so no batch is padded to the longest group's views. Like
  `BatchSource`, addressed by step (exact resume)."""

  def __init__(self, groups: list[dict], global_batch: int, seed: int):
    groups = [g for g in groups if len(g["target"])]
    self._sources = [BatchSource(g, min(global_batch, len(g["target"])), seed + i)
                     for i, g in enumerate(groups)]
    self.global_batch = min(s.global_batch for s in self._sources)

  def batch(self, step: int):
    g = len(self._sources)
    return self._sources[step % g].batch(step // g)


def merge(datasets: list[dict]) -> dict:
  """Datasets of views of one length, as one."""
  return {"view": tuple(np.concatenate([d["view"][j] for d in datasets])
                        for j in range(len(datasets[0]["view"]))),
          "target": np.concatenate([d["target"] for d in datasets])}


def judge_loss(model, batch, rng, aux):
  """Cross-entropy of the judge's logits over claims against the true claim."""
  del rng, aux
  logits = model(*batch["view"])
  loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["target"]).mean()
  return loss, {"accuracy": (logits.argmax(-1) == batch["target"]).mean()}


def train_judge(init_model, data, *, runtime, steps: int, batch_size: int,
                learning_rate: float, seed: int, workdir: str, name: str, start_params=None,
                log_every: int = 50, checkpoint_every: int = 500) -> trainer.TrainResult:
  """Fits a judge (`init_model(rngs)`, called as `model(*view) -> logits`) to the true claims:
  `data` is one dataset, or a list of groups of views of one length each (`GroupedBatches`)."""
  schedule = optax.warmup_cosine_decay_schedule(0.0, learning_rate, max(steps // 20, 1), steps,
                                                learning_rate * 0.1)
  task = trainer.TrainTask(init_model=init_model, loss_fn=judge_loss,
                           optimizer=optax.chain(optax.clip_by_global_norm(1.0),
                                                 optax.adamw(schedule, weight_decay=0.01)),
                           data=GroupedBatches(data if isinstance(data, list) else [data],
                                               batch_size, seed),
                           name=name, start_params=start_params)
  return trainer.train(task, runtime=runtime, steps=steps,
                       seed=seed, workdir=workdir, log_every=log_every,
                       checkpoint_every=checkpoint_every)


def verdict_metrics(transcript: dict) -> dict:
  """Accuracy (the judge's final verdict picks the true claim; under precommit this is the
  honest side's win rate) with its Wilson 95% interval; and, from the judge's final
  probabilities over the two claims, the probability of the true one: its ECE, Brier score
  and mean log score."""
  correct = np.asarray(transcript["honest_wins_B"], bool)
  n = len(correct)
  logits = np.asarray(transcript["final_logits_BxC"], np.float64)
  out = {"accuracy": float(correct.mean()), "ci95": list(metrics_lib.wilson_ci(correct.sum(), n)),
         "games": int(n)}
  claims = np.asarray(transcript["claims_Bx2"])
  truth = true_claims(transcript)
  other = np.where(claims[:, 0] == truth, claims[:, 1], claims[:, 0])
  pair = np.stack([np.take_along_axis(logits, truth[:, None], 1)[:, 0],
                   np.take_along_axis(logits, np.maximum(other, 0)[:, None], 1)[:, 0]], 1)
  p_true = np.exp(pair[:, 0] - np.logaddexp(pair[:, 0], pair[:, 1]))
  out.update(ece=metrics_lib.expected_calibration_error(np.maximum(p_true, 1 - p_true),
                                                         p_true > 0.5),
             brier=metrics_lib.brier(p_true, np.ones(n)),
             log_score=float(np.mean(np.log(np.maximum(p_true, 1e-12)))))
  return out
