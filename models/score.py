"""Log-likelihoods of candidate continuations after a shared prompt, with the key/value cache:
the prompt runs once, then every candidate reads its cache (a debater choosing which span to
quote scores each span this way).

  scorer = make_continuation_scorer(functional, prompt_len=P, cont_len=L, candidates=U)
  logp_BxU, counts_BxU = scorer(params, prompts_BxP, conts_BxUxL)

Prompts are left-padded (`models.generate.left_pad`), candidates right-padded with 0;
`logp_BxU` sums log P(token | prompt, earlier tokens of the candidate) over each candidate's real
tokens, `counts_BxU` counts them.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from models.errors import ConfigError


def make_continuation_scorer(functional, prompt_len: int, cont_len: int, candidates: int):
  """`(params, prompts_BxP, conts_BxUxL) -> (logp_BxU, counts_BxU)`, jitted. `functional`: a
  `debate.train.trainer.Functional` of a `models.transformer.Decoder`."""
  if min(prompt_len, cont_len, candidates) < 1:
    raise ConfigError(f"prompt_len={prompt_len}, cont_len={cont_len}, candidates={candidates}; "
                      "allowed: all >= 1")
  P, L, U = prompt_len, cont_len, candidates

  def score(params, prompts_BxP, conts_BxUxL):
    model = functional.module(params)
    b = prompts_BxP.shape[0]
    real_BxP = prompts_BxP != 0
    positions_BxP = jnp.maximum(jnp.cumsum(real_BxP, -1) - 1, 0)
    valid_BxS = jnp.concatenate([real_BxP, jnp.zeros((b, L), jnp.bool_)], 1)
    cache = model.init_cache(b, P + L)
    logits_BxPxV, cache = model.cached(prompts_BxP, positions_BxP, valid_BxS, cache, 0)
    # Every candidate reads its prompt's cache: rows repeated U times (B*U rows).
    rep = lambda x: jnp.repeat(x, U, axis=0)
    cache = jax.tree.map(rep, cache)
    conts_NxL = conts_BxUxL.reshape(b * U, L)
    real_NxL = conts_NxL != 0
    start_N = rep(real_BxP.sum(-1))
    positions_NxL = start_N[:, None] + jnp.arange(L)[None]
    valid_NxS = jnp.concatenate([rep(real_BxP), real_NxL], 1)
    logits_NxLxV, _ = model.cached(conts_NxL, positions_NxL, valid_NxS, cache, P)
    # Token j of a candidate is predicted by the prompt's last position (j = 0) or by token j-1.
    first_NxV = rep(logits_BxPxV[:, -1])
    pred_NxLxV = jnp.concatenate([first_NxV[:, None], logits_NxLxV[:, :-1]], 1)
    logp_NxLxV = jax.nn.log_softmax(pred_NxLxV.astype(jnp.float32), -1)
    tok_logp_NxL = jnp.take_along_axis(logp_NxLxV, conts_NxL[..., None], -1)[..., 0]
    logp_N = jnp.where(real_NxL, tok_logp_NxL, 0.0).sum(-1)
    return logp_N.reshape(b, U), real_NxL.sum(-1).reshape(b, U)

  return jax.jit(score)
