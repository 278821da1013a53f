"""Config loading: `configs/NAME.py:key=value,...` plus `--config.a.b=value` overrides.

Follows big_vision's convention: every config file defines `get_config(arg: str | None)`,
and `arg` is a comma-separated list of `key=value` (a bare `key` means `key=True`).
Every error raised here is a `ConfigError` whose message names the bad value and what is allowed.
"""
from __future__ import annotations

import ast
import importlib.util
import os
from typing import Any, Iterable, Sequence

import ml_collections

from models.errors import ConfigError  # noqa: F401 (the project's one bad-input error)


def _parse_scalar(text: str) -> Any:
  low = text.strip().lower()
  if low in ("true", "yes"):
    return True
  if low in ("false", "no"):
    return False
  if low in ("none", "null"):
    return None
  try:
    return ast.literal_eval(text)
  except (ValueError, SyntaxError):
    return text


_ARGUMENTS: list[dict] = []  # The defaults of the last parse_arg call (what `--help` lists).


def parse_arg(arg: str | None, **defaults: Any) -> ml_collections.ConfigDict:
  """Parses `a=1,b=x,smoke` into a ConfigDict typed by `defaults`; unknown keys are errors."""
  _ARGUMENTS[:] = [dict(defaults)]
  out = ml_collections.ConfigDict(dict(defaults))
  if not arg:
    return out
  for item in arg.split(","):
    item = item.strip()
    if not item:
      continue
    key, sep, value = item.partition("=")
    key = key.strip()
    if key not in defaults:
      raise ConfigError(f"unknown config argument {key!r} in {arg!r}; allowed: {sorted(defaults)}")
    parsed = _parse_scalar(value) if sep else True
    default = defaults[key]
    if default is not None and not isinstance(parsed, type(default)):
      if isinstance(default, str):
        parsed = str(value)
      elif isinstance(default, float) and isinstance(parsed, int) and not isinstance(parsed, bool):
        parsed = float(parsed)
      else:
        raise ConfigError(f"config argument {key}={value!r} has the wrong type: expected "
                          f"{type(default).__name__} (default {default!r})")
    out[key] = parsed
  return out


# The project's root (configs/ lives there): a relative config path is also looked up there, so
# `--config configs/NAME.py` works from any directory after `pip install -e .`.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def resolve_path(path: str) -> str:
  if not os.path.isfile(path) and not os.path.isabs(path) and \
      os.path.isfile(os.path.join(ROOT, path)):
    return os.path.join(ROOT, path)
  return path


def _load_module(path: str):
  path = resolve_path(path)
  if not os.path.isfile(path):
    raise ConfigError(f"config file {path!r} does not exist; allowed: a file under configs/ "
                      f"({', '.join(sorted(f for f in os.listdir(os.path.join(ROOT, 'configs')) if f.endswith('.py') and f not in ('__init__.py', 'common.py')))})")
  name = "_config_" + os.path.splitext(os.path.basename(path))[0]
  spec = importlib.util.spec_from_file_location(name, path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  if not hasattr(module, "get_config"):
    raise ConfigError(f"config file {path!r} defines no get_config(arg)")
  return module


def _set_override(config: ml_collections.ConfigDict, dotted: str, raw: str) -> None:
  keys = dotted.split(".")
  node = config
  for i, k in enumerate(keys[:-1]):
    if k not in node or not isinstance(node[k], ml_collections.ConfigDict):
      raise ConfigError(f"unknown config key {'.'.join(keys[:i + 1])!r} in override "
                        f"--config.{dotted}; allowed at this level: {sorted(node.keys())}")
    node = node[k]
  leaf = keys[-1]
  if leaf not in node:
    raise ConfigError(f"unknown config key {dotted!r} in override --config.{dotted}={raw}; "
                      f"allowed at this level: {sorted(node.keys())}")
  current = node[leaf]
  if isinstance(current, ml_collections.ConfigDict):
    raise ConfigError(f"--config.{dotted}={raw!r}: config.{dotted} is a group of keys, not one "
                      f"value; allowed: --config.{dotted}.KEY=VALUE with KEY one of "
                      f"{sorted(current.keys())} (the config's arguments, after ':', are "
                      "another thing: --help lists both)")
  value = _parse_scalar(raw)
  if current is not None:
    if isinstance(current, str):
      value = raw
    elif isinstance(current, bool):
      if not isinstance(value, bool):
        raise ConfigError(f"--config.{dotted}={raw!r}: expected a bool (true/false)")
    elif isinstance(current, float) and isinstance(value, int) and not isinstance(value, bool):
      value = float(value)
    elif isinstance(current, (tuple, list)) and isinstance(value, (tuple, list)):
      value = type(current)(value)
    elif not isinstance(value, type(current)) or isinstance(value, bool) != isinstance(current, bool):
      raise ConfigError(f"--config.{dotted}={raw!r} has the wrong type: expected "
                        f"{type(current).__name__} (current value {current!r})")
  try:
    node[leaf] = value
  except (TypeError, ValueError) as e:
    raise ConfigError(f"--config.{dotted}={raw!r}: {e}") from e


def load_config(spec: str, overrides: Sequence[str] = ()) -> ml_collections.ConfigDict:
  """Loads `path.py[:arg]` and applies `key.sub=value` overrides (with or without `--config.`)."""
  path, _, arg = spec.partition(":")
  module = _load_module(path)
  config = module.get_config(arg or None)
  for item in overrides:
    item = item[len("--config."):] if item.startswith("--config.") else item
    item = item[len("config."):] if item.startswith("config.") else item
    if "=" not in item:
      raise ConfigError(f"override {item!r} must look like --config.key=value")
    dotted, raw = item.split("=", 1)
    _set_override(config, dotted, raw)
  config.lock()
  return config


# Range checks shared by every experiment --------------------------------------------------------

def check(cond: bool, key: str, value: Any, allowed: str) -> None:
  if not cond:
    raise ConfigError(f"config.{key}={value!r} is not allowed; allowed: {allowed}")


def check_int(config, key: str, lo: int | None = None, hi: int | None = None) -> None:
  value = config
  for k in key.split("."):
    value = value[k]
  ok = isinstance(value, int) and not isinstance(value, bool)
  ok = ok and (lo is None or value >= lo) and (hi is None or value <= hi)
  rng = f"an integer in [{lo if lo is not None else '-inf'}, {hi if hi is not None else 'inf'}]"
  check(ok, key, value, rng)


def check_float(config, key: str, lo: float = 0.0, hi: float | None = None,
                lo_open: bool = True) -> None:
  """A finite float (an int is taken as one) above `lo` (or at it, `lo_open=False`), at most
  `hi`: `1e309` (inf) and nan are refused here, not found by a diverging run."""
  import math
  value = config
  for k in key.split("."):
    value = value[k]
  ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
  ok = ok and (value > lo if lo_open else value >= lo) and (hi is None or value <= hi)
  bound = f"{'>' if lo_open else '>='} {lo:g}" + (f" and <= {hi:g}" if hi is not None else "")
  check(ok, key, value, f"a finite number {bound}")


def check_choice(config, key: str, choices: Iterable[Any]) -> None:
  value = config
  for k in key.split("."):
    value = value[k]
  choices = list(choices)
  check(value in choices, key, value, f"one of {choices}")


def validate_common(config) -> None:
  """Keys every experiment shares: seed, steps, data, mesh (the data keys themselves are the
  task's to check: `prepare_workdir`'s `check_data`)."""
  for key in ("seed", "steps", "data", "mesh"):
    if key not in config:
      raise ConfigError(f"config has no {key!r}: every experiment config must define seed, steps, "
                        "data and mesh")
  check_int(config, "seed", 0)
  check_int(config, "steps", 0)
  for axis, size in config.mesh.items():
    check(isinstance(size, int) and (size == -1 or size >= 1), f"mesh.{axis}", size,
          "a positive integer, or -1 for all remaining devices")
  if "sharding" in config:
    check_sharding(config)


def check_sharding(config) -> None:
  """`sharding.rules`: (regex, axes) pairs, each regex valid, each axis a mesh axis or None;
  `sharding.batch_axes`: mesh axes."""
  import re
  axes = list(config.mesh.keys())
  allowed = (f"a list of (regex, axes) pairs, axes a tuple of mesh axes from {axes} or None, "
             "e.g. [('kernel$', ('model',))]")
  rules = config.sharding.get("rules", ())
  check(isinstance(rules, (list, tuple)), "sharding.rules", rules, allowed)
  for rule in rules:
    ok = isinstance(rule, (list, tuple)) and len(rule) == 2 and isinstance(rule[0], str) \
        and isinstance(rule[1], (list, tuple)) and all(a is None or a in axes for a in rule[1])
    if ok:
      try:
        re.compile(rule[0])
      except re.error as e:
        raise ConfigError(f"config.sharding.rules has the regex {rule[0]!r}, which does not "
                          f"compile ({e}); allowed: {allowed}") from None
    check(ok, "sharding.rules", rules, allowed)
  batch_axes = config.sharding.get("batch_axes", ())
  check(isinstance(batch_axes, (list, tuple)) and all(a in axes for a in batch_axes),
        "sharding.batch_axes", batch_axes, f"a tuple of mesh axes from {axes}")


# What `python -m experiments.run --config configs/NAME.py --help` prints ----------------------

def _docstring_args(doc: str) -> dict[str, str]:
  """{argument: its description} from the docstring's `Args:` paragraph (`name (what it is),
  name2, ...`)."""
  import re
  m = re.search(r"Args:(.*?)(?:\n\s*\n|$)", doc or "", re.S)
  if not m:
    return {}
  text, items, depth, cur = " ".join(m.group(1).split()), [], 0, ""
  for ch in text:
    depth += ch == "("
    depth -= ch == ")"
    if ch == "," and depth == 0:
      items.append(cur)
      cur = ""
    else:
      cur += ch
  items.append(cur)
  out = {}
  for item in items:
    mm = re.match(r"\s*(\w+)\s*(?:\((.*)\))?", item.strip().rstrip("."))
    if mm:
      out[mm.group(1)] = (mm.group(2) or "").strip()
  return out


def _source_comments(source: str) -> dict[str, str]:
  """{key or its last component: the comment beside its assignment} from a config file."""
  import re
  out = {}
  for line in source.splitlines():
    m = re.match(r"\s*c\.([\w.]+)\s*=.*?#\s*(.+)$", line) or \
        re.match(r"\s*\"(\w+)\":.*?#\s*(.+)$", line)
    if m:
      out.setdefault(m.group(1), m.group(2).strip())
  return out


def describe(spec: str) -> str:
  """The config's launch text, its arguments (after ':') with their defaults, and every key
  (`--config.KEY=VALUE`) with its default, one line each."""
  path = resolve_path(spec.partition(":")[0])
  module = _load_module(path)
  config = module.get_config(None)
  defaults = _ARGUMENTS[0] if _ARGUMENTS else {}
  args_doc = _docstring_args(module.__doc__)
  with open(path) as f:
    comments = _source_comments(f.read())
  flat = {}

  def walk(node, prefix=""):
    for k in sorted(node.keys()):
      v = node[k]
      if isinstance(v, ml_collections.ConfigDict):
        walk(v, f"{prefix}{k}.")
      else:
        flat[prefix + k] = v
  walk(config)
  lines = [(module.__doc__ or "").strip(), "",
           f"Arguments ({spec.partition(':')[0]}:NAME=VALUE,...; they set several keys at "
           "once):"]
  for k, v in defaults.items():
    lines.append(f"  {k} = {v!r}" + (f"    {args_doc[k]}" if args_doc.get(k) else ""))
  lines += ["", "Keys (--config.KEY=VALUE, applied after the arguments):"]
  for k, v in flat.items():
    note = comments.get(k) or comments.get(k.split(".")[-1], "")
    lines.append(f"  {k} = {v!r}" + (f"    # {note}" if note else ""))
  return "\n".join(lines)
