"""A pretrained language model judging computations written as text, by likelihood: each view
is a prompt and two candidate continuations (a step's two claimed results; two whole traces),
and the judge backs the continuation the model finds more likely after a few worked examples.
Plain text, not a chat: the tokenizer never reads special tokens in what a debater wrote.

  judge = StepLikelihoodJudge(checkpoint, tokenizer)
  p_Nx2 = judge.probs([{"prompt": "47 + 8 =", "options": [" 55", " 54"]}])
"""
from __future__ import annotations

import dataclasses
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

# Worked examples before every view (a few-shot prefix): small additions, one per line.
FEW_SHOT = "3 + 4 = 7\n12 + 5 = 17\n25 + 9 = 34\n"


@dataclasses.dataclass
class StepLikelihoodJudge:
  checkpoint: Any
  tokenizer: Any
  batch_size: int = 16
  prefix: str = FEW_SHOT
  tokens_scored: int = 0
  seconds: float = 0.0

  def __post_init__(self):
    from debate.train.trainer import functionalize
    from models.transformer import Decoder
    self._f = functionalize(lambda r: Decoder(self.checkpoint.config, rngs=r))
    self._params = jax.tree.map(jnp.asarray, self.checkpoint.params)
    self._scorers = {}

  @property
  def name(self) -> str:
    import os
    return f"likelihood:{os.path.basename(str(self.checkpoint.source))}"

  def _scorer(self, p: int, l: int):
    from models.score import make_continuation_scorer
    if (p, l) not in self._scorers:
      self._scorers[p, l] = make_continuation_scorer(self._f, p, l, 2)
    return self._scorers[p, l]

  def log_likelihoods(self, views: list[dict]) -> np.ndarray:
    """float [N, 2]: log P(option | prefix + prompt), summed over the option's tokens."""
    from models.generate import left_pad
    tok = self.tokenizer
    bos = [tok.bos_id] if tok.add_bos and tok.bos_id is not None else []
    prompts = [bos + tok.encode_text(self.prefix + v["prompt"]) for v in views]
    options = [[self.tokenizer.encode_text(o) for o in v["options"]] for v in views]
    out = np.zeros((len(views), 2), np.float32)
    t0 = time.time()
    bucket = lambda n: -(-n // 16) * 16
    for s in range(0, len(views), self.batch_size):
      idx = list(range(s, min(s + self.batch_size, len(views))))
      P = bucket(max(len(prompts[i]) for i in idx))
      L = bucket(max(len(o) for i in idx for o in options[i]))
      pb = left_pad([prompts[i] for i in idx] + [[]] * (self.batch_size - len(idx)), P)
      cb = np.zeros((self.batch_size, 2, L), np.int32)
      for j, i in enumerate(idx):
        for u, o in enumerate(options[i]):
          cb[j, u, :len(o)] = o
        self.tokens_scored += len(prompts[i]) + sum(map(len, options[i]))
      logp, _ = self._scorer(P, L)(self._params, jnp.asarray(pb), jnp.asarray(cb))
      out[idx] = np.asarray(logp)[:len(idx)]
    self.seconds += time.time() - t0
    return out

  def probs(self, views: list[dict]) -> np.ndarray:
    """The Judge interface: [N, 2], the two continuations' likelihoods normalised."""
    return np.asarray(jax.nn.softmax(jnp.asarray(self.log_likelihoods(views)), -1))
