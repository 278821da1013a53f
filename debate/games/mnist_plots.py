"""Pictures of MNIST debates: example games and where lies succeed."""
from __future__ import annotations

import numpy as np

from debate import io


def _plt():
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  return plt


def example_grid(path: str, examples: dict, per_cell: int = 4) -> None:
  """Rows: cells; columns: debates won and lost by honest. Each reveal is a square in its
  player's colour numbered by move order, over the digit at full contrast; titles name the
  truth, the lie and the winner."""
  plt = _plt()
  names = list(examples)
  fig, axes = plt.subplots(len(names), per_cell, figsize=(2.6 * per_cell, 3.1 * len(names)),
                           squeeze=False)
  for r, name in enumerate(names):
    ex = examples[name]  # Arrays saved by experiments/mnist_debate.py (save_cell_extras);
    # `players`: 0 for an honest move, 1 for the liar's.
    wins = ex["honest_wins"]
    won, lost = np.flatnonzero(wins), np.flatnonzero(~wins)
    pick = list(won[:per_cell // 2]) + list(lost[:per_cell - per_cell // 2])
    pick += [i for i in range(len(wins)) if i not in pick][:per_cell - len(pick)]
    for c in range(per_cell):
      ax = axes[r, c]
      ax.set_xticks([])
      ax.set_yticks([])
      if c >= len(pick):
        ax.axis("off")
        continue
      i = pick[c]
      image = np.asarray(ex["image"][i], np.float32)
      ax.imshow(image, cmap="gray", vmin=0.0, vmax=max(float(image.max()), 1e-6))
      for t, (p, px) in enumerate(zip(ex["players"], ex["pixels"][i])):
        colour = "tab:blue" if p == 0 else "tab:red"
        ax.scatter([px % 28], [px // 28], s=110, marker="s", c=colour, edgecolors="white",
                   linewidths=0.8)
        ax.text(px % 28, px // 28, str(t + 1), color="white", fontsize=6, ha="center",
                va="center", fontweight="bold")
      lie = ex["liar_claim"][i]
      claim = f"truth {ex['label'][i]} vs lie {lie}" if lie >= 0 else \
          f"truth {ex['label'][i]} vs any lie"
      verdict = "honest wins" if wins[i] else "liar wins"
      ax.set_title(f"{claim}:\n{verdict}", fontsize=7, pad=3)
      if c == 0:
        ax.set_ylabel(name.replace("_vs_", "\nvs ").replace("_greedy", "\ngreedy"),
                      fontsize=7)
  fig.suptitle("blue: honest reveals, red: liar reveals; numbers: move order", fontsize=9)
  fig.tight_layout(rect=(0, 0, 1, 1 - 0.45 / (3.1 * len(names))))  # Room for the suptitle.
  io.savefig(fig, path)
  plt.close(fig)


def lies_by_digit(path: str, lie_success: dict) -> dict:
  """Per true digit, how often the liar won (precommit cells), with 95% Wilson intervals and
  the number of images; a digit with no images is marked as such, not drawn as 0. Returns what
  was drawn: {cell: {digit: (liar wins, images, rate, lo, hi) or None}}."""
  from debate.metrics import wilson_ci
  plt = _plt()
  fig, ax = plt.subplots(figsize=(8, 3.8))
  width = 0.8 / max(len(lie_success), 1)
  drawn = {}
  for j, (name, (labels, liar_won)) in enumerate(lie_success.items()):
    x = np.arange(10) + j * width
    drawn[name] = {}
    for d in range(10):
      won = liar_won[labels == d]
      drawn[name][d] = None
      if not len(won):
        ax.text(x[d], 0.01, "no images", fontsize=6, ha="center", va="bottom", color="gray",
                rotation=90)
        continue
      lo, hi = wilson_ci(int(won.sum()), len(won))
      rate = won.mean()
      drawn[name][d] = (int(won.sum()), len(won), float(rate), lo, hi)
      ax.bar(x[d], rate, width, color=f"C{j}", label=name if d == 0 or not ax.patches else None)
      ax.errorbar(x[d], rate, yerr=[[max(rate - lo, 0.0)], [max(hi - rate, 0.0)]],
                  color="black", capsize=2,
                  linewidth=0.8)
      ax.text(x[d], hi + 0.01, f"{int(won.sum())}/{len(won)}", fontsize=5, ha="center",
              va="bottom", rotation=90)
  ax.set_xticks(np.arange(10) + 0.4 - width / 2)
  ax.set_xticklabels([str(d) for d in range(10)])
  ax.set_ylim(0, 1.15)
  ax.set_xlabel("true digit")
  ax.set_ylabel("liar win rate (95% CI)")
  ax.set_title("where lies succeed (precommit): liar wins / images per digit")
  handles = [plt.Rectangle((0, 0), 1, 1, color=f"C{j}") for j in range(len(lie_success))]
  ax.legend(handles, list(lie_success), fontsize=7)
  io.savefig(fig, path)
  plt.close(fig)
  return drawn
