"""MNIST images as pixel-debate games for self-play: sample (image, lie, first mover) games, and
rebuild a game's example from a small key (image index, claims, first, truth seat), so the replay
buffer stores keys rather than images."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from debate.games import mnist_pixels as g


class Key(NamedTuple):
  image_id: np.ndarray   # int32 [N]
  claims_2: np.ndarray   # int32 [N, 2]
  first: np.ndarray      # int32 [N]
  truth_seat: np.ndarray  # int32 [N]


class MnistTask:
  """All images of one split, with their candidate slots computed once (`slots` fixed)."""

  def __init__(self, images_f32: np.ndarray, labels: np.ndarray, k: int, slots: int | None = None):
    self.images, self.labels = np.asarray(images_f32, np.float32), np.asarray(labels, np.int32)
    self.slots = slots or g.slots_for(self.images)
    self.game = g.MnistPixels(k, self.slots)
    base = g.make_examples(self.images, self.labels, np.zeros_like(self.labels), 0, self.slots)
    self._cand, self._num, self._slot_of = base.cand_P, base.num_cand, base.slot_of_pixel

  def __len__(self) -> int:
    return len(self.labels)

  def sample_keys(self, rng: np.random.Generator, n: int, precommit: bool, first: int) -> Key:
    """n games on random images, with a uniformly random lie in a random seat (precommit), or
    the truth in seat 0 against no claim (the open protocol reads seat 0's claim)."""
    ids = rng.integers(0, len(self), n).astype(np.int32)
    truth = self.labels[ids]
    lie = (truth + rng.integers(1, 10, n)) % 10 if precommit else np.full(n, g.NO_CLAIM)
    seat = (rng.integers(0, 2, n) if precommit else np.zeros(n)).astype(np.int32)
    claims = np.where(seat[:, None] == 0, np.stack([truth, lie], 1), np.stack([lie, truth], 1))
    return Key(ids, claims.astype(np.int32), np.full(n, first, np.int32), seat)

  def examples(self, key: Key) -> g.Example:
    ids = np.asarray(key.image_id)
    return g.Example(image_HxW=self.images[ids], label=self.labels[ids], cand_P=self._cand[ids],
                     num_cand=self._num[ids], slot_of_pixel=self._slot_of[ids],
                     claims_2=np.asarray(key.claims_2, np.int32),
                     truth_seat=np.asarray(key.truth_seat, np.int32),
                     first=np.asarray(key.first, np.int32))
