"""The text-debate run's report and plots: judge accuracy per protocol, the baselines and
shallow rules beside debate, stronger debaters, co-training, and sample transcripts."""
from __future__ import annotations

import os

from debate import io
from debate import metrics as metrics_lib
from debate import runs as common
from experiments.common import text_lm, text_pretrained


def plots(workdir, config, by_protocol, history, curves) -> None:
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  names = list(by_protocol)
  acc = [by_protocol[n]["accuracy"] for n in names]
  lo = [a - by_protocol[n]["ci95"][0] for a, n in zip(acc, names)]
  hi = [by_protocol[n]["ci95"][1] - a for a, n in zip(acc, names)]
  fig, ax = plt.subplots(figsize=(1.2 + 1.1 * len(names), 4))
  ax.bar(range(len(names)), acc, yerr=[lo, hi], capsize=4, color="C0")
  ax.axhline(0.5, color="gray", lw=0.8, ls="--")
  ax.set_xticks(range(len(names)), names, rotation=20)
  ax.set_ylim(0, 1)
  ax.set_ylabel("judge accuracy (95% CI)")
  ax.set_title(f"judge accuracy per protocol ({config.debater} debaters)")
  io.savefig(fig, os.path.join(workdir, "accuracy_by_protocol.png"))
  plt.close(fig)
  series = {n: ([h["round"] for h in history[1:]], [h[n] for h in history[1:]])
            for n in ("debate", "consultancy") if n in by_protocol}
  if series and len(history) > 1:
    common.plot_curves(os.path.join(workdir, "cotraining.png"), series, "co-training round",
                       "judge accuracy in the round's games",
                       "as the judge retrains on the debaters' transcripts")
  if curves:
    series = {n: ([int(k) for k in c], [v["accuracy"] for v in c.values()])
              for n, c in curves.items()}
    common.plot_curves(os.path.join(workdir, "persuasiveness.png"), series,
                       "debater strength: best-of-N quotes", "judge accuracy",
                       "stronger debaters: debate vs consultancy (Khan et al. 2024)")


def report(config, m, rows, tcfg, wall) -> str:
  fmt = lambda x, f="{:.3f}": "" if x is None else f.format(x)
  table = []
  for name, p in m["protocols"].items():
    table.append([name, metrics_lib.fmt_pct(p["accuracy"], p["ci95"]), fmt(p.get("ece")),
                  fmt(p.get("brier")), fmt(p.get("log_score")),
                  fmt(p.get("verified_share_honest"), "{:.0%}"),
                  fmt(p.get("verified_share_liar"), "{:.0%}"),
                  metrics_lib.fmt_pct(p["correct_side_rate"], p["correct_side_ci95"])
                  if "correct_side_rate" in p else ""])
  lines = [
      "# Text debate: judge accuracy per protocol", "",
      f"{m['test_questions']} test questions ({config.data.source}; trained on "
      f"{m['train_questions']}), each played once per protocol with the truth in either seat "
      f"and either seat first, half each. Debaters: `{config.debater}` on both seats "
      f"({config.rounds} rounds; open protocols pick a side by playing each out). Judge: a "
      f"{tcfg.layers}-layer transformer, {tcfg.params():,} parameters, trained from scratch "
      f"over {config.judge.rounds} co-training rounds.", "",
      common.md_table(["protocol", "judge accuracy [95% CI]", "ECE", "Brier", "log score",
                       "verified quotes (honest)", "verified quotes (liar)",
                       "picks the true side"], table),
      "![accuracy](accuracy_by_protocol.png)", ""]
  lines += evidence_lines(m["protocols"])
  if m["persuasiveness"]:
    ns = list(next(iter(m["persuasiveness"].values())))
    lines += ["## Stronger debaters (best-of-N quotes, final judge)", "",
              common.md_table(["protocol"] + [f"N={n}" for n in ns],
                              [[name] + [metrics_lib.fmt_pct(c[n]["accuracy"]) for n in ns]
                               for name, c in m["persuasiveness"].items()]),
              "![persuasiveness](persuasiveness.png)", ""]
  if m["stress"]:
    lines += ["## Other debaters against the final judge", "",
              "`honest/liar`: the seat with the true option plays the first, the other the "
              "second; `greedy` scores every quote against the judge and plays the one it "
              "believes most.", "",
              common.md_table(["debaters", "debate", "consultancy"],
                              [[spec] + [metrics_lib.fmt_pct(r[n]["accuracy"], r[n]["ci95"])
                                         if n in r else "" for n in ("debate", "consultancy")]
                               for spec, r in m["stress"].items()]), ""]
  if m["learned_debaters"]:
    ld = m["learned_debaters"]
    won = lambda opp, role: ld["against"].get(f"eval/{opp}/learned_{role}_wins")
    lines += ["## Learned debaters", "",
              f"One transformer policy ({ld['params']:,} parameters) trained by self-play "
              f"policy gradient against the final judge in debate "
              f"({config.learned.iterations} iterations of {config.learned.games} games), then "
              "played on both seats of every protocol.", "",
              common.md_table(["protocol", "judge accuracy [95% CI]",
                               "verified quotes (honest / liar)"],
                              [[p, metrics_lib.fmt_pct(r["accuracy"], r["ci95"]),
                                f"{fmt(r.get('verified_share_honest'), '{:.0%}')} / "
                                f"{fmt(r.get('verified_share_liar'), '{:.0%}')}"]
                               for p, r in ld["protocols"].items()]), "",
              "Against fixed debaters in debate at the end of training, the learned "
              "debater's win rate (the honest side moves first): " + "; ".join(
                  f"against {opp}: as honest {fmt(won(opp, 'honest'), '{:.1%}')}, as liar "
                  f"{fmt(won(opp, 'liar'), '{:.1%}')}" for opp in ("heuristic", "greedy")), ""]
  if m["pretrained_judge"]:
    lines += text_pretrained.report_lines(m["pretrained_judge"], m["protocols"], config)
  if m["lm_debaters"]:
    lines += text_lm.report_lines(m["lm_debaters"], m["protocols"])
  lines += ["## Co-training", "",
            "Judge accuracy in each round's training games (questions never seen before), "
            "played against the previous round's judge, before it retrains on them; round 0 "
            f"is the opening debaters' play (`{config.judge.opening}`), with no judge yet.", "",
            common.md_table(["round", "debaters"] + list(m["protocols"]),
                            [[h["round"], h["debater"]] + [fmt(h.get(n), "{:.1%}")
                                                           for n in m["protocols"]]
                             for h in m["cotraining"]]), ""]
  lines += ["## Transcripts", ""]
  for name in ("debate", "consultancy", "open_debate"):
    row = next((r for r in rows if r["protocol"] == name), None)
    if row:
      lines += [f"### {name}", "", "```", as_text(row), "```", ""]
  lines += [f"Wall time {wall:.0f} s.", ""]
  return "\n".join(lines)


def evidence_lines(protocols: dict) -> list[str]:
  """Debate paired against every other protocol, accuracy per question type, and the shallow
  rules on each quoting protocol's transcripts."""
  pct = lambda x: f"{x:.1%}"
  lines = []
  for base in ("debate", "open_debate"):
    pairs = protocols.get(base, {}).get("paired")
    if pairs:
      lines += [f"## {base} against the other protocols, paired per question", "",
                common.md_table(["protocol", f"{base} minus it [95% CI]", "questions"],
                                [[n, f"{p['difference']:+.1%} [{p['ci95'][0]:+.1%}, "
                                     f"{p['ci95'][1]:+.1%}]", p["n"]] for n, p in pairs.items()]),
                ""]
  types = sorted({t for p in protocols.values() for t in p.get("by_question_type", {})})
  if types:
    lines += ["## Accuracy by question type", "",
              common.md_table(["protocol"] + types, [
                  [n] + [_typed(p.get("by_question_type", {}), t) for t in types]
                  for n, p in protocols.items()]), ""]
  sweeps = {n: p["tricky_sweep"] for n, p in protocols.items() if p.get("tricky_sweep")}
  if sweeps:
    ts = list(next(iter(sweeps.values())))
    lines += ["## The same judge on other shares of changed and reversed questions (`tricky`)", "",
              "Its accuracy per question type, weighted by the shares `tricky = t` draws.", "",
              common.md_table(["protocol"] + [f"t = {t}" for t in ts], [
                  [n] + ["" if s[t] is None else pct(s[t]) for t in ts]
                  for n, s in sweeps.items()]), ""]
  ruled = {n: p["shallow_rules"] for n, p in protocols.items() if p.get("shallow_rules")}
  if ruled:
    rules = list(next(iter(ruled.values())))
    lines += ["## Shallow rules on the same transcripts", "",
              "Each rule picks an option from the quotes' form alone (ties count half), in its "
              "better direction (`*`: inverted); the judge's accuracy beside it.", "",
              common.md_table(["protocol", "judge"] + rules, [
                  [n, pct(protocols[n]["accuracy"])] + [
                      pct(r[k]["accuracy"]) + ("*" if r[k]["inverted"] else "") for k in rules]
                  for n, r in ruled.items()]), ""]
  return lines


def _typed(by_type: dict, t: str) -> str:
  return f"{by_type[t]['accuracy']:.1%} ({by_type[t]['n']})" if t in by_type else ""


def as_text(row: dict) -> str:
  out = [f"Q: {row['question']}", f"A: {row['options'][0]}    B: {row['options'][1]}    "
         f"(true: {'AB'[row['true_option']]})"]
  for mv in row["moves"]:
    who = f"{mv['speaker']} (seat {mv['seat']})"
    if "picks_option" in mv:
      out.append(f"  {who} picks {'AB'[mv['picks_option']]}")
    else:
      mark = "verified" if mv["verified"] else "UNVERIFIED"
      out.append(f"  {who} for {'AB'[mv['argues_option']]}: \"{mv['quote']}\" [{mark}]  "
                 f"judge P(A)={mv['judge_probs'][0]:.2f}")
  out.append(f"  winner: {row['winner']}")
  return "\n".join(out)
