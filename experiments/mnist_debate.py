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
from debate.config import ConfigError, check, check_choice, check_float, check_int
from debate.data import mnist
from debate.debaters import DEBATERS, LEARNED, make_debater
from debate.games import mnist_pixels as g
from debate.selfplay import loop
from debate.tasks.mnist import MnistTask
from experiments.common import mnist_table2
from debate.games import mnist_plots as debate_plots
from debate import runs as common
from judges import mnist_judge as judge_lib
from judges import mnist_training as judge_training
from debate.games import mnist_network
from models import policy_value as pv
from debate.train import preempt

def validate(config) -> None:
  for k in config.pixels:
    check(isinstance(k, int) and 1 <= k <= 20, "pixels", config.pixels,
          "a tuple of reveal counts from 1 to 20 (the paper: 4 and 6)")
  for p in config.precommit:
    check(isinstance(p, bool), "precommit", config.precommit, "a tuple of booleans")
  for f in config.first:
    check(f in ("honest", "liar"), "first", config.first, "a tuple of 'honest' and/or 'liar'")
  check_choice(config, "honest", DEBATERS)
  check_choice(config, "liar", DEBATERS)
  for b in config.baselines:
    check(b in DEBATERS, "baselines", config.baselines,
          f"a tuple of debater names from {list(DEBATERS)} (each plays both seats)")
  check_choice(config, "liar_protocol", protocols.LIAR_PROTOCOLS)
  check_int(config, "sims", 1)
  check_int(config, "images", 1)
  check_int(config, "seeds", 1)
  check_int(config, "batch_size", 1)
  check_float(config, "c_puct")
  check_int(config, "judge_eval_masks", 1)
  check_int(config, "transcripts_per_cell", 0)
  judge_lib.get_arch(config.judge.arch)
  if config.evaluator is not None:
    from debate.search.evaluators import EVALUATORS
    check(config.evaluator in EVALUATORS, "evaluator", config.evaluator,
          f"one of {list(EVALUATORS)} (or unset: the self-play run's)")
  if {config.honest, config.liar, *config.baselines} & set(LEARNED):
    loop.network_info(config.selfplay_workdir)  # A clear error now, not after the judge.


def protocol_of(config, precommit: bool, first: str) -> protocols.Protocol:
  """The truth sits in seat 0; `first` says which claim moves first."""
  return protocols.Protocol(precommit=precommit, first=0 if first == "honest" else 1,
                            lies=config.liar_protocol, seeds=config.seeds)


def learned_network(config, k: int):
  """(guide, params, evaluator) of `selfplay_workdir` when a learned debater plays, else Nones."""
  if not {config.honest, config.liar, *config.baselines} & set(LEARNED):
    return None, None, "net"
  guide, params, meta = loop.latest_network(
      config.selfplay_workdir, lambda meta: mnist_network.make_guide(pv.get_arch(meta["net_arch"])))
  if meta.get("pixels") != k:
    raise ConfigError(f"selfplay_workdir={config.selfplay_workdir!r} trained k={meta.get('pixels')} "
                      f"debaters, not k={k}; allowed: a self-play run with the same k")
  return guide, params, config.evaluator or meta.get("evaluator", "net")


def play_cell(config, rt, apply, params, images, labels, *, k, protocol, seed, slots,
              honest: str, liar: str) -> dict:
  """One cell of the table for one seed: games, transcripts and per-game verdicts."""
  rng = jax.random.PRNGKey(seed)
  task = MnistTask(images, labels, k, slots)
  key = protocols.lies_for(task, np.arange(len(labels)), protocol, apply, params,
                           jax.random.fold_in(rng, 1))
  examples, gids = task.examples(key), key.example_id
  game = task.game
  guide, net, evaluator = learned_network(config, k)
  make = lambda name: make_debater(name, game, protocol, apply, sims=config.sims,
                                   c_puct=config.c_puct, guide=guide, evaluator=evaluator)
  player = rollout.make_player(rt, game=game, protocol=protocol,
                               debaters=(make(honest), make(liar)), judge_apply=apply)
  ndata = rt.shards
  seat_params = tuple(net if name in LEARNED else None for name in (honest, liar))
  stats = {}
  out = rollout.run_batched(player, jax.random.fold_in(rng, 2), params, examples,
                            config.batch_size, multiple=ndata, seat_params=seat_params,
                            stats=stats, label=f"  seed {seed - config.seed + 1}: games")
  out["pixels_BxK"] = game.pixels(examples, out["actions_BxT"])
  return {"game": game, "examples": examples, "game_image_ids": gids, "out": out,
          "seconds": stats["play_seconds"], "compile_seconds": stats["compile_seconds"]}


def last_reveal_flips(out: dict, examples: g.Example, protocol: protocols.Protocol
                      ) -> np.ndarray:
  """Per game: did the last reveal change the verdict (the judge's verdict on the first k - 1
  reveals against the final one)?"""
  seat0_before = jax.vmap(protocol.seat0_wins)(out["judge_logits_BxTxC"][:, -2],
                                                examples.claims_2)
  honest_before = np.asarray(seat0_before) == (np.asarray(examples.truth_seat) == 0)
  return honest_before != out["honest_wins_B"]


def _last_word(flips: list[tuple[np.ndarray, np.ndarray]]) -> dict:
  """Games whose verdict the last reveal changed, and those it changed to the last mover's
  side: the power of the last word (nothing for k = 1: no verdict before the only reveal)."""
  if not flips:
    return {}
  flip, to_last = (np.concatenate(x) for x in zip(*flips))
  return {"last_reveal_flips": float(flip.mean()),
          "last_reveal_flips_ci95": list(metrics_lib.wilson_ci(flip.sum(), flip.size)),
          "last_reveal_flips_to_last_mover": float(to_last.mean())}


def transcripts(cell_key: dict, played: dict, limit: int) -> list[dict]:
  game, examples, out = played["game"], played["examples"], played["out"]
  return [{**cell_key, "image_id": int(played["game_image_ids"][i]),
           **game.render(examples, out, i)} for i in range(min(limit, len(examples.label)))]


def _cell_name(key: dict) -> str:
  pair = key.get("debaters", "")
  return (f"k{key['pixels']}_{'precommit' if key['precommit'] else 'noprecommit'}_"
          f"{key['first']}" + (f"_{pair}" if pair else ""))


def save_cell_extras(cells_dir: str, key: dict, played: dict, labels: np.ndarray,
                     image_wins: np.ndarray, limit: int, examples: int = 64) -> None:
  """A played cell's transcripts and the arrays its pictures need, next to its results."""
  import io as _io
  name = _cell_name(key)
  io.atomic_write_jsonl(os.path.join(cells_dir, name + ".transcripts.jsonl"),
                        transcripts(key, played, limit))
  ex, out = played["examples"], played["out"]
  buf = _io.BytesIO()
  players = (out["seats_BxT"][0] != ex.truth_seat[0]).astype(np.int32)  # 0 honest, 1 liar
  np.savez_compressed(buf, image=ex.image_HxW[:examples], label=ex.label[:examples],
                      liar_claim=ex.claims_2[:examples, 1], pixels=out["pixels_BxK"][:examples],
                      honest_wins=out["honest_wins_B"][:examples], players=players,
                      image_labels=labels, image_wins=image_wins)
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


def play_table_cell(config, rt, apply, params, images, labels, slots, cells_dir, key: dict,
                    honest: str, liar: str) -> dict:
  """Every seed of one cell: per-image verdicts under the protocol's rule, cost, last word."""
  k, first = key["pixels"], key["first"]
  protocol = protocol_of(config, key["precommit"], first)
  # Deterministic debaters need not replay seeds (best_lie picks lies with the judge, which
  # depends on the seed).
  game = g.MnistPixels(k, slots)
  guide, _, evaluator = learned_network(config, k)
  made = [make_debater(n, game, protocol, apply, sims=config.sims, c_puct=config.c_puct,
                       guide=guide, evaluator=evaluator) for n in (honest, liar)]
  deterministic = all(d.deterministic for d in made) and (
      not protocol.precommit or protocol.lies != "best_lie")
  wins, margins, seconds, games_played, flips, gids = [], [], 0.0, 0, [], None
  compile_seconds = 0.0
  for s in range(1 if deterministic else config.seeds):
    played = play_cell(config, rt, apply, params, images, labels, k=k, protocol=protocol,
                       seed=config.seed + s, slots=slots, honest=honest, liar=liar)
    out, gids = played["out"], played["game_image_ids"]
    wins.append(out["honest_wins_B"])
    margins.append(out["margin_B"])
    last = int(out["seats_BxT"][0, -1])  # Who moved last (the truth sits in seat 0).
    if k >= 2:
      flip = last_reveal_flips(out, played["examples"], protocol)
      flips.append((flip, flip & (out["honest_wins_B"] == (out["seats_BxT"][:, -1] == 0))))
    seconds += played["seconds"]
    compile_seconds += played["compile_seconds"]
    games_played += len(gids)
    if s == 0:
      first_played = played
  _, image_wins = protocols.per_example_honest_wins(protocol, np.stack(wins), np.stack(margins),
                                                  gids)
  # Kept beside the cell, so a resumed run still reports every cell.
  save_cell_extras(cells_dir, key, first_played, labels, image_wins[0],
                   config.transcripts_per_cell)
  per_outcome = image_wins.mean(1)
  rate, ci = protocols.rate_over_examples(image_wins)
  calls = made[0].judge_calls(slots) * ((k + 1) // 2) + made[1].judge_calls(slots) * (k // 2) + k
  return {**key, "honest_debater": honest, "liar_debater": liar, "simulations": config.sims,
          **({"leaf_values": evaluator} if "learned_mcts" in (honest, liar) else {}),
          "num_images": int(len(labels)), "seeds": config.seeds, "seeds_played": len(wins),
          "liar_protocol": config.liar_protocol if protocol.precommit else "none",
          "honest_win_rate": rate, "ci95": list(ci),
          "per_seed": [float(x) for x in per_outcome],
          "last_mover": "honest" if last == 0 else "liar", **_last_word(flips),
          "games": games_played, "seconds": seconds, "compile_seconds": compile_seconds,
          "games_per_second": games_played / max(seconds, 1e-9),
          "judge_calls_per_game": calls,
          "judge_calls_per_second": calls * games_played / max(seconds, 1e-9)}


def train_and_evaluate(config, workdir: str) -> dict:
  validate(config)
  t_start = time.time()
  test = mnist.load_from_config(config, "test")
  if config.images > len(test["label"]):
    raise ConfigError(f"config.images={config.images} but the test split has "
                      f"{len(test['label'])} images; allowed: 1..{len(test['label'])}")
  for k in config.pixels:
    judge_training.check_judge_source(config, k)
  rt = common.prepare_workdir(config, workdir, mnist.check_config)
  images = mnist.to_float(test["image"][:config.images])
  labels = test["label"][:config.images]
  slots = g.slots_for(images)
  cells_dir = os.path.join(workdir, "cells")
  os.makedirs(cells_dir, exist_ok=True)
  judge_info, cells, loaded = {}, [], []
  # Which self-play network the learned debaters play (an unfinished run's newest is accepted).
  network = None
  if {config.honest, config.liar, *config.baselines} & set(LEARNED):
    network = {k: v for k, v in loop.network_info(config.selfplay_workdir).items() if k != "meta"}
  n_cells = (len(config.pixels) * len(mnist_table2.pairs(config)) * len(config.first) *
             len(config.precommit))
  for k in config.pixels:
    logging.info("judge k=%d: loading or training", k)
    judge = judge_training.get_judge(config, workdir, rt, k)
    apply, params, arch, source = judge.apply, judge.params, judge.arch_name, judge.source
    fingerprint = judge_training.fingerprint(params)
    jm = judge_training.evaluate_judge(config, apply, params, k, config.judge_eval_masks)
    judge_info[str(k)] = {"arch": arch, "source": source, "accuracy": jm["test_accuracy"],
                          "ci95": jm["test_accuracy_ci95"], "ece": jm["test_ece"],
                          "fingerprint": fingerprint, **judge_training.judge_meta(source)}
    for i, (honest, liar) in enumerate(mnist_table2.pairs(config)):
      for first in config.first:
        for precommit in config.precommit:
          key = {"pixels": k, "precommit": precommit, "first": first}
          if i:
            key["debaters"] = f"{honest}_vs_{liar}"
          name = _cell_name(key)
          path = os.path.join(cells_dir, name + ".json")
          if os.path.exists(path):  # Finished in an earlier, interrupted run of this config.
            cell = io.read_json(path)
            if cell.get("judge_fingerprint", fingerprint) != fingerprint:
              raise ConfigError(
                  f"cell {name} in {cells_dir} was played by judge {cell['judge_fingerprint']} "
                  f"but the judge now ({source}) is {fingerprint}: it was replaced; allowed: "
                  "the original judge, or a new workdir (results of two judges never mix)")
            played_by = cell.get("network")
            if network and played_by and played_by["iteration"] != network["iteration"]:
              raise ConfigError(
                  f"cell {name} in {cells_dir} was played by the network of iteration "
                  f"{played_by['iteration']} but selfplay_workdir now gives iteration "
                  f"{network['iteration']}; allowed: a new workdir (two networks never mix)")
            cells.append(cell)
            loaded.append({"cell": name, "played_at": cell.get("played_at")})
            logging.info("cell %s: loaded (%.1f%%)", name, 100 * cell["honest_win_rate"])
            continue
          if preempt.requested():
            raise preempt.Preempted(f"debate: stopped before cell {name}; finished cells are "
                                    f"kept in {cells_dir}, rerun the same command to resume")
          logging.info("cell %d of %d: %s", len(cells) + 1, n_cells, name)
          cell = play_table_cell(config, rt, apply, params, images, labels, slots, cells_dir,
                                 key, honest, liar)
          cell.update(judge_fingerprint=fingerprint, played_at=time.strftime("%Y-%m-%d %H:%M:%S"),
                      **({"network": network} if network and "learned" in honest + liar else {}))
          io.atomic_write_json(path, cell)
          cells.append(cell)
          logging.info("cell %s: honest wins %.1f%% (%d games, %.0f s, %.1f games/s)", name,
                       100 * cell["honest_win_rate"], cell["games"], cell["seconds"],
                       cell["games_per_second"])
  wall = time.time() - t_start
  if io.writes_files():  # Other processes of a multi-process run write nothing.
    all_transcripts, examples, lie_success = load_cell_extras(cells_dir, cells)
    io.atomic_write_jsonl(os.path.join(workdir, "transcripts.jsonl"), all_transcripts)
    if examples:
      debate_plots.example_grid(os.path.join(workdir, "examples.png"), examples)
    if lie_success:
      debate_plots.lies_by_digit(os.path.join(workdir, "lies_by_digit.png"), lie_success)
  metrics = {"cells": len(cells), "cells_loaded": len(loaded),
             "judge_accuracy": {k: v["accuracy"] for k, v in judge_info.items()}}
  for c in cells:
    prefix = f"{c['debaters']}/" if "debaters" in c else ""
    metrics[f"{prefix}honest_win_rate/k{c['pixels']}/"
            f"{'precommit' if c['precommit'] else 'noprecommit'}/{c['first']}"] = \
        c["honest_win_rate"]
  results = common.write_results(workdir, config, metrics=metrics, runtime=rt, steps=0,
                                 resumed_from_step=0, wall_seconds=wall, debate=cells,
                                 judge=judge_info, cells_loaded=loaded, network=network)
  common.write_report(workdir, mnist_table2.report(config, cells, judge_info, wall, network))
  return results
