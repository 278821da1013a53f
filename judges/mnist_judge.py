"""The sparse MNIST judge of Irving, Christiano and Amodei (2018), section 3.1, as a
`judges.base.ArrayJudge`: the network (`models.sparse_cnn`) over the pixel game's view (the mask
and the image; it never sees an unrevealed pixel), its loss on random k-pixel masks, evaluation,
save and load, and its exact incremental form for search leaves (`judges.incremental`,
`judges.mnist_leaves`). Training from a config: `judges.mnist_training`.
"""
from __future__ import annotations

import dataclasses
import os

import jax
import jax.numpy as jnp
from flax import nnx

from debate.config import ConfigError
from debate.games.mnist_pixels import sample_masks  # noqa: F401 (re-exported)
from judges.base import ArrayJudge
from judges.incremental import Incremental
from judges.mnist_leaves import MnistLeafJudge
from models.sparse_cnn import (ARCHS, NUM_CLASSES, H, JudgeArch, SparseJudge,  # noqa: F401
                               W, flops_per_example, get_arch, judge_input)


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
  apply.incremental = Incremental(arch)  # Tree search evaluates leaves with it (exactly).
  # The pixel game asks the judge for its leaf judge (`Game.leaf_judge`).
  apply.leaf_judge = lambda game: MnistLeafJudge(apply.incremental, game.k)
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
  path = os.path.abspath(os.path.join(directory, "judge"))
  from debate.train.checkpoint import save_params
  save_params(os.path.join(path, "params"), params)
  io.atomic_write_json(os.path.join(path, "judge.json"),
                       {"arch": arch_name, "pixels": pixels, **(extra or {})})


def read_meta(meta_path: str) -> dict:
  """A judge.json, or one line saying it is damaged."""
  from debate import io
  try:
    meta = io.read_json(meta_path)
    if not isinstance(meta, dict) or not isinstance(meta.get("arch"), str):
      raise ValueError(f"no 'arch' in {str(meta)[:60]!r}")
    meta["pixels"] = int(meta["pixels"])
  except (ValueError, KeyError, TypeError, OSError) as e:
    raise ConfigError(f"{meta_path} is damaged ({type(e).__name__}: {str(e)[:80]}); allowed: "
                      "the judge.json a finished configs/mnist_judge.py run writes (rerun it)")
  get_arch(meta["arch"])
  return meta


def load_judge(workdir: str):
  """Loads a judge saved by `configs/mnist_judge.py`: returns (arch_name, pixels, params, meta)."""
  import orbax.checkpoint as ocp
  path = os.path.abspath(os.path.join(workdir, "judge"))
  meta_path = os.path.join(path, "judge.json")
  if not os.path.exists(meta_path):
    raise ConfigError(f"judge_workdir={workdir!r} holds no trained judge ({meta_path} is missing); "
                      "allowed: a workdir of a finished configs/mnist_judge.py run")
  meta = read_meta(meta_path)
  try:
    params = ocp.StandardCheckpointer().restore(os.path.join(path, "params"))
  except (ValueError, OSError, KeyError, TypeError) as e:
    raise ConfigError(f"judge_workdir={workdir!r}: its parameters cannot be read "
                      f"({type(e).__name__}: {str(e).splitlines()[0][:100] if str(e) else ''}); "
                      "allowed: a finished configs/mnist_judge.py run (rerun it to rewrite them)")
  params = jax.tree.map(jnp.asarray, params)
  return meta["arch"], int(meta["pixels"]), params, meta


@dataclasses.dataclass
class MnistJudge(ArrayJudge):
  """The sparse judge as the engine plays it: `apply(params, mask_BxHxW, image_BxHxW)`, its
  parameters, its architecture and k, and where it came from (a workdir, or '' when fresh)."""
  arch_name: str = "small"
  pixels: int = 6
  source: str = ""

  @classmethod
  def create(cls, arch_name: str, params, pixels: int, source: str = "") -> "MnistJudge":
    return cls(name=f"mnist_{arch_name}_k{pixels}", apply=make_apply(get_arch(arch_name)),
               params=params, arch_name=arch_name, pixels=pixels, source=source)

  @classmethod
  def load(cls, workdir: str) -> "MnistJudge":
    """The judge a finished `configs/mnist_judge.py` run saved (one line when it cannot)."""
    arch_name, pixels, params, _ = load_judge(workdir)
    return cls.create(arch_name, params, pixels, workdir)

  def save(self, directory: str, extra: dict | None = None) -> None:
    save_judge(directory, self.params, self.arch_name, self.pixels, extra)

  def mask_probs(self, images_f32, rng, masks: int = 16):
    """[N, 10]: its mean probability of each digit over random k-pixel masks (no debate)."""
    from debate.tasks.mnist import mask_probs
    return mask_probs(self.apply, self.params, images_f32, self.pixels, rng, masks)
