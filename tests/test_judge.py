"""The sparse judge sees only its mask; masks hold exactly k nonzero pixels; it learns MNIST."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from debate.data import mnist
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


@pytest.mark.slow  # The debate smoke test trains a judge on the shipped MNIST in the default suite.
def test_loss_falls_on_real_mnist(mnist_dir, tmp_path):
  from tests.conftest import train_small_judge
  train_small_judge(mnist_dir, str(tmp_path), k=6, steps=80)
  from debate.train.writers import read_metrics
  rows = read_metrics(str(tmp_path / "metrics_judge.jsonl"))
  assert rows[0]["loss"] > 2.1  # Chance is ln(10) = 2.30.
  assert rows[-1]["loss"] < rows[0]["loss"] - 0.25


def _incremental_judge(arch_name):
  """(params, apply, its incremental form, prepared constants) of a judge at random init."""
  arch = judge_lib.get_arch(arch_name)
  params = trainer.init_params(lambda r: judge_lib.SparseJudge(arch, rngs=r), jax.random.PRNGKey(1))
  apply = judge_lib.make_apply(arch)
  return params, apply, apply.incremental, apply.incremental.prepare(params)


@pytest.mark.parametrize("arch_name", ["tiny", "small", "paper"])
def test_incremental_judge_equals_full_network(arch_name):
  """Reveals added to a cached state give the network's logits: clustered reveals whose windows
  overlap, corners and edges, a non-empty starting state, several pixels at once or one at a
  time, and inactive (no-op) slots among them."""
  params, apply, inc, prepared = _incremental_judge(arch_name)
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


@pytest.mark.slow  # (the incremental judge's own equality test stays in the default suite)
@pytest.mark.parametrize("arch_name", ["tiny", "paper"])
def test_leaves_from_pixel_deltas_equal_full_network(arch_name):
  """`leaf_z2` (each new pixel's precomputed change, plus recomputed cells that two new pixels
  share) gives the network's logits on leaves of three roots, clustered and spread, with
  inactive slots; shared cells computed in one pass or one at a time (cap 0). The
  clustered leaves do share cells: adding the pixels' changes alone is wrong there."""
  params, apply, inc, prepared = _incremental_judge(arch_name)
  rng = np.random.default_rng(0)
  n_games, n_leaves, n = 3, 12, 6
  images = rng.uniform(0.1, 1.0, (n_games, 28, 28)).astype(np.float32)
  roots = np.zeros((n_games, 784), bool)
  for i in range(n_games):
    roots[i, rng.choice(784, 2 * i, replace=False)] = True
  cache = jax.vmap(inc.start, in_axes=(None, 0, 0))(
      prepared, jnp.asarray(roots.reshape(-1, 28, 28)), jnp.asarray(images))
  cand = np.tile(np.arange(784, dtype=np.int32), (n_games, 1))  # Slot = pixel here.
  deltas = inc.deltas(prepared, cache, jnp.asarray(cand), jnp.asarray(~roots), per_pass=100)
  rows = rng.integers(0, n_games, n_leaves)
  slots = np.zeros((n_leaves, n), np.int32)
  for b in range(n_leaves):
    free = np.flatnonzero(~roots[rows[b]])
    if b % 2:  # Clustered: within 4 rows and columns of one pixel.
      at = rng.choice(free)
      free = free[(abs(free // 28 - at // 28) <= 4) & (abs(free % 28 - at % 28) <= 4)]
    slots[b] = rng.choice(free, n, replace=False)
  slots[0, :3] = [0, 1, 28]  # A corner.
  active = np.ones((n_leaves, n), bool)
  active[3, 4:] = active[4, 1:] = False  # Leaf 3 is clustered, leaf 4 has one pixel.
  mask = roots[rows].copy()
  for b in range(n_leaves):
    mask[b, slots[b][active[b]]] = True
  want = apply(params, jnp.asarray(mask.reshape(-1, 28, 28)), jnp.asarray(images[rows]))
  logits = jax.vmap(inc.logits_of_z2, in_axes=(None, 0))
  args = jnp.asarray(rows), jnp.asarray(slots), jnp.asarray(slots)
  for cap in (None, 0):
    z2 = jax.jit(lambda a: inc.leaf_z2(prepared, cache, deltas, *args, a, cap))(
        jnp.asarray(active))
    np.testing.assert_allclose(logits(prepared, z2), want, rtol=1e-4, atol=1e-4)
  # Each pixel's change alone, summed: wrong on the clustered leaves.
  root_z2 = cache.z2_CxCxC2[jnp.asarray(rows)]
  alone = root_z2 + sum(inc.leaf_z2(prepared, cache, deltas, args[0], args[1][:, i:i + 1],
                                    args[2][:, i:i + 1], jnp.asarray(active[:, i:i + 1])) - root_z2
                        for i in range(n))
  error = np.abs(np.asarray(logits(prepared, alone)) - np.asarray(want)).max(-1)
  assert (error[1::2] > 1e-3).all(), error
