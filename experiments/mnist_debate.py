"""MNIST debate: reproduces Table 2 of "AI safety via debate" with vectorized, sharded games."""
from __future__ import annotations

import json
import logging
import os
import time

import jax
import numpy as np

from debate import io
from debate import metrics as metrics_lib
from debate import protocols, rollout
from debate.config import ConfigError, check, check_choice, check_int
from debate.data import mnist
from debate.debaters import DEBATERS, DETERMINISTIC, judge_calls_per_move, make_debater
from debate.games import mnist_pixels as g
from experiments import common, debate_plots
from experiments import mnist_judge as judge_exp
from judges import mnist_judge as judge_lib

# Table 2 of Irving et al. (2018): (k, first) -> (random-pixel judge, no precommit, precommit).
PAPER = {(4, "honest"): (48.2, 51.0, 83.8), (4, "liar"): (48.2, 68.4, 86.7),
         (6, "honest"): (59.4, 67.4, 87.4), (6, "liar"): (59.4, 81.5, 90.4)}
PAPER_MEAN = {4: (48.2, 59.7, 85.2), 6: (59.4, 74.4, 88.9)}  # As printed in the paper.


def validate(config) -> None:
  for k in config.pixels:
    check(k in (4, 6) or (isinstance(k, int) and 1 <= k <= 20), "pixels", config.pixels,
          "a tuple of reveal counts (the paper: 4 and 6)")
  for p in config.precommit:
    check(isinstance(p, bool), "precommit", config.precommit, "a tuple of booleans")
  for f in config.first:
    check(f in ("honest", "liar"), "first", config.first, "a tuple of 'honest' and/or 'liar'")
  check_choice(config, "honest", DEBATERS)
  check_choice(config, "liar", DEBATERS)
  check_choice(config, "liar_protocol", protocols.LIAR_PROTOCOLS)
  check_int(config, "sims", 1)
  check_int(config, "images", 1)
  check_int(config, "seeds", 1)
  check_int(config, "batch_size", 1)
  check(isinstance(config.c_puct, float) and config.c_puct > 0, "c_puct", config.c_puct,
        "a positive float")
  judge_lib.get_arch(config.judge.arch)


def get_judge(config, workdir: str, mesh, k: int):
  """(apply, params, arch, source): from judge_workdir, or trained into this workdir."""
  if config.judge_workdir:
    path = config.judge_workdir.format(k=k)
    arch, pixels, params, meta = judge_lib.load_judge(path)
    if pixels != k:
      raise ConfigError(f"judge_workdir={path!r} holds a judge for k={pixels}, not k={k}")
    source = path
  else:
    jdir = os.path.join(workdir, f"judge_k{k}")
    arch = config.judge.arch
    if os.path.exists(os.path.join(jdir, "judge", "judge.json")):
      _, _, params, _ = judge_lib.load_judge(jdir)
    else:
      result = judge_exp.train_judge(config, jdir, mesh, pixels=k, steps=config.judge.steps,
                                     arch=arch, batch_size=config.judge.batch_size,
                                     learning_rate=config.judge.learning_rate)
      params = result.params
      judge_lib.save_judge(jdir, params, arch, k, {"steps": config.judge.steps})
    source = jdir
  return judge_lib.make_apply(judge_lib.get_arch(arch)), params, arch, source


def play_cell(config, mesh, apply, params, images, labels, *, k, precommit, first, seed,
              slots) -> dict:
  """One cell of the table for one seed: games, transcripts and per-image verdicts."""
  rng = jax.random.PRNGKey(seed)
  ids = np.arange(len(labels))
  im, lb, lies, gids = protocols.expand(images, labels, ids, config.liar_protocol, precommit,
                                        apply, params, k, jax.random.fold_in(rng, 1))
  games = g.make_games(im, lb, lies, {"honest": g.HONEST, "liar": g.LIAR}[first], slots)
  player = rollout.make_player(
      mesh, judge_apply=apply, honest=make_debater(config.honest, sims=config.sims,
                                                   c_puct=config.c_puct),
      liar=make_debater(config.liar, sims=config.sims, c_puct=config.c_puct), k=k,
      precommit=precommit, first=games.first[0], batch_axes=tuple(config.sharding.batch_axes))
  ndata = int(np.prod([mesh.shape[a] for a in config.sharding.batch_axes]))
  t0 = time.time()
  out = rollout.run_batched(player, jax.random.fold_in(rng, 2), params, games, config.batch_size,
                            multiple=ndata)
  seconds = time.time() - t0
  _, image_wins = protocols.per_image_honest_wins(out["honest_wins_B"], gids)
  return {"games": games, "game_image_ids": gids, "out": out, "image_wins": image_wins,
          "seconds": seconds}


def last_reveal_flips(out: dict, games: g.Game, precommit: bool) -> np.ndarray:
  """Per game: did the last reveal change the verdict (the judge's verdict on the first k - 1
  reveals against the final one)?"""
  won_before = jax.vmap(g.honest_wins, in_axes=(0, 0, None))(out["logits_BxKx10"][:, -2], games,
                                                             precommit)
  return np.asarray(won_before) != out["honest_wins_B"]


def _last_word(flips: list[tuple[np.ndarray, np.ndarray]]) -> dict:
  """Games whose verdict the last reveal changed, and those it changed to the last mover's
  side: the power of the last word (nothing for k = 1: no verdict before the only reveal)."""
  if not flips:
    return {}
  flip, to_last = (np.concatenate(x) for x in zip(*flips))
  return {"last_reveal_flips": float(flip.mean()),
          "last_reveal_flips_ci95": list(metrics_lib.wilson_ci(flip.sum(), flip.size)),
          "last_reveal_flips_to_last_mover": float(to_last.mean())}


def transcripts(cell_key: dict, played: dict, players: list[int], limit: int) -> list[dict]:
  games, out = played["games"], played["out"]
  rows = []
  for i in range(min(limit, len(games.label))):
    rows.append({
        **cell_key, "image_id": int(played["game_image_ids"][i]), "true_label": int(games.label[i]),
        "honest_claim": int(games.honest_claim[i]),
        "liar_claim": None if games.liar_claim[i] < 0 else int(games.liar_claim[i]),
        "moves": [{"player": "honest" if p == g.HONEST else "liar",
                   "pixel": int(px), "row": int(px) // 28, "col": int(px) % 28,
                   "judge_logits": [round(float(v), 4) for v in lg]}
                  for p, px, lg in zip(players, out["pixels_BxK"][i], out["logits_BxKx10"][i])],
        "winner": "honest" if out["honest_wins_B"][i] else "liar",
    })
  return rows


def _cell_name(key: dict) -> str:
  return f"k{key['pixels']}_{'precommit' if key['precommit'] else 'noprecommit'}_{key['first']}"


def save_cell_extras(cells_dir: str, key: dict, played: dict, players: list[int],
                     labels: np.ndarray, limit: int, examples: int = 64) -> None:
  """A played cell's transcripts and the arrays its pictures need, next to its results."""
  import io as _io
  name = _cell_name(key)
  io.atomic_write_jsonl(os.path.join(cells_dir, name + ".transcripts.jsonl"),
                        transcripts(key, played, players, limit))
  games, out = played["games"], played["out"]
  buf = _io.BytesIO()
  np.savez_compressed(buf, image=games.image_HxW[:examples], label=games.label[:examples],
                      liar_claim=games.liar_claim[:examples],
                      pixels=out["pixels_BxK"][:examples],
                      honest_wins=out["honest_wins_B"][:examples], players=np.asarray(players),
                      image_labels=labels, image_wins=played["image_wins"])
  io.atomic_write_bytes(os.path.join(cells_dir, name + ".examples.npz"), buf.getvalue())


def load_cell_extras(cells_dir: str, cells: list[dict]):
  """(transcripts, examples for the grid, lie success per precommit cell) of finished cells."""
  rows, examples, lie_success = [], {}, {}
  for cell in cells:
    name = _cell_name(cell)
    path = os.path.join(cells_dir, name + ".transcripts.jsonl")
    if os.path.exists(path):
      with open(path) as f:
        rows += [json.loads(line) for line in f]
    path = os.path.join(cells_dir, name + ".examples.npz")
    if not os.path.exists(path):
      continue
    with np.load(path) as z:
      examples[name] = {key: z[key] for key in z.files}
    if cell["precommit"]:
      lie_success[name] = (examples[name]["image_labels"], ~examples[name]["image_wins"])
  return rows, examples, lie_success


def train_and_evaluate(config, workdir: str) -> dict:
  validate(config)
  mesh = common.prepare_workdir(config, workdir)
  t_start = time.time()
  test = mnist.load_from_config(config, "test")
  if config.images > len(test["label"]):
    raise ConfigError(f"config.images={config.images} but the test split has "
                      f"{len(test['label'])} images; allowed: 1..{len(test['label'])}")
  images = mnist.to_float(test["image"][:config.images])
  labels = test["label"][:config.images]
  slots = g.slots_for(images)
  cells_dir = os.path.join(workdir, "cells")
  os.makedirs(cells_dir, exist_ok=True)
  judge_info, cells = {}, []
  for k in config.pixels:
    apply, params, arch, source = get_judge(config, workdir, mesh, k)
    jm = judge_exp.evaluate_judge(config, apply, params, k, config.judge_eval_masks)
    judge_info[str(k)] = {"arch": arch, "source": source, "accuracy": jm["test_accuracy"],
                          "ci95": jm["test_accuracy_ci95"], "ece": jm["test_ece"]}
    for first in config.first:
      for precommit in config.precommit:
        key = {"pixels": k, "precommit": precommit, "first": first}
        name = _cell_name(key)
        path = os.path.join(cells_dir, name + ".json")
        if os.path.exists(path):  # Finished in an earlier, interrupted run of this config.
          cell = io.read_json(path)
          cells.append(cell)
          logging.info("cell %s: loaded (%.1f%%)", name, 100 * cell["honest_win_rate"])
          continue
        wins, seconds, games_played, flips = [], 0.0, 0, []
        last = rollout.players_of(k, g.HONEST if first == "honest" else g.LIAR)[-1]
        # Deterministic debaters need not replay seeds (best_lie picks lies with the judge, which
        # does depend on the seed, so only the no-precommit games are fully deterministic).
        deterministic = (config.honest in DETERMINISTIC and config.liar in DETERMINISTIC and
                         not precommit)
        for s in range(1 if deterministic else config.seeds):
          played = play_cell(config, mesh, apply, params, images, labels, k=k,
                             precommit=precommit, first=first, seed=config.seed + s, slots=slots)
          wins.append(played["image_wins"])
          if k >= 2:
            flip = last_reveal_flips(played["out"], played["games"], precommit)
            flips.append((flip, flip & (played["out"]["honest_wins_B"] == (last == g.HONEST))))
          seconds += played["seconds"]
          games_played += len(played["game_image_ids"])
          if s == 0:  # Kept beside the cell, so a resumed run still reports every cell.
            players = rollout.players_of(k, g.HONEST if first == "honest" else g.LIAR)
            save_cell_extras(cells_dir, key, played, players, labels,
                             config.transcripts_per_cell)
        wins = np.stack(wins)  # [seeds played, images]
        per_seed = wins.mean(1)
        calls = judge_calls_per_move(config.honest, config.sims, slots) * ((k + 1) // 2) + \
            judge_calls_per_move(config.liar, config.sims, slots) * (k // 2) + k
        cell = {**key, "honest_debater": config.honest, "liar_debater": config.liar,
                "simulations": config.sims, "num_images": int(len(labels)),
                "seeds": config.seeds, "seeds_played": len(wins),
                "liar_protocol": config.liar_protocol,
                "honest_win_rate": float(wins.mean()),
                "ci95": list(metrics_lib.wilson_ci(wins.sum(), wins.size)),
                "per_seed": [float(x) for x in per_seed],
                "last_mover": "honest" if last == g.HONEST else "liar",
                **_last_word(flips),
                "games": games_played, "seconds": seconds,
                "games_per_second": games_played / max(seconds, 1e-9),
                "judge_calls_per_game": calls,
                "judge_calls_per_second": calls * games_played / max(seconds, 1e-9)}
        io.atomic_write_json(path, cell)
        cells.append(cell)
        logging.info("cell %s: honest wins %.1f%% (%d games, %.0f s, %.1f games/s)", name,
                     100 * cell["honest_win_rate"], games_played, seconds,
                     cell["games_per_second"])
  wall = time.time() - t_start
  all_transcripts, examples, lie_success = load_cell_extras(cells_dir, cells)
  io.atomic_write_jsonl(os.path.join(workdir, "transcripts.jsonl"), all_transcripts)
  if examples:
    debate_plots.example_grid(os.path.join(workdir, "examples.png"), examples)
  if lie_success:
    debate_plots.lies_by_digit(os.path.join(workdir, "lies_by_digit.png"), lie_success)
  metrics = {"cells": len(cells), "judge_accuracy": {k: v["accuracy"] for k, v in
                                                     judge_info.items()}}
  for c in cells:
    metrics[f"honest_win_rate/k{c['pixels']}/{'precommit' if c['precommit'] else 'noprecommit'}"
            f"/{c['first']}"] = c["honest_win_rate"]
  results = common.write_results(workdir, config, metrics=metrics, mesh=mesh, steps=0,
                                 resumed_from_step=0, wall_seconds=wall, debate=cells,
                                 judge=judge_info)
  common.write_report(workdir, report(config, cells, judge_info, wall))
  return results


def _cell(cells, k, first, precommit):
  for c in cells:
    if c["pixels"] == k and c["first"] == first and c["precommit"] == precommit:
      return c
  return None


def _mean_of_orders(cells, k, precommit) -> str:
  pair = [_cell(cells, k, f, precommit) for f in ("honest", "liar")]
  if any(c is None for c in pair):
    return "-"
  paper = PAPER_MEAN.get(k, ("-", "-", "-"))[2 if precommit else 1]
  return f"{100 * sum(c['honest_win_rate'] for c in pair) / 2:.1f}% ({paper}%)"


def report(config, cells, judge_info, wall) -> str:
  rows = []
  fmt = lambda c: "-" if c is None else metrics_lib.fmt_pct(c["honest_win_rate"], c["ci95"])
  for k in sorted(config.pixels):
    for first in ("honest", "liar"):
      if first not in config.first:
        continue
      paper = PAPER.get((k, first), ("-", "-", "-"))
      j = judge_info[str(k)]
      rows.append([k, first, f"{metrics_lib.fmt_pct(j['accuracy'], j['ci95'])} ({paper[0]}%)",
                   f"{fmt(_cell(cells, k, first, False))} ({paper[1]}%)",
                   f"{fmt(_cell(cells, k, first, True))} ({paper[2]}%)"])
    if set(config.first) == {"honest", "liar"}:  # The paper's headline: the mean of both orders.
      judge_paper = PAPER_MEAN.get(k, ("-",))[0]
      rows.append([k, "mean", f"{100 * judge_info[str(k)]['accuracy']:.1f}% ({judge_paper}%)",
                   _mean_of_orders(cells, k, False), _mean_of_orders(cells, k, True)])
  timing = [[c["pixels"], c["first"], c["precommit"], c["games"], f"{c['seconds']:.0f}",
             f"{c['games_per_second']:.2f}", c["judge_calls_per_game"],
             f"{c['judge_calls_per_second']:.0f}"] for c in cells]
  last_word = [[c["pixels"], c["first"], c["precommit"], c.get("last_mover", "-"),
                metrics_lib.fmt_pct(c["last_reveal_flips"], c["last_reveal_flips_ci95"]),
                f"{100 * c['last_reveal_flips_to_last_mover']:.1f}%"]
               for c in cells if "last_reveal_flips" in c]
  n = config.images
  return "\n".join([
      "# MNIST debate (Irving, Christiano, Amodei 2018, Table 2)", "",
      f"Honest debater `{config.honest}` vs liar `{config.liar}`, {config.sims} MCTS simulations "
      f"per move, c_puct {config.c_puct}, liar protocol `{config.liar_protocol}`, {n} test images, "
      f"{config.seeds} seed(s). Entries are judge accuracy = honest win rate, ours with a 95% "
      "Wilson interval, the paper's in parentheses.", "",
      common.md_table(["k", "first mover", "judge, random pixels", "debate, no precommit",
                       "debate, precommit"], rows),
      "Judges: " + "; ".join(f"k={k}: {v['arch']} from `{v['source']}`"
                             for k, v in judge_info.items()), "",
      "## The last word", "",
      common.md_table(["k", "first", "precommit", "last mover", "games the last reveal flipped",
                       "flipped to the last mover"], last_word),
      "The verdict on the first k - 1 reveals against the final one, over all games played.", "",
      "## Cost", "",
      common.md_table(["k", "first", "precommit", "games", "seconds", "games/s",
                       "judge calls/game", "judge calls/s"], timing),
      "Judge calls are the budget: an MCTS move costs at most simulations + 1 (a simulation "
      "that ends on a terminal state judged before costs none; `experiments/benchmark.py` counts "
      "the calls made), greedy one per candidate pixel, plus one per move for the transcript.", "",
      f"Total wall time {wall:.0f} s on {jax.device_count()} device(s) ({jax.default_backend()}).",
      "", "![example debates](examples.png)", "", "![lies by digit](lies_by_digit.png)", ""])
