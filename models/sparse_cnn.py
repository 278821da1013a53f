"""The sparse MNIST judge's network (Irving, Christiano and Amodei 2018, section 3.1): two input
planes, a 0/1 mask of revealed pixels and the revealed pixel values (zeros elsewhere); it never
sees an unrevealed pixel (`judge_input` zeroes them). The judge built on it, its training and its
exact incremental form: `judges/mnist_judge.py`, `judges/incremental.py`."""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from models.errors import ConfigError

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


def flops_per_example(arch: JudgeArch) -> int:
  """Multiply-adds x 2 of one forward pass (conv padding SAME, 28x28 input)."""
  k2 = arch.kernel ** 2
  conv1 = 28 * 28 * k2 * 2 * arch.conv1
  conv2 = 14 * 14 * k2 * arch.conv1 * arch.conv2
  dense = 7 * 7 * arch.conv2 * arch.dense + arch.dense * NUM_CLASSES
  return 2 * (conv1 + conv2 + dense)
