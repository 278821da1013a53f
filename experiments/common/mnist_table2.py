"""The MNIST debate experiment's report (`experiments/mnist_debate.py`): Table 2 beside the
paper's numbers, the last word, and the cost of every cell."""
from __future__ import annotations

import jax

from debate import metrics as metrics_lib
from debate import runs as common

# Table 2 of Irving et al. (2018): (k, first) -> (random-pixel judge, no precommit, precommit).
PAPER = {(4, "honest"): (48.2, 51.0, 83.8), (4, "liar"): (48.2, 68.4, 86.7),
         (6, "honest"): (59.4, 67.4, 87.4), (6, "liar"): (59.4, 81.5, 90.4)}
PAPER_MEAN = {4: (48.2, 59.7, 85.2), 6: (59.4, 74.4, 88.9)}  # As printed in the paper.


def pairs(config) -> list[tuple[str, str]]:
  """The debater pairs to play: the configured one, then each baseline against itself."""
  main = (config.honest, config.liar)
  return [main] + [(b, b) for b in config.baselines if (b, b) != main]


def _cell(cells, k, first, precommit, pair=None):
  for c in cells:
    if (c["pixels"] == k and c["first"] == first and c["precommit"] == precommit
        and c.get("debaters") == pair):
      return c
  return None


def _mean_of_orders(cells, k, precommit, pair=None) -> str:
  both = [_cell(cells, k, f, precommit, pair) for f in ("honest", "liar")]
  if any(c is None for c in both):
    return "-"
  paper = PAPER_MEAN.get(k, ("-", "-", "-"))[2 if precommit else 1]
  return f"{100 * sum(c['honest_win_rate'] for c in both) / 2:.1f}% ({paper}%)"


def _table(config, cells, judge_info, pair) -> str:
  rows = []
  fmt = lambda c: "-" if c is None else metrics_lib.fmt_pct(c["honest_win_rate"], c["ci95"])
  for k in sorted(config.pixels):
    for first in ("honest", "liar"):
      if first not in config.first:
        continue
      paper = PAPER.get((k, first), ("-", "-", "-"))
      j = judge_info[str(k)]
      rows.append([k, first, f"{metrics_lib.fmt_pct(j['accuracy'], j['ci95'])} ({paper[0]}%)",
                   f"{fmt(_cell(cells, k, first, False, pair))} ({paper[1]}%)",
                   f"{fmt(_cell(cells, k, first, True, pair))} ({paper[2]}%)"])
    if set(config.first) == {"honest", "liar"}:  # The paper's headline: the mean of both orders.
      judge_paper = PAPER_MEAN.get(k, ("-",))[0]
      rows.append([k, "mean", f"{100 * judge_info[str(k)]['accuracy']:.1f}% ({judge_paper}%)",
                   _mean_of_orders(cells, k, False, pair), _mean_of_orders(cells, k, True, pair)])
  return common.md_table(["k", "first mover", "judge, random pixels", "debate, no precommit",
                          "debate, precommit"], rows)


def report(config, cells, judge_info, wall, network=None) -> str:
  timing = [[c["honest_debater"], c["liar_debater"], c["pixels"], c["first"], c["precommit"],
             c["games"], f"{c['seconds']:.0f}", f"{c.get('compile_seconds', 0):.0f}",
             f"{c['games_per_second']:.2f}",
             c["judge_calls_per_game"], f"{c['judge_calls_per_second']:.0f}"] for c in cells]
  last_word = [[c["honest_debater"], c["pixels"], c["first"], c["precommit"],
                c.get("last_mover", "-"),
                metrics_lib.fmt_pct(c["last_reveal_flips"], c["last_reveal_flips_ci95"]),
                f"{100 * c['last_reveal_flips_to_last_mover']:.1f}%"]
               for c in cells if "last_reveal_flips" in c]
  n = config.images
  rule = {"best_lie": "one game per image, the lie the judge favours most on random pixels",
          "paper": f"the paper's: all 9 lies, {config.seeds} seed(s) each; in each seed honest "
                   "wins the image only if it wins all 9 games; an image scores the mean over "
                   "seeds, intervals count images",
          "all_lies_mean_margin": f"all 9 lies, {config.seeds} seed(s) each; a lie wins on the "
                                  "mean of the judge's margin over its seeds (softer than the "
                                  "paper's rule)"}
  sections = []
  for i, (honest, liar) in enumerate(pairs(config)):
    pair = None if i == 0 else f"{honest}_vs_{liar}"
    sims = f", {config.sims} simulations per move" if "mcts" in (honest, liar) else ""
    sections += [f"### Honest `{honest}` vs liar `{liar}`{sims}", "",
                 _table(config, cells, judge_info, pair)]
  return "\n".join([
      "# MNIST debate (Irving, Christiano, Amodei 2018, Table 2)", "",
      f"c_puct {config.c_puct}; precommit liar protocol `{config.liar_protocol}` "
      f"({rule[config.liar_protocol]}); {n} test images, {config.seeds} seed(s). Entries are "
      "judge accuracy = honest win rate, ours with a 95% Wilson interval, the paper's in "
      "parentheses.", "",
      "Judges (alone on k random nonzero pixels of the test images): " + "; ".join(
          f"k={k}: `{v['arch']}`, {v.get('steps') or '?'} training steps, "
          f"{100 * v['accuracy']:.1f}% accurate, from `{v['source']}` "
          f"(fingerprint {v.get('fingerprint', '?')})" for k, v in judge_info.items()), "",
      *([f"Learned debaters: the network of iteration {network['iteration']} of "
         f"`{network['workdir']}` ({'a finished run' if network['finished'] else 'an UNFINISHED run: its newest network'}).", ""]
        if network else []),
      *sections,
      "## The last word", "",
      common.md_table(["debaters", "k", "first", "precommit", "last mover",
                       "games the last reveal flipped", "flipped to the last mover"], last_word),
      "The verdict on the first k - 1 reveals against the final one, over all games played.", "",
      "## Cost", "",
      common.md_table(["honest", "liar", "k", "first", "precommit", "games", "play s",
                       "compile s", "games/s", "judge calls/game", "judge calls/s"], timing),
      "Judge calls are the budget: an MCTS move costs at most simulations + 1 (a simulation "
      "that ends on a terminal state judged before costs none; `experiments/benchmark.py` counts "
      "the calls made), greedy one per candidate pixel, plus one per move for the transcript.", "",
      f"Total wall time {wall:.0f} s on {jax.device_count()} device(s) ({jax.default_backend()}).",
      "", "![example debates](examples.png)", "", "![lies by digit](lies_by_digit.png)", ""])
