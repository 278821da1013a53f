"""The MNIST pixel-reveal debate game of Irving, Christiano and Amodei (2018), section 3.1.

Pure JAX over fixed shapes. Moves index a per-image list of candidate pixels: the image's nonzero
pixels, padded to a static length P (`slots`). The module functions work on one game; `MnistPixels`
is the `debate.games.base.Game` the engine plays, with `k` reveals in all.
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from debate.games.base import Observation  # noqa: F401 (what `observe` returns)
from debate.tasks.base import NO_CLAIM  # noqa: F401 (the open protocol's claim, re-exported)

NUM_PIXELS = 28 * 28
NUM_LABELS = 10


class Example(NamedTuple):
  """What is fixed for one debate: the image, its candidate pixels, the claims, the first mover."""
  image_HxW: jax.Array   # float32 in [0, 1]; the judge only ever sees the revealed pixels
  label: jax.Array       # int32 true label (debaters know it; the judge does not)
  cand_P: jax.Array      # int32 flat pixel index of candidate slot p (nonzero pixels first)
  num_cand: jax.Array    # int32 number of real candidates (slots >= num_cand are padding)
  slot_of_pixel: jax.Array  # int32 [H*W]: the slot of each pixel, or P for non-candidates
  claims_2: jax.Array    # int32 [2]: each seat's claim (seat 1: NO_CLAIM without precommit)
  truth_seat: jax.Array  # int32, the seat that claims the truth (read by the metrics only)
  first: jax.Array       # int32, the seat that moves first


class State(NamedTuple):
  revealed_P: jax.Array  # bool, which candidate slots are revealed
  num_moves: jax.Array   # int32


# A debater sees everything (`Observation`): the whole image, both claims, the reveals, its seat.


# Random views: what the judge sees of an image without debate (training it, and the strongest
# lie before a game).

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


def candidates(image_HxW: np.ndarray, slots: int) -> tuple[np.ndarray, int]:
  """Nonzero pixels of an image, in raster order, padded with 0 to `slots`."""
  idx = np.flatnonzero(np.asarray(image_HxW).reshape(-1) > 0)
  if len(idx) > slots:
    raise ValueError(f"image has {len(idx)} nonzero pixels but slots={slots}")
  out = np.zeros(slots, np.int32)
  out[:len(idx)] = idx
  return out, len(idx)


def slots_for(images_NxHxW: np.ndarray, multiple: int = 32) -> int:
  most = int((np.asarray(images_NxHxW) > 0).reshape(len(images_NxHxW), -1).sum(1).max())
  return -(-most // multiple) * multiple


def make_examples(images_f32: np.ndarray, labels: np.ndarray, lies: np.ndarray, first: int,
                  slots: int, truth_seat: int = 0) -> Example:
  """A batch of games as numpy arrays (leading dim N): the truth in `truth_seat`, the lie (or
  NO_CLAIM) in the other seat."""
  cands = [candidates(im, slots) for im in images_f32]
  n = len(labels)
  slot_of = np.full((n, NUM_PIXELS), slots, np.int32)
  for i, (c, m) in enumerate(cands):
    slot_of[i, c[:m]] = np.arange(m, dtype=np.int32)
  labels = np.asarray(labels, np.int32)
  pair = [labels, np.asarray(lies, np.int32)]
  claims = np.stack(pair if truth_seat == 0 else pair[::-1], axis=1)
  return Example(image_HxW=np.asarray(images_f32, np.float32), label=labels,
                 cand_P=np.stack([c for c, _ in cands]).astype(np.int32),
                 num_cand=np.asarray([m for _, m in cands], np.int32), slot_of_pixel=slot_of,
                 claims_2=claims.astype(np.int32), truth_seat=np.full(n, truth_seat, np.int32),
                 first=np.full(n, first, np.int32))


def initial_state(example: Example) -> State:
  return State(revealed_P=jnp.zeros(example.cand_P.shape, jnp.bool_), num_moves=jnp.int32(0))


def to_move(example: Example, state: State) -> jax.Array:
  return (example.first + state.num_moves) % 2


def legal(example: Example, state: State) -> jax.Array:
  """Legal slots: a real (nonzero) candidate pixel not revealed yet."""
  return (jnp.arange(example.cand_P.shape[0]) < example.num_cand) & ~state.revealed_P


def apply_move(state: State, slot: jax.Array) -> State:
  hit = jnp.arange(state.revealed_P.shape[0]) == slot  # Elementwise, not a scatter: fast on CPU.
  return State(revealed_P=state.revealed_P | hit, num_moves=state.num_moves + 1)


def mask_HxW(example: Example, revealed_P: jax.Array) -> jax.Array:
  """The judge's mask: each pixel looks up its slot (a gather; non-candidates read False)."""
  flat = jnp.concatenate([revealed_P, jnp.zeros(1, jnp.bool_)])[example.slot_of_pixel]
  return flat.reshape(example.image_HxW.shape)


def random_completion(rng: jax.Array, example: Example, state: State, k: int) -> jax.Array:
  """Reveals uniformly random legal slots until k are revealed; returns revealed_P."""
  scores = jax.random.gumbel(rng, state.revealed_P.shape)
  scores = jnp.where(legal(example, state), scores, -jnp.inf)
  _, top = jax.lax.top_k(scores, k)
  take = jnp.arange(k) < (k - state.num_moves)
  hit = (jnp.arange(state.revealed_P.shape[0])[:, None] == top[None, :]) & take[None, :]
  return state.revealed_P | hit.any(-1)


class MnistPixels:
  """The pixel-reveal game with `k` reveals over `slots` candidate pixels (`Game`)."""
  name = "mnist_pixels"

  def __init__(self, k: int, slots: int):
    self.k, self.max_turns, self.num_actions = k, k, slots

  def __repr__(self):
    return f"MnistPixels(k={self.k}, slots={self.num_actions})"

  def __hash__(self):
    return hash((self.name, self.k, self.num_actions))

  def __eq__(self, other):
    return isinstance(other, MnistPixels) and (self.k, self.num_actions) == (
        other.k, other.num_actions)

  def init(self, example: Example) -> State:
    return initial_state(example)

  def step(self, example: Example, state: State, action) -> State:
    del example
    return apply_move(state, action)

  def legal_mask(self, example: Example, state: State) -> jax.Array:
    return legal(example, state)

  def current_seat(self, example: Example, state: State) -> jax.Array:
    return to_move(example, state)

  def turn(self, example: Example, state: State) -> jax.Array:
    del example
    return state.num_moves

  def terminated(self, example: Example, state: State) -> jax.Array:
    del example
    return state.num_moves >= self.k

  def observe(self, example: Example, state: State, seat) -> Observation:
    return Observation(example, state, jnp.asarray(seat, jnp.int32))

  def judge_view(self, example: Example, state: State) -> tuple[jax.Array, jax.Array]:
    return mask_HxW(example, state.revealed_P), example.image_HxW

  def claims(self, example: Example, state: State) -> jax.Array:
    del state
    return example.claims_2

  def truth_seat(self, example: Example, state: State) -> jax.Array:
    del state
    return example.truth_seat

  def random_completion(self, rng, example: Example, state: State) -> State:
    return State(random_completion(rng, example, state, self.k), jnp.int32(self.k))

  def leaf_judge(self, judge_apply):
    """The judge's own exact leaf judge for this game, when it offers one
    (`judge_apply.leaf_judge(game)`, e.g. the sparse judge's incremental form)."""
    make = getattr(judge_apply, "leaf_judge", None)
    return None if make is None else make(self)

  def pixels(self, example: Example, actions_BxT) -> np.ndarray:
    """The flat pixel index of each move."""
    return np.take_along_axis(np.asarray(example.cand_P), np.asarray(actions_BxT), axis=1)

  def final_mask(self, example: Example, actions_BxT) -> np.ndarray:
    n = len(actions_BxT)
    mask = np.zeros((n, NUM_PIXELS), bool)
    mask[np.arange(n)[:, None], self.pixels(example, actions_BxT)] = True
    return mask.reshape(n, 28, 28)

  def render(self, example: Example, transcript: dict, i: int) -> dict:
    truth = int(example.truth_seat[i])
    claims = [int(c) for c in example.claims_2[i]]
    pixels = self.pixels(example, transcript["actions_BxT"])[i]
    name = lambda seat: "honest" if seat == truth else "liar"
    return {
        "true_label": int(example.label[i]), "honest_claim": claims[truth],
        "liar_claim": None if claims[1 - truth] < 0 else claims[1 - truth],
        "moves": [{"player": name(int(s)), "pixel": int(px), "row": int(px) // 28,
                   "col": int(px) % 28, "judge_logits": [round(float(v), 4) for v in lg]}
                  for s, px, lg in zip(transcript["seats_BxT"][i], pixels,
                                       transcript["judge_logits_BxTxC"][i])],
        "winner": "honest" if transcript["honest_wins_B"][i] else "liar",
    }
