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
