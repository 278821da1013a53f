"""The recursive-debate experiment's report and plots: each number beside the claim it tests."""
from __future__ import annotations

import math
import os

from debate import io
from debate.runs import md_table


def _pct(r: dict, key: str = "accuracy") -> str:
  lo, hi = r["ci95"]
  return f"{100 * r[key]:.1f}% [{100 * lo:.1f}, {100 * hi:.1f}]"


def _liar(r: dict) -> str:
  return _pct({"accuracy": r["liar_win_rate"], "ci95": r["ci95"]})


def _log_axes(ax, xlabel, ylabel, logy=False):
  ax.set_xscale("log", base=2)
  if logy:
    ax.set_yscale("log")
  ax.set_xlabel(xlabel)
  ax.set_ylabel(ylabel)
  ax.grid(alpha=0.3)
  ax.legend(fontsize=7)


def plots(workdir: str, m: dict) -> None:
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  Ts = sorted(int(t) for t in m["bisection"])
  fig, axes = plt.subplots(1, 3, figsize=(15, 4))
  ax = axes[0]
  for liar in m["bisection"][str(Ts[0])]:
    ax.plot(Ts, [m["bisection"][str(t)][liar]["accuracy"] for t in Ts], "o-", label=liar)
  ax.plot(Ts, [m["spot_check"][str(t)]["accuracy"] for t in Ts], "k--",
          label=f"spot-check, k = {m['spot_check'][str(Ts[0])]['judge_steps']}")
  ax.plot(Ts, [m["judge_alone"][str(t)]["accuracy"] for t in Ts], "k:", label="judge alone")
  ax.set_title("judge accuracy, one step checked")
  _log_axes(ax, "T (steps)", "accuracy")
  ax = axes[1]
  for liar in m["bisection"][str(Ts[0])]:
    ax.plot(Ts, [m["bisection"][str(t)][liar]["games_per_second"] for t in Ts], "o-",
            label=liar)
  ax.set_title("bisection games per second (2 CPU cores)")
  _log_axes(ax, "T (steps)", "games / s", logy=True)
  ax = axes[2]
  first = m["bisection"][str(Ts[0])]
  ax.plot(Ts, [m["bisection"][str(t)]["heuristic"]["honest_steps"] for t in Ts], "o-",
          label="honest (its trace; the prepared liar's too)")
  for liar in first:
    steps = [m["bisection"][str(t)][liar]["liar_steps"] for t in Ts]
    if liar not in ("heuristic", "control_random_honest") and max(steps) > 0:
      ax.plot(Ts, steps, ".--", label=f"liar {liar}")
  ax.plot(Ts, [m["bisection"][str(t)]["heuristic"]["judge_steps"] for t in Ts], "k-",
          label="judge")
  ax.set_title("step evaluations per game (random, learned liars: 0)")
  _log_axes(ax, "T (steps)", "steps", logy=True)
  io.savefig(fig, os.path.join(workdir, "bisection.png"))
  plt.close(fig)

  de = m["doubly_efficient"]
  Ts = sorted(int(t) for t in de)
  fig, axes = plt.subplots(1, 2, figsize=(11, 4))
  ax = axes[0]
  ax.plot(Ts, [de[str(t)]["completeness"] for t in Ts], "o-", label="completeness (worst Bob)")
  ax.plot(Ts, [de[str(t)]["soundness"] for t in Ts], "s-", label="soundness (worst Alice)")
  edge = [t for t in Ts if de[str(t)].get("at_promise")]
  ax.plot(edge, [de[str(t)]["at_promise"]["completeness"] for t in edge], "o--",
          label="completeness at the promise 2/3")
  ax.plot(edge, [de[str(t)]["at_promise"]["soundness"] for t in edge], "s--",
          label="soundness at the promise 2/3")
  ax.axhline(0.6, color="k", ls=":", label="theorem: 3/5")
  ax.set_ylim(0.5, 1.01)
  ax.set_title("doubly-efficient debate")
  _log_axes(ax, "T (oracle steps)", "rate")
  ax = axes[1]
  ax.plot(Ts, [de[str(t)]["honest_calls"] for t in Ts], "o-", label="honest Alice, measured")
  ax.plot(Ts, [de[str(t)]["theorem"]["alice_calls_bound"] for t in Ts], "--",
          label="bound T(5000k^2 ln 200T + 1)")
  ax.plot(Ts, [max(1.0, de[str(t)]["verifier_calls"]) for t in Ts], "s-",
          label="verifier, measured (mean)")
  ax.plot(Ts, [de[str(t)]["theorem"]["verifier_calls_bound"] for t in Ts], ":",
          label="bound 106000k^2 + 1")
  ax.set_title("oracle calls per game")
  _log_axes(ax, "T (oracle steps)", "calls", logy=True)
  io.savefig(fig, os.path.join(workdir, "doubly_efficient.png"))
  plt.close(fig)

  pe = m["prover_estimator"]["by_margin"]
  fig, ax = plt.subplots(figsize=(6, 4))
  xs = [v["margin"] for v in pe.values()]
  ax.errorbar(xs, [v["liar_win_rate"] for v in pe.values()],
              yerr=[[v["liar_win_rate"] - v["ci95"][0] for v in pe.values()],
                    [v["ci95"][1] - v["liar_win_rate"] for v in pe.values()]], fmt="o-",
              label="prover-estimator, liar prover")
  ob = m["obfuscation"]
  ax.axhline(1 - ob["honest_win_rate"], color="r", ls="--",
             label=f"plain debate, obfuscated (q={ob['q']}, m={ob['m']}): liar wins")
  ax.axhline(0.1, color="k", ls=":", label="target 10%")
  ax.set_xlabel("stability margin")
  ax.set_ylabel("liar win rate")
  ax.grid(alpha=0.3)
  ax.legend(fontsize=7)
  io.savefig(fig, os.path.join(workdir, "prover_estimator.png"))
  plt.close(fig)


def _language(lang: dict | None) -> list[str]:
  if not lang:
    return []
  return [
      "## The language bridge: a pretrained model judging a running sum as text", "",
      f"{lang['model']}, by likelihood after three worked examples; T = {lang['T']} additions, "
      "the liar slips by one at one step. Targets: after bisection within 5 points of the "
      "single-step accuracy, and 20 points above judging the whole trace.", "",
      md_table(["what the judge reads", "accuracy", "games", "seconds per game"], [
          ["one random line (its single-step accuracy)", _pct(lang["single_step"]),
           lang["single_step"]["games"], ""],
          ["the one line bisection ends at", _pct(lang["after_bisection"]),
           lang["after_bisection"]["games"],
           f"{lang['seconds_per_game']['after_bisection']:.2f}"],
          ["both whole traces", _pct(lang["whole_trace"]), lang["whole_trace"]["games"],
           f"{lang['seconds_per_game']['whole_trace']:.2f}"]]),
      f"Bisection ended at the liar's slip in {100 * lang['found_the_slip']:.0f}% of games.", ""]


def report(m: dict, wall: float) -> str:
  bis, spot, alone = m["bisection"], m["spot_check"], m["judge_alone"]
  Ts = sorted(bis, key=int)
  liars = list(bis[Ts[0]])
  rows = []
  for t in Ts:
    rows.append([f"2^{int(math.log2(int(t)))}"] + [_pct(bis[t][lr]) for lr in liars]
                + [_pct(spot[t]), f"{100 * spot[t]['catch_rate']:.2f}% (k/T "
                   f"{100 * spot[t]['expected_catch']:.2f}%)",
                   f"{100 * spot[t]['catch_rate_many']:.1f}%", _pct(alone[t])])
  cost = [[f"2^{int(math.log2(int(t)))}", f"{bis[t]['heuristic']['judge_steps']:.0f}",
           f"{bis[t]['heuristic']['honest_steps']:.0f}"]
          + [f"{bis[t][lr]['liar_steps']:.0f}" for lr in liars if lr != "control_random_honest"]
          + [f"{bis[t][lr]['games_per_second']:.0f}" for lr in liars] for t in Ts]
  de = m["doubly_efficient"]
  de_rows = [[f"2^{int(math.log2(int(t)))}", f"{de[t]['completeness']:.3f}",
              f"{de[t]['soundness']:.3f}", "0.6",
              f"{de[t]['verifier_calls']:.0f} (<= {de[t]['verifier_calls_max']})",
              f"{de[t]['theorem']['verifier_calls_bound']:.0f}",
              f"{de[t]['honest_calls']:.3g}", f"{de[t]['theorem']['alice_calls_bound']:.3g}",
              f"{de[t]['instances']['yes']}/{de[t]['instances']['no']}"]
             for t in sorted(de, key=int)]
  worst = {t: (min(de[t]["completeness_by_bob"], key=de[t]["completeness_by_bob"].get),
               min(de[t]["soundness_by_alice"], key=de[t]["soundness_by_alice"].get)) for t in de}
  ob, pe = m["obfuscation"], m["prover_estimator"]
  pe_rows = [[f"{v['margin']:g}", _liar(v),
              f"{100 * v['root_estimate_backs_liar']:.1f}%"] for v in pe["by_margin"].values()]
  tl = m.get("trained_liar")
  return "\n".join([
      "# Recursive debate over long computations", "",
      "The computation: x_{t+1} = (a_t x_t + b_t) mod 256, coefficients hashed from the "
      "instance and t (no shortcut). Claims: the value after T steps. Judge budget: one step.",
      "", "## Bisection debate (Irving et al. 2018: a judge who checks one step oversees T)", "",
      "Honest debater exact (its trace, T steps); each liar claims a wrong value. Honest wins "
      "= judge accuracy, with 95% Wilson intervals. `control_random_honest`: an honest side "
      "that commits random values against the prepared liar (the protocol needs an exact "
      "honest side). Spot-checking: one prover shows a whole trace, the judge checks k random "
      "steps (catches one wrong step k/T of the time); the judge alone guesses.", "",
      md_table(["T"] + liars + ["spot-check accuracy", "spot-check catch, one wrong step",
                                "catch, many wrong steps", "judge alone"], rows),
      "Theory: accuracy 100% against every liar with one step checked; measured above. "
      "Spot-checking with the same budget falls toward 50% (catch rate k/T).", "",
      "Cost per game (step evaluations; a judge call of a liar's search costs at most one) and "
      "throughput (games per second on this machine, compile excluded when there was more "
      "than one batch):", "",
      md_table(["T", "judge", "honest"] + [f"liar {lr}" for lr in liars
                                          if lr != "control_random_honest"]
               + [f"games/s {lr}" for lr in liars], cost),
      *([f"`learned`: one network trained by the engine's self-play (AlphaZero, both seats) "
         f"at T = 2^{tl['log2_steps']}, {tl['iterations']} iterations of "
         f"{tl['games_per_iteration']} games, {tl['parameters']} parameters, "
         f"{tl['wall_seconds']:.0f} s; it plays at every T.", ""] if tl else []),
      "![bisection](bisection.png)", "",
      "## Doubly-efficient debate with a stochastic oracle (Brown-Cohen, Irving, Piliouras "
      "2023; the Lean protocol of girving/debate)", "",
      "Completeness: honest Alice on instances with Pr(output 1) >= promise, the worst of the "
      "Bobs; soundness: honest Bob on instances with Pr(output 1) <= 1 - promise, the worst of "
      "the Alices. The theorem's constants guarantee 3/5 (at promise 2/3); k-Lipschitz "
      "instances only. Calls: the verifier's mean per game (its per-call maximum in "
      "brackets) and honest Alice's, beside Cost.lean's bounds.", "",
      md_table(["T", "completeness", "soundness", "theorem", "verifier calls", "bound",
                "honest Alice calls", "bound", "instances yes/no"], de_rows),
      "Worst adversaries per T: " + ", ".join(f"2^{int(math.log2(int(t)))}: Bob {b}, Alice {a}"
                                               for t, (b, a) in sorted(worst.items(),
                                                                       key=lambda x: int(x[0]))),
      "", "At the theorem's promise (2/3 <= Pr(output 1) < 3/4, or the mirror; parameters for "
      "the larger k those instances obey), against the same adversaries: " + "; ".join(
          f"2^{int(math.log2(int(t)))}: completeness {de[t]['at_promise']['completeness']:.3f}, "
          f"soundness {de[t]['at_promise']['soundness']:.3f} (k = {de[t]['at_promise']['k']:g})"
          for t in sorted(de, key=int) if de[t].get("at_promise"))
      + " (the theorem: >= 0.6).",
      "", "![doubly-efficient](doubly_efficient.png)", "",
      "## Obfuscated arguments (Barnes and Christiano 2020)", "",
      f"q = {ob['q']} sub-claims of {ob['sub_computation_steps']} steps, one wrong at a keyed "
      f"pseudorandom position; the honest side evaluates m = {ob['m']}. Honest win rate "
      f"{_pct({'accuracy': ob['honest_win_rate'], 'ci95': ob['ci95']})} over {ob['games']} "
      f"games; expected (m+1)/q = {100 * ob['expected']:.1f}% (m/q = "
      f"{100 * ob['m_over_q']:.1f}%). Disputes of the wrong sub-claim won by bisection: "
      f"{100 * (ob['disputes_won_by_bisection'] or 0):.1f}%. Honest compute "
      f"{ob['honest_steps']} steps; finding the flaw surely takes {ob['steps_to_find_surely']}.",
      "", "## Prover-estimator debate (Brown-Cohen, Irving, Piliouras 2025)", "",
      f"Depth-two claim trees, q = {pe['q']} sub-claims of q leaves; the estimator evaluates "
      f"m = {pe['m']} leaves per sub-claim ({pe['stable']['bob_leaves']} of {pe['leaves']}); "
      "the liar prover wins by exposing an inconsistency above "
      f"tau = {pe['tau']} or when the estimator's root probability backs it. Target: <= 10% "
      "on stable instances.", "",
      md_table(["stability margin", "liar wins", "estimator's root backs the liar"], pe_rows),
      f"Stable (margin {pe['stable']['margin']:g}): {_liar(pe['stable'])}; unstable (margin 0): "
      f"{_liar(pe['unstable'])}.",
      "", "![prover-estimator](prover_estimator.png)", "",
      *_language(m.get("language")),
      "Part times: " + ", ".join(f"{k} {v:.0f} s" for k, v in m["part_seconds"].items())
      + f"; total {wall:.0f} s.", ""])
