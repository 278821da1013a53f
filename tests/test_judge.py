"""The sparse judge sees only its mask; masks hold exactly k nonzero pixels; it learns MNIST."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from debate.data import mnist
from debate.train import mesh as mesh_lib
from debate.train import trainer
from judges import mnist_judge as judge_lib


def test_masks_hold_exactly_k_nonzero_pixels(mnist_dir):
  images = mnist.to_float(mnist.load_mnist("test", mnist_dir)["image"][:64])
  for k in (1, 4, 6):
    mask = np.asarray(judge_lib.sample_masks(jax.random.PRNGKey(k), jnp.asarray(images), k))
    assert (mask.sum((1, 2)) == k).all()
    assert (images[mask] > 0).all()  # Only nonzero pixels are ever chosen.


def test_judge_output_ignores_unrevealed_pixels():
  arch = judge_lib.get_arch("small")
  apply = judge_lib.make_apply(arch)
  params = trainer.init_params(lambda r: judge_lib.SparseJudge(arch, rngs=r), jax.random.PRNGKey(0))
  rng = np.random.default_rng(0)
  image = rng.random((4, 28, 28)).astype(np.float32)
  mask = np.zeros((4, 28, 28), bool)
  mask[:, 5, 7] = mask[:, 20, 11] = mask[:, 14, 14] = True
  other = image.copy()
  other[~mask] = rng.random((~mask).sum())  # Change every unrevealed pixel.
  a = apply(params, jnp.asarray(mask), jnp.asarray(image))
  b = apply(params, jnp.asarray(mask), jnp.asarray(other))
  np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  other[:, 5, 7] += 0.5  # A revealed pixel does change the output.
  c = apply(params, jnp.asarray(mask), jnp.asarray(other))
  assert np.abs(np.asarray(c) - np.asarray(a)).max() > 1e-6


def test_loss_falls_on_real_mnist(mnist_dir, tmp_path):
  from tests.conftest import train_small_judge
  train_small_judge(mnist_dir, str(tmp_path), k=6, steps=80)
  from debate.train.writers import read_metrics
  rows = read_metrics(str(tmp_path / "metrics_judge.jsonl"))
  assert rows[0]["loss"] > 2.1  # Chance is ln(10) = 2.30.
  assert rows[-1]["loss"] < rows[0]["loss"] - 0.25


@pytest.mark.parametrize("arch_name", ["tiny", "small", "paper"])
def test_incremental_judge_equals_full_network(arch_name):
  """Reveals added to a cached state give the network's logits: clustered reveals whose windows
  overlap, corners and edges, a non-empty starting state, several pixels at once or one at a
  time, and inactive (no-op) slots among them."""
  arch = judge_lib.get_arch(arch_name)
  params = trainer.init_params(lambda r: judge_lib.SparseJudge(arch, rngs=r), jax.random.PRNGKey(1))
  apply = judge_lib.make_apply(arch)
  inc = apply.incremental
  prepared = inc.prepare(params)
  rng = np.random.default_rng(0)
  image = rng.uniform(0.1, 1.0, (28, 28)).astype(np.float32)
  sets = [[0, 1, 29, 30], [27, 55, 783, 782, 754], [406, 407, 435, 378], [0, 783],
          rng.choice(784, 6, replace=False).tolist(), [13 * 28 + 13, 13 * 28 + 14]]
  extend = jax.jit(inc.extend)
  for start in (0, 1, 2):
    for pixels in sets:
      first = np.zeros(784, bool)
      first[pixels[:start]] = True
      root = inc.start(prepared, jnp.asarray(first.reshape(28, 28)), jnp.asarray(image))
      rest = pixels[start:]
      # All at once with an inactive slot between them, then one at a time.
      slots = np.array(rest[:1] + [400] + rest[1:], np.int32)
      active = np.arange(len(slots)) != min(1, len(rest))  # The 400 is inactive.
      caches = [extend(prepared, root, jnp.asarray(slots), jnp.asarray(active))]
      cache = root
      for q in rest:
        cache = extend(prepared, cache, jnp.asarray([q], jnp.int32), jnp.asarray([True]))
      caches.append(cache)
      mask = np.zeros(784, bool)
      mask[pixels] = True
      want = apply(params, jnp.asarray(mask.reshape(1, 28, 28)), jnp.asarray(image[None]))[0]
      for cache in caches:
        np.testing.assert_allclose(inc.logits(prepared, cache), want, rtol=1e-4, atol=1e-4)
      np.testing.assert_array_equal(caches[0].time_Y0xY0, caches[1].time_Y0xY0)
