"""Debaters by name: `make_debater("mcts", game, protocol, judge_apply, sims=100)`."""
from __future__ import annotations

from debate.config import ConfigError
from debate.debaters.base import Debater, DebaterOutput, Env  # noqa: F401 (the interface)
from debate.debaters.learned import make_learned, make_learned_mcts
from debate.debaters.mcts import make_mcts
from debate.debaters.simple import make_best_of, make_greedy, make_heuristic, make_random

DEBATERS = ("random", "heuristic", "greedy", "best_of", "prior_best_of", "mcts", "learned",
            "learned_mcts")
LEARNED = ("learned", "learned_mcts")  # Need a trained network (`guide`, and `net` params).


def make_debater(name: str, game, protocol, judge_apply, *, sims: int = 100,
                 c_puct: float = 1.0, guide=None, evaluator: str = "net") -> Debater:
  """`guide`: the learned network (the game's `make_guide`, `Network.guide`), for the learned ones;
  `evaluator`: how the network-guided search values leaves (`debate.search.evaluators`)."""
  if name in LEARNED and guide is None:
    raise ConfigError(f"debater {name!r} needs a trained network; allowed: set selfplay_workdir "
                      "to a finished self-play run of this game")
  if name == "learned":
    return make_learned(guide, game=game, protocol=protocol, judge_apply=judge_apply)
  if name == "learned_mcts":
    return make_learned_mcts(game, protocol, judge_apply, guide, sims, c_puct, evaluator)
  if name == "random":
    return make_random()
  if name == "heuristic":
    return make_heuristic(game)
  if name == "greedy":
    return make_greedy(game, protocol, judge_apply)
  if name in ("best_of", "prior_best_of"):  # `sims`: how many moves it compares.
    return make_best_of(game, protocol, judge_apply, sims, from_prior=name == "prior_best_of")
  if name == "mcts":
    return make_mcts(game, protocol, judge_apply, sims, c_puct)
  raise ConfigError(f"debater {name!r}; allowed: {list(DEBATERS)}")
