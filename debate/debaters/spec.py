"""The debater spec grammar, parsed in one place: `kind` or `kind-N` (N >= 1: simulations for a
search, candidates for best-of-N), or `honest/liar` (two of them: the seat with the true claim
plays the first, the other seat the second). Every experiment validates and builds debaters
from specs through here."""
from __future__ import annotations

import dataclasses
import re

from debate.config import ConfigError
from debate.debaters import DEBATERS, LEARNED, make_debater

SIZED = ("best_of", "prior_best_of", "mcts", "learned_mcts")  # Need -N.
_ONE = re.compile(r"^([a-z_]+)(?:-([1-9]\d*))?$")


@dataclasses.dataclass(frozen=True)
class Spec:
  kind: str
  n: int | None = None      # the budget after '-' (None: the kind takes none)

  def __str__(self):
    return self.kind if self.n is None else f"{self.kind}-{self.n}"


def parse_one(text: str, allowed=DEBATERS) -> Spec:
  m = _ONE.match(text)
  if not m or m.group(1) not in allowed or (m.group(1) in SIZED) != (m.group(2) is not None):
    sized = [k for k in allowed if k in SIZED]
    raise ConfigError(f"debater {text!r}; allowed: {', '.join(k for k in allowed if k not in SIZED)}"
                      + (f", or {', '.join(k + '-N' for k in sized)} (N >= 1)" if sized else ""))
  return Spec(m.group(1), int(m.group(2)) if m.group(2) else None)


def parse(text: str, allowed=DEBATERS, pairs: bool = True) -> tuple[Spec, Spec | None]:
  """(honest's spec, liar's spec or None when both seats play the same)."""
  parts = text.split("/")
  if len(parts) > 2 or (len(parts) == 2 and not pairs):
    raise ConfigError(f"debater {text!r}; allowed: one debater spec" +
                      (" or honest/liar: two of them" if pairs else ""))
  specs = [parse_one(p, allowed) for p in parts]
  return specs[0], (specs[1] if len(specs) == 2 else None)


def valid(text: str, allowed=DEBATERS, pairs: bool = True) -> bool:
  try:
    parse(text, allowed, pairs)
    return True
  except ConfigError:
    return False


def build(text: str, game, protocol, judge_apply, *, guide=None, c_puct: float = 1.0,
          evaluator: str = "net"):
  """Both seats' debater for a spec (`debate.debaters.make_debater` per part; an honest/liar
  pair through `make_by_role`). `guide`: the learned network, for the learned kinds."""
  from debate.debaters.simple import make_by_role
  honest, liar = parse(text)

  def one(s: Spec):
    return make_debater(s.kind, game, protocol, judge_apply, sims=s.n or 1, c_puct=c_puct,
                        guide=guide if s.kind in LEARNED else None, evaluator=evaluator)
  return make_by_role(game, one(honest), one(liar)) if liar else one(honest)
