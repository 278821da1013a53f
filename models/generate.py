"""Text generation with a key/value cache, jitted over fixed shapes: left-padded prompts of P
tokens, N new tokens, greedy (temperature 0) or sampled; rows that emit `eos_id` keep emitting it.

  gen = make_generate(functional, prompt_len=P, steps=N, temperature=0.7, eos_id=2)
  tokens_BxN, logits_BxNxV = gen(params, prompt_BxP, rng)

`logits_BxNxV[:, i]` are the logits token i was drawn from (a debater's argument can be scored
from them). The prompt fills the cache in one call; each new token is one call over a single
position, so a step costs O(S) attention instead of the O(S^2) of re-running the sequence.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from models.errors import ConfigError


def left_pad(seqs: list[list[int]], length: int | None = None, pad: int = 0) -> np.ndarray:
  """Prompts right-aligned in a B x P array of `pad` (0: the decoder's padding token)."""
  length = max(len(s) for s in seqs) if length is None else length
  out = np.full((len(seqs), length), pad, np.int32)
  for i, s in enumerate(seqs):
    if len(s) > length:
      raise ConfigError(f"a prompt of {len(s)} tokens; allowed: at most {length}")
    if len(s):
      out[i, length - len(s):] = s
  return out


def make_generate(functional, prompt_len: int, steps: int, temperature: float = 0.0,
                  eos_id: int | None = None, top_k: int = 0):
  """`(params, prompt_BxP, rng) -> (tokens_BxN, logits_BxNxV)`, jitted. `functional` is a
  `debate.train.trainer.Functional` of a `models.transformer.Decoder`."""
  if steps < 1 or prompt_len < 1:
    raise ConfigError(f"prompt_len={prompt_len}, steps={steps}; allowed: both >= 1")
  if temperature < 0:
    raise ConfigError(f"temperature={temperature}; allowed: >= 0 (0 is greedy)")

  def pick(logits_BxV, rng):
    if temperature == 0:
      return logits_BxV.argmax(-1).astype(jnp.int32)
    scaled = logits_BxV / temperature
    if top_k:
      kth = jax.lax.top_k(scaled, top_k)[0][:, -1:]
      scaled = jnp.where(scaled < kth, -jnp.inf, scaled)
    return jax.random.categorical(rng, scaled).astype(jnp.int32)

  def generate(params, prompt_BxP, rng):
    model = functional.module(params)
    b, p = prompt_BxP.shape
    real_BxP = prompt_BxP != 0
    positions_BxP = jnp.maximum(jnp.cumsum(real_BxP, -1) - 1, 0)
    valid_BxS = jnp.concatenate([real_BxP, jnp.zeros((b, steps), jnp.bool_)], 1)
    cache = model.init_cache(b, p + steps)
    logits_BxPxV, cache = model.cached(prompt_BxP, positions_BxP, valid_BxS, cache, 0)

    def body(carry, i):
      cache, valid_BxS, logits_BxV, pos_B, done_B, rng = carry
      rng, sub = jax.random.split(rng)
      tok_B = pick(logits_BxV, sub)
      if eos_id is not None:
        tok_B = jnp.where(done_B, eos_id, tok_B)
        done_B = done_B | (tok_B == eos_id)
      valid_BxS = valid_BxS.at[:, p + i].set(True)
      nxt, cache = model.cached(tok_B[:, None], pos_B[:, None], valid_BxS, cache, p + i)
      return (cache, valid_BxS, nxt[:, 0], pos_B + 1, done_B, rng), (tok_B, logits_BxV)

    init = (cache, valid_BxS, logits_BxPxV[:, -1], real_BxP.sum(-1).astype(jnp.int32),
            jnp.zeros(b, jnp.bool_), rng)
    _, (tokens_NxB, logits_NxBxV) = jax.lax.scan(body, init, jnp.arange(steps))
    return tokens_NxB.T, logits_NxBxV.transpose(1, 0, 2)

  return jax.jit(generate)
