"""MNIST images as pixel-debate games (`debate.tasks.base.Task`): ten claims per image (the
digits), games rebuilt from small keys (image index, claims, first mover, truth seat), the
judge's belief without debate from random k-pixel masks, and the image as what a policy or
reward model reads."""
from __future__ import annotations

import jax
import numpy as np

from debate.games import mnist_pixels as g
from debate.tasks import base
from debate.tasks.base import GameKey



class MnistTask(base.TaskDefaults):
  """All images of one split, with their candidate slots computed once (`slots` fixed)."""
  name = "mnist"
  num_claims = g.NUM_LABELS

  def __init__(self, images_f32: np.ndarray, labels: np.ndarray, k: int, slots: int | None = None):
    self.images, self.labels = np.asarray(images_f32, np.float32), np.asarray(labels, np.int32)
    self.k = k
    self.slots = slots or g.slots_for(self.images)
    self.game = g.MnistPixels(k, self.slots)
    base_ex = g.make_examples(self.images, self.labels, np.zeros_like(self.labels), 0,
                              self.slots)
    self._cand, self._num, self._slot_of = base_ex.cand_P, base_ex.num_cand, base_ex.slot_of_pixel

  def __len__(self) -> int:
    return len(self.labels)

  def truth(self, ids) -> np.ndarray:
    return self.labels[np.asarray(ids)]

  def examples(self, key: GameKey) -> g.Example:
    ids = np.asarray(key.example_id)
    return g.Example(image_HxW=self.images[ids], label=self.labels[ids], cand_P=self._cand[ids],
                     num_cand=self._num[ids], slot_of_pixel=self._slot_of[ids],
                     claims_2=np.asarray(key.claims_2, np.int32),
                     truth_seat=np.asarray(key.truth_seat, np.int32),
                     first=np.asarray(key.first, np.int32))

  def judge_probs(self, judge_apply, judge_params, ids, rng, masks: int = 16) -> np.ndarray:
    """The judge's mean probability of each digit over `masks` random k-pixel masks (nonzero
    pixels)."""
    return mask_probs(judge_apply, judge_params, self.images[np.asarray(ids)], self.k, rng,
                      masks)

  def inputs(self, ids) -> dict[str, np.ndarray]:
    """The image as uint8 (what the policy, the reward model and the classifiers read)."""
    return {"image": np.round(self.images[np.asarray(ids)] * 255.0).astype(np.uint8)}


def mask_probs(judge_apply, judge_params, images_f32, k: int, rng, masks: int = 16,
               batch: int = 500) -> np.ndarray:
  """[N, 10]: the judge's mean probability of each digit over random k-pixel masks."""
  @jax.jit
  def mean_probs(params, rng, image_BxHxW):
    def one(r):
      mask = g.sample_masks(r, image_BxHxW, k)
      return jax.nn.softmax(judge_apply(params, mask, image_BxHxW))
    return jax.lax.map(one, jax.random.split(rng, masks)).mean(0)

  return np.concatenate([np.asarray(mean_probs(judge_params, jax.random.fold_in(rng, start),
                                               images_f32[start:start + batch]))
                         for start in range(0, len(images_f32), batch)])


def best_lies(judge_apply, judge_params, images_f32, labels, k: int, rng) -> np.ndarray:
  """For each image, the wrong digit with the highest mean judge probability over random masks."""
  return base.best_wrong(mask_probs(judge_apply, judge_params, images_f32, k, rng), labels)
