"""The layers hold: models < debate < judges < experiments and configs. Every import of every
module (at the top or inside a function) points down or sideways, never up, and no two modules
import each other through any path; the tasks hold no experiment glue."""
from __future__ import annotations

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
RANK = {"models": 0, "debate": 1, "judges": 2, "experiments": 3, "configs": 3}


def _modules() -> dict[str, pathlib.Path]:
  out = {}
  for top in RANK:
    for f in (ROOT / top).rglob("*.py"):
      name = ".".join(f.relative_to(ROOT).with_suffix("").parts)
      out[name.removesuffix(".__init__")] = f
  return out


def _imports(name: str, path: pathlib.Path, modules: dict) -> list[tuple[str, int]]:
  """(the project module imported, line) for every import statement anywhere in the file."""
  out = []
  package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
  for node in ast.walk(ast.parse(path.read_text())):
    if isinstance(node, ast.Import):
      targets = [a.name for a in node.names]
    elif isinstance(node, ast.ImportFrom):
      base = node.module or ""
      if node.level:
        base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
      targets = [f"{base}.{a.name}" for a in node.names] + [base]
    else:
      continue
    for t in targets:
      parts = t.split(".")
      while parts and ".".join(parts) not in modules:
        parts.pop()
      if parts and ".".join(parts) != name:
        out.append((".".join(parts), node.lineno))
  return out


def _graph():
  modules = _modules()
  return modules, {m: _imports(m, f, modules) for m, f in modules.items()}


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
  """Strongly connected components of more than one module (Tarjan, iterative)."""
  index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]
  for root in edges:
    if root in index:
      continue
    work = [(root, iter(sorted(edges[root])))]
    index[root] = low[root] = counter[0]
    counter[0] += 1
    stack.append(root)
    on.add(root)
    while work:
      v, it = work[-1]
      w = next(it, None)
      if w is not None:
        if w not in index:
          index[w] = low[w] = counter[0]
          counter[0] += 1
          stack.append(w)
          on.add(w)
          work.append((w, iter(sorted(edges.get(w, ())))))
        elif w in on:
          low[v] = min(low[v], index[w])
        continue
      work.pop()
      if work:
        low[work[-1][0]] = min(low[work[-1][0]], low[v])
      if low[v] == index[v]:
        comp = []
        while True:
          w = stack.pop()
          on.discard(w)
          comp.append(w)
          if w == v:
            break
        if len(comp) > 1:
          out.append(sorted(comp))
  return out


def test_the_scan_sees_imports_inside_functions_and_relative_ones(tmp_path):
  (tmp_path / "pkg").mkdir()
  (tmp_path / "pkg" / "__init__.py").write_text("")
  f = tmp_path / "pkg" / "a.py"
  f.write_text("def f():\n  from judges import base\n  from . import b\n")
  found = _imports("debate.pkg.a", f, {"judges.base": None, "debate.pkg.b": None})
  assert found == [("judges.base", 2), ("debate.pkg.b", 3)]
  assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
  assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_points_up_the_layers():
  _, graph = _graph()
  up = [f"{m} line {line} imports {t}" for m, ts in sorted(graph.items()) for t, line in ts
        if RANK[t.split(".")[0]] > RANK[m.split(".")[0]]]
  assert not up, "\n".join(up)


def test_no_import_cycle_between_modules():
  _, graph = _graph()
  cycles = _cycles({m: {t for t, _ in ts} for m, ts in graph.items()})
  assert not cycles, cycles


def test_models_import_nothing_from_the_project():
  _, graph = _graph()
  out = [f"{m} imports {t}" for m, ts in graph.items() if m.startswith("models")
         for t, _ in ts if not t.startswith("models")]
  assert not out, out


def test_tasks_hold_no_experiment_glue():
  """The tasks are library code: no config objects, no reports, no experiment imports."""
  problems = []
  for f in sorted((ROOT / "debate" / "tasks").rglob("*.py")):
    text = f.read_text()
    for node in ast.walk(ast.parse(text)):
      if isinstance(node, (ast.Import, ast.ImportFrom)):
        names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                 else [node.module or ""])
        for n in names:
          if n.split(".")[0] in ("experiments", "configs", "ml_collections"):
            problems.append(f"{f.name}:{node.lineno} imports {n}")
      if isinstance(node, ast.Attribute) and node.attr in ("write_report", "write_results",
                                                           "md_table", "prepare_workdir"):
        problems.append(f"{f.name}:{node.lineno} calls {node.attr}")
  assert not problems, problems


def test_every_judge_implements_the_judge_interface():
  """Each kind of judge answers `probs` with one row of probabilities per view."""
  import jax
  import numpy as np

  from judges import base
  from judges.mnist_judge import MnistJudge
  from judges.pretrained import PretrainedJudge
  from judges.text_judge import TextJudge
  from models.sparse_cnn import SparseJudge, get_arch
  from models.transformer import TransformerConfig
  from debate.train import trainer

  for cls in (MnistJudge, TextJudge, PretrainedJudge, base.RecordedJudge):
    assert callable(getattr(cls, "probs", None)), cls
  params = trainer.init_params(lambda r: SparseJudge(get_arch("tiny"), rngs=r),
                               jax.random.PRNGKey(0))
  mj = MnistJudge.create("tiny", params, 4)
  assert isinstance(mj, base.Judge)
  rng = np.random.default_rng(0)
  mask = rng.random((3, 28, 28)) < 0.01
  image = rng.random((3, 28, 28)).astype(np.float32)
  p = mj.probs((mask, image))
  assert p.shape == (3, 10)
  np.testing.assert_allclose(p.sum(-1), 1, rtol=1e-5)
  # Batched in pieces gives the same rows as one call.
  np.testing.assert_allclose(mj.probs((mask, image), batch=2), p, rtol=1e-5, atol=1e-6)
  # The judge sees only revealed pixels: changing a hidden one changes nothing.
  other = image.copy()
  other[~mask] = 1 - other[~mask]
  np.testing.assert_allclose(mj.probs((mask, other)), p, rtol=1e-5, atol=1e-6)

  tj = TextJudge.create(TransformerConfig(vocab=40, width=16, layers=1, heads=2, kv_heads=1,
                                          head_width=8, mlp_width=32), {"[A]": 3, "[B]": 4})
  tj = tj.with_params(trainer.init_params(tj.init, jax.random.PRNGKey(1)))
  tokens = rng.integers(5, 40, (4, 12)).astype(np.int32)
  q = tj.probs((tokens,))
  assert q.shape == (4, 2) and isinstance(tj, base.Judge)
  np.testing.assert_allclose(q.sum(-1), 1, rtol=1e-5)


def test_a_recorded_judge_answers_only_for_games_it_judged(tmp_path):
  import json

  import numpy as np
  import pytest

  from debate.config import ConfigError
  from judges.base import RecordedJudge
  path = tmp_path / "verdicts.jsonl"
  path.write_text("\n".join(json.dumps(r) for r in [
      {"protocol": "debate", "example": 0, "probs": [0.8, 0.2]},
      {"protocol": "debate", "example": 1, "probs": [0.3, 0.7]},
  ]) + "\n")
  judge = RecordedJudge.from_jsonl(str(path))
  rows = [{"protocol": "debate", "example": 1}, {"protocol": "debate", "example": 0}]
  np.testing.assert_allclose(judge.probs(rows), [[0.3, 0.7], [0.8, 0.2]])
  # P(true option) stored beside true_option reads as a pair in option order.
  other = tmp_path / "human.jsonl"
  other.write_text('{"protocol": "debate", "example": 1, "human": 0.9, "true_option": 1}\n')
  human = RecordedJudge.from_jsonl(str(other), field="human")
  assert human.name == "human"
  np.testing.assert_allclose(human.probs(rows[:1]), [[0.1, 0.9]])
  with pytest.raises(ConfigError, match="no verdict for game"):
    human.probs([{"protocol": "debate", "example": 0}])
  path.write_text('{"protocol": "debate", "example": 0, "probs": [0.8, 0.8]}\n')
  with pytest.raises(ConfigError, match="line 1"):
    RecordedJudge.from_jsonl(str(path))


def test_a_recorded_probability_of_the_truth_needs_the_true_option(tmp_path):
  import pytest

  from debate.config import ConfigError
  from judges.base import RecordedJudge
  path = tmp_path / "v.jsonl"
  path.write_text('{"protocol": "debate", "example": 3, "finetuned": 0.8}\n')
  with pytest.raises(ConfigError, match="line 1: KeyError"):
    RecordedJudge.from_jsonl(str(path), field="finetuned")
