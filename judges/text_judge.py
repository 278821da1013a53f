"""The from-scratch text judge as a `judges.base.ArrayJudge`: a decoder-only transformer
(`models.transformer.ChoiceHead`) over the text game's judge view (one token sequence: [the
passage under full information,] the question, both options and each quote marked with the
option it argues and verified or not), read out as the logits of the option markers [A] and [B].
Trained on the debaters' transcripts by `debate.judging.train_judge` (co-trained round by round
by `debate.cotrain`); a run keeps its final parameters in `judge/params.npz`."""
from __future__ import annotations

import dataclasses
import os
import zipfile

import jax
import numpy as np

from debate import io
from debate.config import ConfigError
from debate.train import trainer
from judges.base import ArrayJudge
from models.transformer import ChoiceHead, TransformerConfig

JUDGE_DIR = "judge"  # Where a run keeps its final judge.


@dataclasses.dataclass
class TextJudge(ArrayJudge):
  """`apply(params, tokens_BxN) -> logits_Bx2`."""
  cfg: TransformerConfig | None = None
  choices: tuple[int, int] = (0, 0)

  @classmethod
  def create(cls, cfg: TransformerConfig, specials: dict, params=None) -> "TextJudge":
    """The judge of this size for a tokenizer's [A] and [B]; `params` None until trained."""
    choices = (int(specials["[A]"]), int(specials["[B]"]))
    functional = trainer.functionalize(lambda rngs: ChoiceHead(cfg, choices, rngs=rngs))
    apply = lambda params, tokens_BxN: functional.module(params)(tokens_BxN)
    return cls(name="text_transformer", apply=apply, params=params, cfg=cfg, choices=choices)

  def init(self, rngs):
    """A fresh model (what the trainer builds and trains)."""
    return ChoiceHead(self.cfg, self.choices, rngs=rngs)

  def with_params(self, params) -> "TextJudge":
    return dataclasses.replace(self, params=params)

  def save(self, workdir: str) -> None:
    """Its parameters, flat in one npz (written whole or not at all)."""
    leaves, _ = jax.tree_util.tree_flatten_with_path(jax.device_get(self.params))
    io.save_npz(os.path.join(workdir, JUDGE_DIR, "params.npz"),
                **{jax.tree_util.keystr(p): np.asarray(x) for p, x in leaves})

  def load(self, workdir: str) -> "TextJudge":
    """This judge with the parameters a finished text-debate run saved."""
    path = os.path.join(workdir, JUDGE_DIR, "params.npz")
    if not os.path.exists(path):
      raise ConfigError(f"judge_workdir={workdir!r} holds no final judge ({path} is missing); "
                        "allowed: the workdir of a finished text-debate run")
    like = trainer.init_params(self.init, jax.random.PRNGKey(0))
    leaves, treedef = jax.tree_util.tree_flatten_with_path(like)
    try:
      with np.load(path) as f:
        params = [f[jax.tree_util.keystr(p)] for p, _ in leaves]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
      raise ConfigError(f"{path} is damaged or from another judge size ({type(e).__name__}: "
                        f"{str(e)[:80]}); allowed: the params.npz a finished text-debate run "
                        "writes with the same judge config (rerun it)")
    for (p, want), got in zip(leaves, params):
      if np.shape(want) != np.shape(got):
        raise ConfigError(f"{path}: {jax.tree_util.keystr(p)} has shape {np.shape(got)}, the "
                          f"judge config wants {np.shape(want)}; allowed: the run's own judge "
                          "config")
    return self.with_params(jax.tree_util.tree_unflatten(treedef, params))
