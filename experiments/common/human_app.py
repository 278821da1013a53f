"""The judging page: Starlette on uvicorn, jinja2 templates with autoescaping, the SQLite store of
`human_db`. A judge logs in with its token, is served a debate over a story it has not seen
(the answers in random order, the speeches as A and B, never the story, the truth, who is honest
or who debated), reads it round by round setting a probability after each (1-99%), asks for the
next round or decides with an explanation, and then sees the answer, its score (the log score
of the truth, minus `TURN_PENALTY` per extra round read) and its running record.

The page talks to the JSON API that scripts and tests use too:
- `POST /api/login` {"token"} sets the session cookie; any API call may instead send
  `Authorization: Bearer TOKEN`.
- `GET /api/next`: the judge's open debate (or a new one), as far as it has read.
- `POST /api/continue` {"debate", "probabilities": [pA, pB]}: the probability after the rounds
  read, then the next round.
- `POST /api/verdicts` {"debate", "probabilities": [pA, pB], "explanation"}: the verdict.
- `GET /api/record`: the judge's own record; `GET /admin` (admin tokens): progress and results.
Every POST needs a JSON body and the header `X-Debate-Client: 1` (a cross-site form cannot
send either without a preflight the server never grants); every response carries a strict
Content-Security-Policy (scripts from this server only, no inline script)."""
from __future__ import annotations

import json
import math
import os
import random
import re
import threading

import jinja2
import numpy as np
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from debate import metrics
from experiments.common import human_db
from experiments.common.human_sources import Debate

TURN_PENALTY = 0.05   # log-score points per round read after the first (the NYU app's trade-off)
MAX_BODY = 64 * 1024  # bytes of one request
MAX_EXPLANATION = 5000
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
HERE = os.path.dirname(os.path.abspath(__file__))
ID = re.compile(r"[0-9a-f]{16}")


class Bad(Exception):
  def __init__(self, status: int, message: str):
    super().__init__(message)
    self.status, self.message = status, message


def score(p_true: float, rounds_read: int) -> float:
  return math.log(p_true) - TURN_PENALTY * (rounds_read - 1)


def _probabilities(body: dict) -> list[float]:
  p = body.get("probabilities")
  if not (isinstance(p, list) and len(p) == 2 and all(
      isinstance(x, int) and not isinstance(x, bool) for x in p)):
    raise Bad(422, f"probabilities={str(p)[:40]}; allowed: two whole percentages [A, B]")
  if not all(1 <= x <= 99 for x in p) or sum(p) != 100:
    raise Bad(422, f"probabilities={p}; allowed: each 1-99, summing to 100")
  return [x / 100 for x in p]


def create_app(workdir: str, debates: list[Debate], problems: list[str] = (),
               seed: int = 0) -> Starlette:
  store = human_db.Store(os.path.join(workdir, "judging.sqlite"))
  by_id = {d.id: d for d in debates}
  env = jinja2.Environment(loader=jinja2.FileSystemLoader(os.path.join(HERE, "human_templates")),
                           autoescape=True)

  def page(template: str, status: int = 200, **ctx) -> HTMLResponse:
    return HTMLResponse(env.get_template(template).render(**ctx), status)

  def judge_of(request: Request):
    auth = request.headers.get("authorization", "")
    token = auth[7:] if auth.lower().startswith("bearer ") else request.cookies.get("judge")
    return store.judge_for(token)

  async def body_of(request: Request) -> dict:
    if request.headers.get("x-debate-client") != "1":
      raise Bad(403, "missing header X-Debate-Client: 1 (cross-site requests are refused)")
    if not request.headers.get("content-type", "").startswith("application/json"):
      raise Bad(415, "allowed: a JSON body (Content-Type: application/json)")
    raw = await request.body()
    if len(raw) > MAX_BODY:
      raise Bad(413, f"request of {len(raw):,} bytes; allowed: at most {MAX_BODY:,}")
    try:
      body = json.loads(raw)
    except ValueError:
      raise Bad(400, "the body is not JSON") from None
    if not isinstance(body, dict):
      raise Bad(400, "allowed: a JSON object")
    return body

  def served_view(judge, row) -> dict:
    d = by_id[row["debate_id"]]
    view = d.served(row["rounds_read"])
    if row["swap"]:  # the answers in the order this judge sees them; sides renamed to match
      view["answers"] = view["answers"][::-1]
      view["rounds"] = [[{**s, "side": 1 - s["side"]} for s in r] for r in view["rounds"]]
    view["steps"] = json.loads(row["steps"])
    return view

  def debate_for(judge, body: dict):
    debate_id = body.get("debate")
    if not isinstance(debate_id, str) or not ID.fullmatch(debate_id):
      raise Bad(400, f"debate={str(debate_id)[:40]!r}; allowed: a 16-hex-digit debate id")
    if debate_id not in by_id:
      raise Bad(404, f"debate {debate_id} is not served here")
    row = store.served(judge["id"], debate_id)
    if row is None:
      raise Bad(403, f"debate {debate_id} was not served to you")
    return by_id[debate_id], row

  def handle(fn):
    async def endpoint(request: Request):
      judge = judge_of(request)
      try:
        if judge is None and fn.__name__ != "login":
          raise Bad(401, "unknown or missing token")
        return await fn(request, judge)
      except Bad as e:
        return JSONResponse({"error": e.message}, e.status)
    return endpoint

  @handle
  async def login(request, judge):
    body = await body_of(request)
    j = store.judge_for(body.get("token") if isinstance(body.get("token"), str) else None)
    if j is None:
      raise Bad(401, "unknown token")
    resp = JSONResponse({"name": j["name"]})
    resp.set_cookie("judge", body["token"], httponly=True, samesite="strict")
    return resp

  @handle
  async def next_debate(request, judge):
    row = store.open_debate(judge["id"])
    if row is None:
      seen = store.stories_seen(judge["id"])
      done = store.decided_debates()
      fresh = [d for d in debates if d.story not in seen]
      if not fresh:
        return JSONResponse({"done": True, "message": "no debate left over a story you have "
                                                      "not read"})
      rng = random.Random(f"{seed}/{judge['id']}/{len(seen)}")
      fewest = [d for d in fresh if d.id not in done] or fresh  # spread verdicts over debates
      pick = fewest[rng.randrange(len(fewest))]
      store.serve(judge["id"], pick.id, pick.story, rng.random() < 0.5)
      row = store.open_debate(judge["id"])
    return JSONResponse(served_view(judge, row))

  @handle
  async def advance(request, judge):
    body = await body_of(request)
    p = _probabilities(body)
    d, row = debate_for(judge, body)
    if store.verdicts_for(judge["id"], d.id):
      raise Bad(409, "this debate is already decided")
    if store.advance(judge["id"], d.id, p[0], len(d.rounds)) is None:
      raise Bad(409, "no round left: decide")
    return JSONResponse(served_view(judge, store.served(judge["id"], d.id)))

  @handle
  async def verdict(request, judge):
    body = await body_of(request)
    p = _probabilities(body)
    text = body.get("explanation")
    if not isinstance(text, str) or not text.strip():
      raise Bad(422, "explanation: required (why this answer)")
    if len(text) > MAX_EXPLANATION:
      raise Bad(422, f"explanation of {len(text):,} characters; allowed: at most "
                     f"{MAX_EXPLANATION:,}")
    d, row = debate_for(judge, body)
    p_answers = p[::-1] if row["swap"] else p  # back to the source's answer order
    p_true = p_answers[d.true_option]
    steps = json.loads(row["steps"]) + [p[0]]
    s = score(p_true, row["rounds_read"])
    shown_true = d.true_option if not row["swap"] else 1 - d.true_option
    if not store.add_verdict(judge["id"], d.id, p_answers, p_true, row["rounds_read"], steps,
                             shown_true == 0, s, text.strip()):
      raise Bad(409, "this debate is already decided")
    return JSONResponse({"correct": p_true > 0.5, "true_answer": "AB"[shown_true],
                         "score": round(s, 4), "record": record_of(judge)})

  def record_of(judge) -> dict:
    rows = store.verdicts(judge["id"])
    p = np.array([r["p_true"] for r in rows])
    return {"verdicts": len(rows), "accuracy": float((p > 0.5).mean()) if len(p) else None,
            "log_score": float(np.mean(np.log(p))) if len(p) else None,
            "score": float(sum(r["score"] for r in rows)),
            "calibration": calibration(p)}

  @handle
  async def record(request, judge):
    return JSONResponse(record_of(judge))

  async def home(request: Request):
    judge = judge_of(request)
    if judge is None:
      return page("login.html", problems=[])
    return page("judge.html", name=judge["name"])

  async def admin(request: Request):
    judge = judge_of(request)
    if judge is None or not judge["admin"]:
      return page("login.html", 403, problems=["an admin token is needed for this page"])
    return page("admin.html", judges=store.judges(), table=results_table(store, by_id),
                problems=problems, debates=len(debates),
                stories=len({d.story for d in debates}))

  async def plot(request: Request):
    judge = judge_of(request)
    if judge is None or not judge["admin"]:
      return JSONResponse({"error": "an admin token is needed"}, 403)
    which = request.path_params["which"]
    if which not in PLOTS:
      return JSONResponse({"error": f"plot {which[:20]!r}; allowed: {sorted(PLOTS)}"}, 404)
    return Response(PLOTS[which](store, by_id), media_type="image/png")

  async def logout(request: Request):
    resp = RedirectResponse("/", 303)
    resp.delete_cookie("judge")
    return resp

  app = Starlette(routes=[
      Route("/", home), Route("/admin", admin), Route("/logout", logout),
      Route("/admin/{which}.png", plot),
      Route("/api/login", login, methods=["POST"]), Route("/api/next", next_debate),
      Route("/api/continue", advance, methods=["POST"]),
      Route("/api/verdicts", verdict, methods=["POST"]), Route("/api/record", record),
      Mount("/static", StaticFiles(directory=os.path.join(HERE, "human_static")), name="static"),
  ])

  app.state.store = store
  return SecurityHeaders(app)


class SecurityHeaders:
  """ASGI wrapper: every HTTP response gets the Content-Security-Policy and friends."""
  HEADERS = [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
             (b"referrer-policy", b"no-referrer")]

  def __init__(self, app):
    self.app = app
    self.state = app.state

  async def __call__(self, scope, receive, send):
    if scope["type"] != "http":
      return await self.app(scope, receive, send)

    async def send_with_headers(message):
      if message["type"] == "http.response.start":
        message = {**message, "headers": list(message.get("headers", [])) + self.HEADERS}
      await send(message)
    await self.app(scope, receive, send_with_headers)


def calibration(p_true: np.ndarray, bins: int = 5) -> list[dict]:
  """Per bin of the judge's confidence in its chosen answer: how often it was right."""
  if not len(p_true):
    return []
  conf = np.maximum(p_true, 1 - p_true)
  right = p_true > 0.5
  edges = np.linspace(0.5, 1.0, bins + 1)
  out = []
  for lo, hi in zip(edges[:-1], edges[1:]):
    sel = (conf >= lo) & ((conf < hi) | (hi == 1.0))
    if sel.any():
      out.append({"confidence": float(conf[sel].mean()), "accuracy": float(right[sel].mean()),
                  "n": int(sel.sum())})
  return out


_PLOT_LOCK = threading.Lock()  # matplotlib's state is global; requests run in threads


def _png(draw) -> bytes:
  import io as _io

  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  with _PLOT_LOCK:
    fig, ax = plt.subplots(figsize=(5, 3.4))
    draw(ax)
    fig.tight_layout()
    buf = _io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
  return buf.getvalue()


def accuracy_png(store, by_id) -> bytes:
  """People's accuracy per protocol and setting, with Wilson 95% intervals."""
  table = results_table(store, by_id)

  def draw(ax):
    names = [f"{r['protocol']}\n{r['setting']}" for r in table]
    acc = [r["accuracy"] for r in table]
    err = [[a - r["ci95"][0] for a, r in zip(acc, table)],
           [r["ci95"][1] - a for a, r in zip(acc, table)]]
    ax.bar(range(len(table)), acc, yerr=err, capsize=4)
    ax.axhline(0.5, color="gray", ls="--", lw=0.8)
    ax.set_xticks(range(len(table)), names, fontsize=7)
    ax.set_ylim(0, 1)
    ax.set_ylabel("people's accuracy (95% CI)")
  return _png(draw)


def calibration_png(store, by_id) -> bytes:
  """How often people were right at each confidence."""
  bins = calibration(np.array([r["p_true"] for r in store.verdicts()]))

  def draw(ax):
    ax.plot([0.5, 1], [0.5, 1], color="gray", ls="--", lw=0.8)
    ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], "o-")
    for b in bins:
      ax.annotate(str(b["n"]), (b["confidence"], b["accuracy"]), fontsize=7)
    ax.set_xlabel("confidence in the chosen answer")
    ax.set_ylabel("right")
  return _png(draw)


def rounds_png(store, by_id) -> bytes:
  """The mean probability on the true answer after each round read, per protocol."""
  curves: dict[str, list[list[float]]] = {}
  for r in store.verdicts():
    d = by_id.get(r["debate_id"])
    if d is None:
      continue
    for k, p in enumerate(json.loads(r["steps"])):  # P(the answer shown first) per round
      curves.setdefault(d.protocol, []).append((k, p if r["first_is_true"] else 1 - p))

  def draw(ax):
    for name, pts in sorted(curves.items()):
      ks = sorted({k for k, _ in pts})
      ax.plot([k + 1 for k in ks], [np.mean([p for kk, p in pts if kk == k]) for k in ks], "o-",
              label=name)
    ax.axhline(0.5, color="gray", ls="--", lw=0.8)
    ax.set_xlabel("rounds read")
    ax.set_ylabel("mean P(true answer)")
    ax.legend(fontsize=7)
  return _png(draw)


PLOTS = {"accuracy": accuracy_png, "calibration": calibration_png, "rounds": rounds_png}


def results_table(store, by_id: dict) -> list[dict]:
  """Human judges' accuracy per protocol and setting, with Wilson intervals."""
  groups: dict[tuple, list[float]] = {}
  for r in store.verdicts():
    d = by_id.get(r["debate_id"])
    if d is not None:
      groups.setdefault((d.protocol, d.setting), []).append(r["p_true"])
  out = []
  for (protocol, setting), p in sorted(groups.items()):
    right = int(sum(x > 0.5 for x in p))
    lo, hi = metrics.wilson_ci(right, len(p))
    out.append({"protocol": protocol, "setting": setting, "n": len(p),
                "accuracy": right / len(p), "ci95": [lo, hi]})
  return out


def export_rows(store, by_id: dict) -> list[dict]:
  """Every verdict as a row `judges.base.RecordedJudge.from_jsonl` reads (the source's protocol,
  example and debate id; P of each answer in the source's order), with the judge's name."""
  out = []
  for r in store.verdicts():
    d = by_id.get(r["debate_id"])
    if d is None:
      continue
    protocol, example, debate_id = d.key
    out.append({"protocol": protocol, "example": example, "debate_id": debate_id,
                "probs": json.loads(r["p_answers"]), "judge": r["name"], "setting": d.setting,
                "rounds_read": r["rounds_read"], "steps": json.loads(r["steps"]),
                "explanation": r["explanation"], "score": r["score"]})
  return out
