"""Debaters by name: `make_debater("mcts", sims=100)`."""
from __future__ import annotations

from debate.config import ConfigError
from debate.debaters.base import Ctx, Debater
from debate.debaters.mcts import make_mcts
from debate.debaters.simple import make_greedy, random_debater

DEBATERS = ("random", "greedy", "mcts")
# Debaters whose moves do not depend on the random key: replaying their games with another seed
# gives the same games, so experiments play them once.
DETERMINISTIC = ("greedy",)


def make_debater(name: str, *, sims: int = 100, c_puct: float = 1.0) -> Debater:
  if name == "random":
    return random_debater
  if name == "greedy":
    return make_greedy()
  if name == "mcts":
    return make_mcts(sims, c_puct)
  raise ConfigError(f"debater {name!r}; allowed: {list(DEBATERS)}")


def judge_calls_per_move(name: str, sims: int, slots: int) -> int:
  """The judge calls one move may make (MCTS: at most; revisited terminal states cost none)."""
  return {"random": 0, "greedy": slots, "mcts": sims + 1}[name]
