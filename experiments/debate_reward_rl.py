"""RL without labels: a policy trained by REINFORCE on rewards from debate and its alternatives.

Reward sources, all with the same steps, batch and seeds:
- `truth`: 1 if the sampled label is the true label (the ceiling; uses labels).
- `debate`: 1 if the sampled label wins its precommit debates: a wrong label, moving first,
  against the truth; the true label against every lie (the paper's rule: it must beat all 9).
  Debates are batched beside the step: every (image, label) verdict of the RL image set is
  played once, in jitted batches, before training (the reward of an action never changes, so this
  is the same reward as playing each sampled action's debate when it is drawn).
- `judge`: 1 if the judge, shown k random nonzero pixels, picks the sampled label (no debate).
- `distilled`: 1 if the distilled reward model R(image, label) > 0.5 (one forward pass).
The learner sees only images and rewards, never labels (except `truth`).
"""
from __future__ import annotations

import os
import time

import numpy as np
import optax

from debate import metrics as metrics_lib
from debate import rewards
from debate.config import check, check_choice, check_float, check_int
from debate.data import mnist
from debate.train import trainer
from debate.train.batches import BatchSource
from debate import distill as distill_lib
from debate import rl
from debate import runs as common
from experiments.common import mnist_uses as uses
from models.mnist_cnn import PolicyNet, RewardModel

SOURCES = rl.SOURCES
RULE_WORDS = {"paper": "the paper's rule: it beats all 9 lies",
              "best_lie": "it beats the lie the judge favours without debate"}


def validate(config) -> None:
  uses.validate_debate_keys(config)
  distill_lib.validate_keys(config)
  for s in config.sources:
    check(s in SOURCES, "sources", config.sources, f"a tuple of {list(SOURCES)}")
  check_int(config, "rl.steps", 1)
  check_int(config, "rl.batch_size", 1)
  check_int(config, "rl.samples", 1)
  check_int(config, "rl.seeds", 1)
  check_int(config, "rl.eval_every", 1)
  check_int(config, "rl.images", 1)
  check_int(config, "rl.image_offset", 0)
  check_float(config, "rl.learning_rate")
  check_float(config, "rl.entropy", lo_open=False)
  check_choice(config, "rl.truth_rule", rewards.TRUTH_RULES)


def train_and_evaluate(config, workdir: str) -> dict:
  validate(config)
  rt = common.prepare_workdir(config, workdir, mnist.check_config)
  t0 = time.time()
  need_distilled = "distilled" in config.sources
  if need_distilled:
    apply, params, model, _, _, _ = uses.distill(config, workdir, rt)
    r_functional = trainer.functionalize(
        lambda r: RewardModel(config.width, config.dense, rngs=r))
    r_apply = lambda p, x: r_functional.module(p)(**x)
    r_params = model.params
  else:
    judge = uses.judge(config, workdir, rt)
    apply, params = judge.apply, judge.params
    r_apply, r_params = None, None
  # The policy learns on images the distilled model never saw, so that its reward is a real
  # generalisation of the debate, not a lookup of verdicts it memorised.
  _, train_u8, train_labels, train_t = uses.table_for(
      config, workdir, rt, apply, params, "train", config.rl.images,
      f"rl_{config.rl.image_offset}", offset=config.rl.image_offset)
  # The truth's entry under the rule asked for, from the same games (the table stores the lies').
  table = rewards.with_truth_rule(train_t["table_NxC"], train_labels, train_t["best_lie"],
                                  config.rl.truth_rule)
  test = mnist.load_from_config(config, "test")
  test_u8, test_labels = test["image"], test["label"]
  eval_fn = rl.policy_accuracy_fn(lambda r: PolicyNet(rngs=r), {"image": test_u8}, test_labels)
  curves, final, resumed = {}, {}, 0
  for source in config.sources:
    accs = []
    for s in range(config.rl.seeds):
      data = {"inputs": {"image": train_u8}}
      if source == "truth":
        data["label"] = train_labels
      if source == "debate":
        data["table"] = table
      aux = {"judge": params, "distilled": r_params}.get(source)
      task = trainer.TrainTask(
          init_model=lambda r: PolicyNet(rngs=r),
          loss_fn=rl.make_rl_loss(source, uses.judge_alone(apply, config.pixels), r_apply,
                                  config.rl.entropy, config.rl.samples),
          optimizer=optax.adam(config.rl.learning_rate),
          data=BatchSource(data, config.rl.batch_size, config.seed + s), aux=aux,
          eval_fn=eval_fn, name=f"policy_{source}_seed{s}")
      res = trainer.train(task, runtime=rt, steps=config.rl.steps,
                          seed=config.seed + s, workdir=workdir, log_every=config.rl.eval_every,
                          checkpoint_every=config.rl.steps, eval_every=config.rl.eval_every)
      resumed = max(resumed, res.resumed_from_step)
      accs.append(res.eval_history[-1]["accuracy"])
      curves.setdefault(source, []).append(([r["step"] for r in res.eval_history],
                                            [r["accuracy"] for r in res.eval_history]))
    final[source] = accs
  policy_accuracy = {s: float(np.mean(a)) for s, a in final.items()}
  truth_table = np.arange(10)[None] == train_labels[:, None]
  m = {"policy_accuracy": policy_accuracy,
       "policy_accuracy_per_seed": final,
       "policy_accuracy_ci95": {s: (metrics_lib.mean_ci(a)["ci95"] if len(a) > 1 else
                                    list(metrics_lib.wilson_ci(a[0] * len(test_labels),
                                                               len(test_labels))))
                                for s, a in final.items()},
       "debate_reward_accuracy": float((table == truth_table).mean()),
       "debate_reward_truth_rule": config.rl.truth_rule,
       # The two ways the debate reward errs: the true label loses (to any lie, the paper's
       # rule), and a wrong label wins (moving first against the truth).
       "debate_reward_truth_wins": float(table[truth_table].mean()),
       "debate_reward_lie_wins": float(table[~truth_table].mean()),
       "test_images": int(len(test_labels))}
  wall = time.time() - t0
  common.write_results(workdir, config, metrics=m, runtime=rt, steps=config.rl.steps,
                       resumed_from_step=resumed, wall_seconds=wall)
  series = {}
  for source, runs in curves.items():
    xs = runs[0][0]
    series[source] = (xs, list(np.mean([r[1] for r in runs], axis=0)))
  common.plot_curves(os.path.join(workdir, "policy_accuracy.png"), series, "RL step",
                     "policy test accuracy", "policy accuracy by reward source")
  rows = [[s, metrics_lib.fmt_pct(policy_accuracy[s], m["policy_accuracy_ci95"][s]),
           ", ".join(f"{100 * a:.1f}" for a in final[s])] for s in config.sources]
  common.write_report(workdir, "\n".join([
      "# RL from debate rewards (no labels)", "",
      f"Policy: small CNN, REINFORCE with batch-mean baseline, {config.rl.samples} label(s) "
      f"sampled per image, entropy bonus {config.rl.entropy}, Adam {config.rl.learning_rate}, "
      f"{config.rl.steps} steps of {config.rl.batch_size} images, {config.rl.seeds} seed(s) per "
      f"source, on "
      f"{config.rl.images} unlabeled train-split images (from index {config.rl.image_offset}; the "
      f"distilled model was trained on the first {config.train_images}); accuracy on the "
      f"{len(test_labels)} test-split images (95% interval: over seeds, or Wilson for one).",
      f"Debate: k={config.pixels}, {config.debater} with {config.sims} simulations; the debate "
      f"reward table agrees with the truth on {100 * m['debate_reward_accuracy']:.1f}% of "
      f"(image, label) pairs: the true label wins ({RULE_WORDS[config.rl.truth_rule]}) on "
      f"{100 * m['debate_reward_truth_wins']:.1f}% of images, a wrong label wins (moving first "
      f"against the truth) on {100 * m['debate_reward_lie_wins']:.1f}% of pairs.", "",
      common.md_table(["reward source", "policy test accuracy", "per seed"], rows),
      "![policy accuracy](policy_accuracy.png)", ""]))
  return m
