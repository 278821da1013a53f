"""The sparse MNIST judge of Irving, Christiano and Amodei (2018), section 3.1.

The judge sees two planes: a 0/1 mask of revealed pixels and the revealed pixel values (zeros
elsewhere). It never sees an unrevealed pixel: `judge_input` zeroes them before the network.
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from debate.config import ConfigError

H = W = 28
NUM_CLASSES = 10


@dataclasses.dataclass(frozen=True)
class JudgeArch:
  conv1: int
  conv2: int
  dense: int
  dropout: float
  kernel: int = 5


ARCHS = {
    # The paper's network (the TensorFlow MNIST tutorial CNN on two input planes).
    "paper": JudgeArch(conv1=32, conv2=64, dense=1024, dropout=0.4),
    # A cheaper judge for quick experiments and tests.
    "small": JudgeArch(conv1=16, conv2=32, dense=128, dropout=0.4),
    "tiny": JudgeArch(conv1=4, conv2=8, dense=32, dropout=0.0, kernel=3),
}


def get_arch(name: str) -> JudgeArch:
  if name not in ARCHS:
    raise ConfigError(f"judge.arch={name!r}; allowed: {sorted(ARCHS)}")
  return ARCHS[name]


class SparseJudge(nnx.Module):
  """conv-relu-pool, conv-relu-pool, dense-relu, dropout, 10 logits."""

  def __init__(self, arch: JudgeArch, *, rngs: nnx.Rngs):
    k = (arch.kernel, arch.kernel)
    self.arch = arch
    self.conv1 = nnx.Conv(2, arch.conv1, k, padding="SAME", rngs=rngs)
    self.conv2 = nnx.Conv(arch.conv1, arch.conv2, k, padding="SAME", rngs=rngs)
    self.dense = nnx.Linear(7 * 7 * arch.conv2, arch.dense, rngs=rngs)
    self.drop = nnx.Dropout(arch.dropout)
    self.out = nnx.Linear(arch.dense, NUM_CLASSES, rngs=rngs)

  def features(self, x_BxHxWx2: jax.Array) -> jax.Array:
    h = nnx.relu(self.conv1(x_BxHxWx2))
    h = nnx.max_pool(h, (2, 2), (2, 2))
    h = nnx.relu(self.conv2(h))
    h = nnx.max_pool(h, (2, 2), (2, 2))
    return h.reshape(h.shape[0], -1)

  def __call__(self, x_BxHxWx2: jax.Array, *, train: bool = False,
               rngs: nnx.Rngs | None = None) -> jax.Array:
    h = nnx.relu(self.dense(self.features(x_BxHxWx2)))
    h = self.drop(h, deterministic=not train, rngs=rngs)
    return self.out(h)


def judge_input(mask_BxHxW: jax.Array, image_BxHxW: jax.Array) -> jax.Array:
  """The judge's view: the mask plane and the image restricted to the mask."""
  mask = mask_BxHxW.astype(jnp.float32)
  return jnp.stack([mask, mask * image_BxHxW.astype(jnp.float32)], axis=-1)


def sample_nonzero_mask(rng: jax.Array, image_HxW: jax.Array, k: int) -> jax.Array:
  """A mask of exactly k distinct nonzero pixels, uniformly at random (Gumbel top-k)."""
  flat = image_HxW.reshape(-1)
  scores = jax.random.gumbel(rng, flat.shape)
  scores = jnp.where(flat > 0, scores, -jnp.inf)
  _, idx = jax.lax.top_k(scores, k)
  return jnp.zeros(flat.shape, jnp.bool_).at[idx].set(True).reshape(image_HxW.shape)


def sample_masks(rng: jax.Array, image_BxHxW: jax.Array, k: int) -> jax.Array:
  return jax.vmap(sample_nonzero_mask, in_axes=(0, 0, None))(
      jax.random.split(rng, image_BxHxW.shape[0]), image_BxHxW, k)


def flops_per_example(arch: JudgeArch) -> int:
  """Multiply-adds x 2 of one forward pass (conv padding SAME, 28x28 input)."""
  k2 = arch.kernel ** 2
  conv1 = 28 * 28 * k2 * 2 * arch.conv1
  conv2 = 14 * 14 * k2 * arch.conv1 * arch.conv2
  dense = 7 * 7 * arch.conv2 * arch.dense + arch.dense * NUM_CLASSES
  return 2 * (conv1 + conv2 + dense)


# Training, evaluation, save and load ------------------------------------------------------------

def make_loss(k: int):
  """Cross-entropy on masks of k random nonzero pixels, drawn fresh every step."""
  import optax

  def loss_fn(model: SparseJudge, batch, rng, aux):
    del aux
    mask_rng, drop_rng = jax.random.split(rng)
    image = batch["image"].astype(jnp.float32) / 255.0
    mask = sample_masks(mask_rng, image, k)
    logits = model(judge_input(mask, image), train=True, rngs=nnx.Rngs(dropout=drop_rng))
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"]).mean()
    acc = (logits.argmax(-1) == batch["label"]).mean()
    return loss, {"accuracy": acc}
  return loss_fn


def make_apply(arch: JudgeArch):
  """A pure function (params, mask_BxHxW, image_BxHxW) -> logits_Bx10, deterministic."""
  from debate.train.trainer import functionalize
  functional = functionalize(lambda rngs: SparseJudge(arch, rngs=rngs))

  def apply(params, mask_BxHxW, image_BxHxW):
    return functional.module(params)(judge_input(mask_BxHxW, image_BxHxW))
  from judges.incremental import Incremental
  apply.incremental = Incremental(arch)  # Tree search evaluates leaves with it (exactly).
  return apply


def random_mask_accuracy(apply, params, images_f32, labels, k: int, seed: int,
                         masks_per_image: int = 1, batch: int = 1000):
  """Judge accuracy on random k-nonzero-pixel masks; returns (correct_NxM bool, probs_NxMx10)."""
  import numpy as np

  @jax.jit
  def run(params, rng, image_BxHxW):
    mask = sample_masks(rng, image_BxHxW, k)
    return jax.nn.softmax(apply(params, mask, image_BxHxW))

  probs = []
  n = len(images_f32)
  for m in range(masks_per_image):
    rows = []
    for start in range(0, n, batch):
      rng = jax.random.fold_in(jax.random.fold_in(jax.random.PRNGKey(seed), m), start)
      rows.append(np.asarray(run(params, rng, images_f32[start:start + batch])))
    probs.append(np.concatenate(rows))
  probs = np.stack(probs, axis=1)
  return probs.argmax(-1) == np.asarray(labels)[:, None], probs


def save_judge(directory: str, params, arch_name: str, pixels: int, extra: dict | None = None):
  from debate import io
  import os
  path = os.path.abspath(os.path.join(directory, "judge"))
  from debate.train.checkpoint import save_params
  save_params(os.path.join(path, "params"), params)
  io.atomic_write_json(os.path.join(path, "judge.json"),
                       {"arch": arch_name, "pixels": pixels, **(extra or {})})


def load_judge(workdir: str):
  """Loads a judge saved by `configs/mnist_judge.py`: returns (arch_name, pixels, params, meta)."""
  import os
  import orbax.checkpoint as ocp
  path = os.path.abspath(os.path.join(workdir, "judge"))
  meta_path = os.path.join(path, "judge.json")
  if not os.path.exists(meta_path):
    raise ConfigError(f"judge_workdir={workdir!r} holds no trained judge ({meta_path} is missing); "
                      "allowed: a workdir of a finished configs/mnist_judge.py run")
  from judges.training import _read_meta
  meta = _read_meta(meta_path)
  try:
    params = ocp.StandardCheckpointer().restore(os.path.join(path, "params"))
  except (ValueError, OSError, KeyError, TypeError) as e:
    raise ConfigError(f"judge_workdir={workdir!r}: its parameters cannot be read "
                      f"({type(e).__name__}: {str(e).splitlines()[0][:100] if str(e) else ''}); "
                      "allowed: a finished configs/mnist_judge.py run (rerun it to rewrite them)")
  params = jax.tree.map(jnp.asarray, params)
  return meta["arch"], int(meta["pixels"]), params, meta
