"""Fine-tuning a pretrained judge's top layers on transcripts (`judges.pretrained`): the bottom
layers ran once over every training prompt (`PretrainedJudge.features`), so a step costs only the
top blocks, forward and backward. Cross-entropy on the letter of the true option; AdamW with
warmup and cosine decay, gradients clipped; a held-out slice of the training transcripts picks the
step whose top is kept (its log loss), and a NaN loss stops training with the step named."""
from __future__ import annotations

import dataclasses
import logging
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax


@dataclasses.dataclass(frozen=True)
class Settings:
  steps: int = 400
  batch_size: int = 16
  learning_rate: float = 1e-4
  warmup: int = 40
  weight_decay: float = 0.0
  eval_every: int = 50
  seed: int = 0


def _by_length(feats, labels: np.ndarray, bucket: int) -> dict[int, tuple]:
  """Every prompt's tokens, hidden states and label, grouped by its own padded length."""
  groups: dict[int, list] = {}
  for idx, x, h, c in feats.batches:
    for j, i in enumerate(idx):
      n = int((x[j] != 0).sum())
      length = -(-n // bucket) * bucket
      groups.setdefault(length, []).append((x[j, :length], h[j, :length], c[j], labels[i]))
  return {k: tuple(np.stack(z) for z in zip(*v)) for k, v in sorted(groups.items())}


def _loss(apply, top, h, x, c, y):
  logits = apply(top, h, x, c)
  logp = jax.nn.log_softmax(logits, -1)
  nll = -jnp.take_along_axis(logp, y[:, None], 1)[:, 0]
  return nll.mean(), (logits.argmax(-1) == y).mean()


def finetune(judge, train_feats, train_labels: np.ndarray, val_feats, val_labels: np.ndarray,
             s: Settings, writer=None) -> tuple:
  """(the best top's parameters, history): `labels` are each prompt's letter of the true option
  (0: A). The judge's own top is left as it was."""
  groups = _by_length(train_feats, np.asarray(train_labels, np.int32), judge.bucket)
  sizes = np.array([len(g[3]) for g in groups.values()], np.float64)
  lengths = list(groups)
  sched = optax.warmup_cosine_decay_schedule(0.0, s.learning_rate, max(1, s.warmup),
                                             max(s.steps, s.warmup + 1))
  opt = optax.chain(optax.clip_by_global_norm(1.0),
                    optax.adamw(sched, weight_decay=s.weight_decay))
  grad = jax.value_and_grad(lambda t, h, x, c, y: _loss(judge.top_apply, t, h, x, c, y),
                            has_aux=True)

  @jax.jit
  def step(top, opt_state, h, x, c, y):
    (loss, acc), g = grad(top, h, x, c, y)
    updates, opt_state = opt.update(g, opt_state, top)
    return optax.apply_updates(top, updates), opt_state, loss, acc

  top = jax.tree.map(jnp.array, judge.zero_shot)  # a copy: the zero-shot top stays intact
  opt_state = opt.init(top)
  rng = np.random.default_rng(s.seed)
  best = (np.inf, 0, top)
  history, t0, losses = [], time.time(), []

  def validate(k):
    nonlocal best
    logits = judge.letter_logits(val_feats, top)
    logp = np.asarray(jax.nn.log_softmax(logits, -1))
    y = np.asarray(val_labels)
    val_loss = float(-logp[np.arange(len(y)), y].mean())
    row = {"step": k, "train_loss": float(np.mean(losses)) if losses else None,
           "val_loss": val_loss, "val_accuracy": float((logp.argmax(-1) == y).mean())}
    history.append(row)
    if writer is not None:
      writer.write(k, {f"pretrained_judge/{a}": b for a, b in row.items()
                       if a != "step" and b is not None})
    if val_loss < best[0]:
      best = (val_loss, k, jax.tree.map(jnp.array, top))
    rate = k / max(time.time() - t0, 1e-9)
    pace = f"{rate:.2f} steps/s, ETA {(s.steps - k) / rate:.0f} s" if k else "starting"
    logging.info("pretrained judge step %d/%d: train loss %s, held-out loss %.4f, accuracy %.1f%%"
                 " (%s)", k, s.steps, f"{row['train_loss']:.4f}" if losses else "-", val_loss,
                 100 * row["val_accuracy"], pace)
    losses.clear()

  validate(0)
  for k in range(1, s.steps + 1):
    g = rng.choice(len(lengths), p=sizes / sizes.sum())
    x_all, h_all, c_all, y_all = groups[lengths[g]]
    pick = rng.choice(len(y_all), s.batch_size, replace=len(y_all) < s.batch_size)
    top, opt_state, loss, _ = step(top, opt_state, jnp.asarray(h_all[pick]),
                                   jnp.asarray(x_all[pick]), jnp.asarray(c_all[pick]),
                                   jnp.asarray(y_all[pick]))
    loss = float(loss)
    if not np.isfinite(loss):
      raise FloatingPointError(f"pretrained judge fine-tuning: loss {loss} at step {k}; "
                               f"lower learning_rate={s.learning_rate}")
    losses.append(loss)
    if k % s.eval_every == 0 or k == s.steps:
      validate(k)
  return best[2], {"history": history, "best_step": best[1], "best_val_loss": best[0],
                   "seconds": time.time() - t0}
