"""Small CNNs on the whole MNIST image (what the MNIST task's `inputs` holds): the RL policy, the
untrusted classifiers of the runtime check, and the distilled reward model. Each reads
`image` (uint8, scaled here, or float in [0, 1]) and gives one logit per digit."""
from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx


def _float_image(image_BxHxW: jax.Array) -> jax.Array:
  if image_BxHxW.dtype == jnp.uint8:
    return image_BxHxW.astype(jnp.float32) / 255.0
  return image_BxHxW.astype(jnp.float32)


class SmallCNN(nnx.Module):
  """conv-relu-pool x2, dense-relu, 10 logits, on the full 28x28 image."""

  def __init__(self, width: int, dense: int, kernel: int, *, rngs: nnx.Rngs):
    k = (kernel, kernel)
    self.conv1 = nnx.Conv(1, width, k, padding="SAME", rngs=rngs)
    self.conv2 = nnx.Conv(width, 2 * width, k, padding="SAME", rngs=rngs)
    self.dense = nnx.Linear(7 * 7 * 2 * width, dense, rngs=rngs)
    self.out = nnx.Linear(dense, 10, rngs=rngs)

  def __call__(self, image: jax.Array) -> jax.Array:
    h = _float_image(image)[..., None]
    h = nnx.max_pool(nnx.relu(self.conv1(h)), (2, 2), (2, 2))
    h = nnx.max_pool(nnx.relu(self.conv2(h)), (2, 2), (2, 2))
    return self.out(nnx.relu(self.dense(h.reshape(h.shape[0], -1))))


class RewardModel(SmallCNN):
  """R(image): 10 logits, one per claimed digit, of P(that claim wins the debate)."""

  def __init__(self, width: int = 32, dense: int = 256, *, rngs: nnx.Rngs):
    super().__init__(width, dense, 3, rngs=rngs)

  @staticmethod
  def flops(width: int = 32, dense: int = 256) -> int:
    conv1 = 28 * 28 * 9 * width
    conv2 = 14 * 14 * 9 * width * 2 * width
    fc = 7 * 7 * 2 * width * dense + dense * 10
    return 2 * (conv1 + conv2 + fc)


class PolicyNet(SmallCNN):
  """The RL policy (and the untrusted classifiers): full image to 10 digit logits."""

  def __init__(self, width: int = 16, dense: int = 128, *, rngs: nnx.Rngs):
    super().__init__(width, dense, 5, rngs=rngs)
