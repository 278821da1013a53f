"""The debater spec grammar has one parser (`debate.debaters.spec`), used by every experiment."""
import pytest

from debate.config import ConfigError
from debate.debaters import spec


def test_specs_parse_into_kind_budget_and_roles():
  assert spec.parse("greedy") == (spec.Spec("greedy"), None)
  assert spec.parse("mcts-16") == (spec.Spec("mcts", 16), None)
  assert spec.parse("heuristic/best_of-4") == (spec.Spec("heuristic"), spec.Spec("best_of", 4))
  assert str(spec.Spec("learned_mcts", 32)) == "learned_mcts-32"


@pytest.mark.parametrize("bad", ["mcts", "mcts-0", "mcts-x", "greedy-3", "a/b/c", "oracle",
                                 "best_of-01", ""])
def test_bad_specs_are_refused_in_one_line(bad):
  with pytest.raises(ConfigError, match="allowed"):
    spec.parse(bad)
  assert not spec.valid(bad)


def test_experiments_restrict_the_kinds_and_pairs():
  tournament = ("random", "greedy", "learned", "mcts", "learned_mcts")
  assert spec.valid("learned_mcts-8", tournament, pairs=False)
  assert not spec.valid("heuristic", tournament, pairs=False)
  assert not spec.valid("greedy/random", tournament, pairs=False)
