"""The learned text debaters' network: a transformer (`models.transformer.MoveScorer`) that reads
the text game's debater view (`TextDebate.debater_view`: the question, the options, the mover's
option marker and the quotes so far, never the passage beyond its quotable units) and scores
every move; one set of parameters plays any protocol (each game builds its own view)."""
from __future__ import annotations

import jax
import jax.numpy as jnp

from debate.selfplay import learner
from models.transformer import MoveScorer, TransformerConfig


def network_for(cfg: TransformerConfig, specials: dict):
  """`network_for(game) -> learner.Network` for games of one tokenizer (its [A] and [B])."""
  init = lambda rngs: MoveScorer(cfg, (specials["[A]"], specials["[B]"]), rngs=rngs)

  def for_game(game) -> learner.Network:
    def evaluate(net, obs):
      tokens_BxN, marks_BxA = jax.vmap(game.debater_view)(obs.example, obs.state, obs.seat)
      legal_BxA = jax.vmap(game.legal_mask)(obs.example, obs.state)
      logits_BxA, value_B = net(tokens_BxN, marks_BxA)
      return jnp.where(legal_BxA, logits_BxA, -jnp.inf), value_B
    return learner.make_network(init, evaluate, game.current_seat)

  return for_game
