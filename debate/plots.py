"""Pictures of debates: example games and where lies succeed."""
from __future__ import annotations

import numpy as np

from debate import io


def _plt():
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  return plt


def example_grid(path: str, examples: dict, per_cell: int = 4) -> None:
  """Rows: cells; columns: debates won and lost by honest. Revealed pixels coloured by player."""
  plt = _plt()
  names = list(examples)
  fig, axes = plt.subplots(len(names), per_cell, figsize=(2.2 * per_cell, 2.4 * len(names)),
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
      ax.axis("off")
      if c >= len(pick):
        continue
      i = pick[c]
      ax.imshow(ex["image"][i], cmap="gray", vmin=0, vmax=3)
      for p, px in zip(ex["players"], ex["pixels"][i]):
        ax.scatter([px % 28], [px // 28], s=40, marker="s",
                   c="tab:blue" if p == 0 else "tab:red", edgecolors="white")
      lie = ex["liar_claim"][i]
      claim = f"{ex['label'][i]} vs {lie}" if lie >= 0 else f"{ex['label'][i]} vs any"
      verdict = "honest" if wins[i] else "liar"
      ax.set_title(f"{name}\n{claim}: {verdict} wins", fontsize=7)
  fig.suptitle("blue: honest reveals, red: liar reveals", fontsize=9, y=1.0, va="top")
  fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / (2.4 * len(names))))  # Room for the suptitle.
  io.savefig(fig, path)
  plt.close(fig)


def lies_by_digit(path: str, lie_success: dict) -> None:
  """Per true digit, how often the liar won (precommit cells)."""
  plt = _plt()
  fig, ax = plt.subplots(figsize=(7, 3.5))
  width = 0.8 / max(len(lie_success), 1)
  for j, (name, (labels, liar_won)) in enumerate(lie_success.items()):
    rates = [liar_won[labels == d].mean() if (labels == d).any() else 0 for d in range(10)]
    ax.bar(np.arange(10) + j * width, rates, width, label=name)
  ax.set_xticks(np.arange(10) + 0.4 - width / 2)
  ax.set_xticklabels([str(d) for d in range(10)])
  ax.set_xlabel("true digit")
  ax.set_ylabel("liar win rate")
  ax.set_title("where lies succeed (precommit)")
  ax.legend(fontsize=7)
  io.savefig(fig, path)
  plt.close(fig)
