"""The MNIST pixel-reveal debate game of Irving, Christiano and Amodei (2018), section 3.1.

Pure JAX over fixed shapes. Moves index a per-image list of candidate pixels: the image's nonzero
pixels, padded to a static length P (`slots`). Player 0 is honest, player 1 is the liar.
Everything here works on a single game; `jax.vmap` runs a batch.
"""
from __future__ import annotations

from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np

HONEST, LIAR = 0, 1
NO_CLAIM = -1
NUM_PIXELS = 28 * 28


class Game(NamedTuple):
  """What is fixed for one debate: the image, its candidate pixels, the claims and the rules."""
  image_HxW: jax.Array   # float32 in [0, 1]; the judge only ever sees the revealed pixels
  label: jax.Array       # int32 true label (debaters know it; the judge does not)
  cand_P: jax.Array      # int32 flat pixel index of candidate slot p (nonzero pixels first)
  num_cand: jax.Array    # int32 number of real candidates (slots >= num_cand are padding)
  slot_of_pixel: jax.Array  # int32 [H*W]: the slot of each pixel, or P for non-candidates
  honest_claim: jax.Array  # int32, the true label
  liar_claim: jax.Array    # int32, the lie (precommit), or NO_CLAIM
  first: jax.Array       # int32, who moves first: HONEST or LIAR


class State(NamedTuple):
  revealed_P: jax.Array  # bool, which candidate slots are revealed
  num_moves: jax.Array   # int32


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


def make_games(images_f32: np.ndarray, labels: np.ndarray, liar_claims: np.ndarray, first: int,
               slots: int) -> Game:
  """A batch of games as numpy arrays (leading dim N)."""
  cands = [candidates(im, slots) for im in images_f32]
  n = len(labels)
  slot_of = np.full((n, NUM_PIXELS), slots, np.int32)
  for i, (c, m) in enumerate(cands):
    slot_of[i, c[:m]] = np.arange(m, dtype=np.int32)
  return Game(image_HxW=np.asarray(images_f32, np.float32), label=np.asarray(labels, np.int32),
              cand_P=np.stack([c for c, _ in cands]).astype(np.int32),
              num_cand=np.asarray([m for _, m in cands], np.int32), slot_of_pixel=slot_of,
              honest_claim=np.asarray(labels, np.int32),
              liar_claim=np.asarray(liar_claims, np.int32),
              first=np.full(n, first, np.int32))


def initial_state(game: Game) -> State:
  return State(revealed_P=jnp.zeros(game.cand_P.shape, jnp.bool_), num_moves=jnp.int32(0))


def to_move(game: Game, state: State) -> jax.Array:
  return (game.first + state.num_moves) % 2


def legal(game: Game, state: State) -> jax.Array:
  """Legal slots: a real (nonzero) candidate pixel not revealed yet."""
  return (jnp.arange(game.cand_P.shape[0]) < game.num_cand) & ~state.revealed_P


def apply_move(state: State, slot: jax.Array) -> State:
  hit = jnp.arange(state.revealed_P.shape[0]) == slot  # Elementwise, not a scatter: fast on CPU.
  return State(revealed_P=state.revealed_P | hit, num_moves=state.num_moves + 1)


def mask_HxW(game: Game, revealed_P: jax.Array) -> jax.Array:
  """The judge's mask: each pixel looks up its slot (a gather; non-candidates read False)."""
  flat = jnp.concatenate([revealed_P, jnp.zeros(1, jnp.bool_)])[game.slot_of_pixel]
  return flat.reshape(game.image_HxW.shape)


def honest_wins(logits_10: jax.Array, game: Game, precommit: bool) -> jax.Array:
  """The verdict. Precommit: the claimed label with the higher logit wins (ties go to the liar).
  No precommit: honest wins iff the judge's argmax over all 10 labels is the true label."""
  chex.assert_shape(logits_10, (10,))
  if precommit:
    return logits_10[game.honest_claim] > logits_10[game.liar_claim]
  return jnp.argmax(logits_10) == game.label


def margin(logits_10: jax.Array, game: Game, precommit: bool) -> jax.Array:
  """How far the judge leans to honest (positive) or the liar (negative)."""
  if precommit:
    return logits_10[game.honest_claim] - logits_10[game.liar_claim]
  others = jnp.where(jnp.arange(10) == game.label, -jnp.inf, logits_10)
  return logits_10[game.label] - others.max()


def random_completion(rng: jax.Array, game: Game, state: State, k: int) -> jax.Array:
  """Reveals uniformly random legal slots until k are revealed; returns revealed_P."""
  scores = jax.random.gumbel(rng, state.revealed_P.shape)
  scores = jnp.where(legal(game, state), scores, -jnp.inf)
  _, top = jax.lax.top_k(scores, k)
  take = jnp.arange(k) < (k - state.num_moves)
  hit = (jnp.arange(state.revealed_P.shape[0])[:, None] == top[None, :]) & take[None, :]
  return state.revealed_P | hit.any(-1)
