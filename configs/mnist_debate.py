r"""MNIST debate, Table 2 of "AI safety via debate" (Irving et al. 2018).

The quick start (a few minutes on 2 CPU cores: a small judge trained for 1,500 batches, then the
k = 6 table on 100 test images with 64 simulations, greedy beside it):

  python -m experiments.run --config configs/mnist_debate.py:quick --workdir runs/quick

The full table at modest settings, reusing judges trained by configs/mnist_judge.py:

  python -m experiments.run --config configs/mnist_debate.py:pixels=both,sims=200 \
      --workdir runs/debate --config.judge_workdir='runs/judge_k{k}'

(20 minutes on 2 CPU cores for the MCTS cells; greedy then plays the same 8 cells on both seats,
at 10-13 games/s here: docs/BENCHMARKS.md; `baselines=` skips it.) The paper's headline cells,
precommit at k = 6, with 1,000 simulations (31 minutes):
`configs/mnist_debate.py:pixels=6,precommit=true,sims=1000`.

On a GPU, play more games per call: `--config.batch_size=1024`. On one H200 the benchmark's
search (`experiments/benchmark.py`, docs/BENCHMARKS.md) played 66 games/s with 200 games in flight
and 491-507 with 2,000 at 1,000 simulations, and 26.9 games/s with 1,024 at the paper's 10,000
(`sims=10000,seeds=3`: about 17 minutes a cell of 27,000 games). This
runner itself has not been run on a GPU.

Args: pixels (4|6|both), precommit (true|false|both), first (honest|liar|both), honest and liar
(debater names: random|greedy|mcts|learned|learned_mcts; the learned ones play the newest network
of `--config.selfplay_workdir`), sims (MCTS simulations per move), images (test images),
seeds, liar_protocol (paper, the default: Irving et al.'s rule, all 9 lies per image, `seeds`
seeds each, in each seed the honest side must win all 9 games, an image scores the mean over
seeds; best_lie: one game per image, the lie the judge favours without debate, 9x cheaper;
all_lies_mean_margin: 9 lies, a lie wins on the mean of the judge's margin over its seeds),
baselines (debaters that also play both seats, '+'-separated, '' for none; default greedy),
quick (the quick start above), smoke (seconds, for tests).
Without judge_workdir (which may contain '{k}'), a judge is trained first with config.judge.
"""
import ml_collections
from ml_collections import config_dict

from configs import common
from debate.config import ConfigError, parse_arg


def _both(value, both, name, allowed):
  if value == "both":
    return both
  if value not in allowed:
    raise ConfigError(f"config argument {name}={value!r}; allowed: {list(allowed) + ['both']}")
  return (allowed[value] if isinstance(allowed, dict) else value,)


def get_config(arg=None):
  arg = parse_arg(arg, pixels="both", precommit="both", first="both", honest="mcts",
                  liar="mcts", sims=200, images=1000, seeds=1, liar_protocol="paper",
                  baselines="greedy", quick=False, smoke=False)
  c = ml_collections.ConfigDict()
  c.experiment = "mnist_debate"
  c.seed = 0
  c.steps = 0  # Debate itself trains nothing; judge training steps are config.judge.steps.
  c.pixels = _both(str(arg.pixels), (4, 6), "pixels", {"4": 4, "6": 6})
  c.precommit = _both(str(arg.precommit).lower(), (False, True), "precommit",
                      {"true": True, "false": False})
  c.first = _both(arg.first, ("honest", "liar"), "first", {"honest": "honest", "liar": "liar"})
  c.honest = arg.honest
  c.liar = arg.liar
  c.sims = arg.sims
  c.c_puct = 1.0
  c.images = arg.images
  c.seeds = arg.seeds
  c.liar_protocol = arg.liar_protocol
  # Each also plays both seats of every cell, reported beside the main pair: greedy is the
  # baseline any search must beat.
  c.baselines = tuple(b for b in str(arg.baselines).split("+") if b)
  c.batch_size = 200  # Games per jitted call (rounded up to a multiple of the data axis).
  c.judge_workdir = config_dict.placeholder(str)
  # The self-play run whose newest network the `learned` and `learned_mcts` debaters play.
  c.selfplay_workdir = config_dict.placeholder(str)
  # learned_mcts's leaf values (net | judge | mixed | rollout); unset: the self-play run's.
  c.evaluator = config_dict.placeholder(str)
  c.judge_eval_masks = 10
  c.judge = common.judge_config()
  common.add_run_keys(c)
  c.transcripts_per_cell = 200
  if arg.quick:  # The quick start: the real table at k = 6, small, in a few minutes.
    c.pixels = (6,) if str(arg.pixels) == "both" else c.pixels
    c.images = min(arg.images, 100)
    c.sims = min(arg.sims, 64)
    c.judge.update(arch="small", steps=1500, learning_rate=1e-3)
    c.judge_eval_masks = 2
  if arg.smoke:
    c.images = min(arg.images, 16)
    c.sims = min(arg.sims, 8)
    c.batch_size = 16
    c.judge.arch = "tiny"
    c.judge.steps = 20
    c.judge.batch_size = 32
    c.judge_eval_masks = 1
    c.transcripts_per_cell = 4
  return c
