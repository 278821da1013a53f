"""The judging page: a judge reads a debate round by round and decides; what it is served never
holds the truth, the story or who debated; bad requests are one 4xx line and store nothing; a
story is served to a judge once; a server killed mid-submission loses no acknowledged verdict."""
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

from experiments.common import human_app, human_db, human_sources

EVIL = ['<script>window.pwned=1</script>', '<img src=x onerror="window.pwned=1">',
        'javascript:window.pwned=1', '{{ 7*7 }}']


def _transcripts(path, n=6):
  """A text-debate run's transcripts, every text field holding markup and template syntax."""
  rows = []
  for i in range(n):
    evil = EVIL[i % len(EVIL)]
    rows.append({"protocol": "debate" if i % 3 else "consultancy", "example": i,
                 "question": f"Q{i} {evil}?", "options": [f"red {evil}", "blue"],
                 "true_option": i % 2, "moves": [
                     {"speaker": "honest", "seat": 0, "argues_option": i % 2,
                      "quote": f"The hat is red {evil}.", "verified": True},
                     {"speaker": "liar", "seat": 1, "argues_option": 1 - i % 2,
                      "quote": f"Forged {evil}", "verified": False},
                     {"speaker": "honest", "seat": 0, "argues_option": i % 2,
                      "quote": "Later it was blue.", "verified": True},
                     {"speaker": "liar", "seat": 1, "argues_option": 1 - i % 2,
                      "quote": "It was red.", "verified": True}]})
  path.write_text("".join(json.dumps(r) + "\n" for r in rows))
  return str(path)


class Server:
  def __init__(self, workdir, sources):
    import uvicorn
    debates, problems = human_sources.load(sources)
    self.debates = {d.id: d for d in debates}
    self.problems = problems
    self.app = human_app.create_app(str(workdir), debates, problems)
    with socket.socket() as s:
      s.bind(("127.0.0.1", 0))
      self.port = s.getsockname()[1]
    self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port,
                                                log_level="warning"))
    self.thread = threading.Thread(target=self.server.run, daemon=True)
    self.thread.start()
    while not self.server.started:
      time.sleep(0.05)
    self.url = f"http://127.0.0.1:{self.port}"

  def stop(self):
    self.server.should_exit = True
    self.thread.join(10)


def call(url, method="GET", body=None, token=None, headers=None, raw=None):
  h = {"X-Debate-Client": "1"} if headers is None else dict(headers)
  if token:
    h["Authorization"] = f"Bearer {token}"
  data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
  if data is not None:
    h.setdefault("Content-Type", "application/json")
  req = urllib.request.Request(url, data=data, method=method, headers=h)
  try:
    with urllib.request.urlopen(req, timeout=10) as r:
      return r.status, json.loads(r.read() or b"null"), r.headers
  except urllib.error.HTTPError as e:
    return e.code, json.loads(e.read() or b"null"), e.headers


@pytest.fixture()
def served(tmp_path):
  src = _transcripts(tmp_path / "transcripts.jsonl")
  srv = Server(tmp_path / "w", [src])
  yield srv, human_db.Store(str(tmp_path / "w" / "judging.sqlite"))
  srv.stop()


def test_a_judge_reads_round_by_round_decides_and_nothing_hidden_is_served(served):
  srv, store = served
  token = store.add_judge("alice")
  status, d, headers = call(srv.url + "/api/next", token=token)
  assert status == 200 and "script-src 'self'" in headers["Content-Security-Policy"]
  assert len(d["rounds"]) == 1 and d["total_rounds"] >= 1
  text = json.dumps(d)
  for hidden in ("true_option", "honest", "liar", "speaker", "source", "setting", "story"):
    assert hidden not in text, hidden
  debate = srv.debates[d["id"]]
  if len(debate.rounds) > 1:
    status, d2, _ = call(srv.url + "/api/continue", "POST",
                         {"debate": d["id"], "probabilities": [70, 30]}, token)
    assert status == 200 and len(d2["rounds"]) == 2 and d2["steps"] == [0.7]
  status, v, _ = call(srv.url + "/api/verdicts", "POST",
                      {"debate": d["id"], "probabilities": [80, 20], "explanation": "A quoted"},
                      token)
  assert status == 200
  row = store.verdicts()[0]
  # The stored probabilities are in the source's answer order, whatever order the judge saw.
  p_answers = json.loads(row["p_answers"])
  assert abs(row["p_true"] - p_answers[debate.true_option]) < 1e-9
  assert v["correct"] == (row["p_true"] > 0.5) and v["record"]["verdicts"] == 1
  assert abs(v["score"] - (human_app.score(row["p_true"], row["rounds_read"]))) < 1e-3
  # A second verdict on the same debate is refused; the next debate is over another story.
  assert call(srv.url + "/api/verdicts", "POST", {"debate": d["id"], "probabilities": [50, 50],
                                                   "explanation": "again"}, token)[0] == 409
  stories = {srv.debates[d["id"]].story}
  for _ in range(len(srv.debates) - 1):
    status, nxt, _ = call(srv.url + "/api/next", token=token)
    if nxt.get("done"):
      break
    assert srv.debates[nxt["id"]].story not in stories
    stories.add(srv.debates[nxt["id"]].story)
    call(srv.url + "/api/verdicts", "POST", {"debate": nxt["id"], "probabilities": [60, 40],
                                             "explanation": "x"}, token)
  assert call(srv.url + "/api/next", token=token)[1]["done"]
  # Exported verdicts read back as a judge, keyed by the source's own games.
  from judges.base import RecordedJudge
  rows = human_app.export_rows(store, srv.debates)
  path = os.path.join(os.path.dirname(store.path), "verdicts.jsonl")
  with open(path, "w") as f:
    f.writelines(json.dumps(r) + "\n" for r in rows)
  human = RecordedJudge.from_jsonl(path, name="human")
  src_rows = [json.loads(x) for x in open(list(srv.debates.values())[0].source)]
  probs = human.probs(src_rows)
  assert probs.shape == (len(src_rows), 2)


@pytest.mark.parametrize("body, headers, status, message", [
    ({"probabilities": [0, 100], "explanation": "x"}, None, 422, "each 1-99"),
    ({"probabilities": [60, 30], "explanation": "x"}, None, 422, "summing to 100"),
    ({"probabilities": [50.5, 49.5], "explanation": "x"}, None, 422, "whole percentages"),
    ({"probabilities": [50, 50]}, None, 422, "explanation: required"),
    ({"probabilities": [50, 50], "explanation": "x" * 6000}, None, 422, "at most 5,000"),
    ({"probabilities": [50, 50], "explanation": "x", "debate": "../../etc/passwd"}, None, 400,
     "16-hex-digit"),
    ({"probabilities": [50, 50], "explanation": "x", "debate": "0123456789abcdef"}, None, 404,
     "not served here"),
    ({"probabilities": [50, 50], "explanation": "x"}, {}, 403, "X-Debate-Client"),
    ({"probabilities": [50, 50], "explanation": "x"}, {"X-Debate-Client": "1",
                                                        "Content-Type": "text/plain"}, 415,
     "JSON body"),
])
def test_bad_verdicts_are_one_4xx_line_and_store_nothing(served, body, headers, status, message):
  srv, store = served
  token = store.add_judge("bob")
  _, d, _ = call(srv.url + "/api/next", token=token)
  body = {"debate": d["id"], **body}
  got, reply, _ = call(srv.url + "/api/verdicts", "POST", body, token, headers=headers)
  assert got == status and message in reply["error"] and "\n" not in reply["error"]
  assert store.verdicts() == []


def test_tokens_requests_and_debates_not_served(served):
  srv, store = served
  a, b = store.add_judge("a"), store.add_judge("b")
  assert call(srv.url + "/api/next", token="nope")[0] == 401
  assert call(srv.url + "/admin/accuracy.png", token=a)[0] == 403  # admins only
  _, da, _ = call(srv.url + "/api/next", token=a)
  status, reply, _ = call(srv.url + "/api/verdicts", "POST", {"debate": da["id"], "probabilities":
                                                               [50, 50], "explanation": "x"}, b)
  assert status == 403 and "not served to you" in reply["error"]
  big = json.dumps({"debate": da["id"], "probabilities": [50, 50],
                    "explanation": "x" * (5 * 2 ** 20)}).encode()
  status, reply, _ = call(srv.url + "/api/verdicts", "POST", token=a, raw=big)
  assert status == 413
  assert store.verdicts() == []


def test_a_damaged_source_is_one_line_and_the_others_are_served(tmp_path):
  good = _transcripts(tmp_path / "transcripts.jsonl")
  bad = tmp_path / "cut.jsonl"
  bad.write_text(open(good).read()[:-30])
  debates, problems = human_sources.load([good, str(bad), str(tmp_path / "missing")])
  assert len(debates) == 6 and len(problems) == 2
  assert "line 6 is damaged" in problems[0] and "missing" in problems[1]


def test_the_shipped_nyu_rooms_are_served_with_their_rounds():
  debates, problems = human_sources.load(["nyu"])
  assert not problems and len(debates) == 425 and len({d.story for d in debates}) == 78
  d = next(x for x in debates if x.protocol == "debate")
  assert all({s["side"] for s in r} == {0, 1} for r in d.rounds[:1])
  assert any("quote" in p for r in d.rounds for s in r for p in s["parts"])


def _serve_process(workdir, src, port):
  return subprocess.Popen([sys.executable, "-m", "experiments.serve", "--workdir", str(workdir),
                           "--sources", src, "--port", str(port)], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)


def _wait(url):
  for _ in range(200):
    try:
      urllib.request.urlopen(url, timeout=1)
      return
    except Exception:
      time.sleep(0.1)
  raise TimeoutError(url)


def test_kill_9_during_submissions_loses_no_acknowledged_verdict(tmp_path):
  """Judges submit while the server is killed with SIGKILL: every verdict it acknowledged is in
  the database, none is half stored, and a restart on the same workdir resumes."""
  src = _transcripts(tmp_path / "transcripts.jsonl", n=40)
  wd = tmp_path / "w"
  store = human_db.Store(str(wd.mkdir() or wd / "judging.sqlite"))
  tokens = [store.add_judge(f"j{i}") for i in range(8)]
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
  url = f"http://127.0.0.1:{port}"
  proc = _serve_process(wd, src, port)
  _wait(url + "/")
  acknowledged, lock = [], threading.Lock()

  def judge(token):
    for _ in range(40):
      try:
        _, d, _ = call(url + "/api/next", token=token)
        if d.get("done"):
          return
        status, _, _ = call(url + "/api/verdicts", "POST", {"debate": d["id"], "probabilities":
                                                            [60, 40], "explanation": "x"}, token)
        if status == 200:
          with lock:
            acknowledged.append((token, d["id"]))
      except Exception:
        return
  threads = [threading.Thread(target=judge, args=(t,)) for t in tokens]
  for t in threads:
    t.start()
  time.sleep(1.0)
  proc.kill()
  proc.wait()
  for t in threads:
    t.join(15)
  rows = store.verdicts()
  stored = {(r["name"], r["debate_id"]) for r in rows}
  names = {t: f"j{i}" for i, t in enumerate(tokens)}
  assert {(names[t], d) for t, d in acknowledged} <= stored
  assert all(r["explanation"] == "x" and 0 < r["p_true"] < 1 for r in rows)
  # Restarted on the same workdir: the judges go on where they were.
  proc = _serve_process(wd, src, port)
  try:
    _wait(url + "/")
    status, d, _ = call(url + "/api/next", token=tokens[0])
    assert status == 200
    if not d.get("done"):
      assert (names[tokens[0]], d["id"]) not in stored
  finally:
    proc.kill()
    proc.wait()


def _chromium():
  import shutil
  for name in ("chromium", "chromium-browser"):
    if shutil.which(name):
      return shutil.which(name)
  return None


@pytest.mark.skipif(_chromium() is None, reason="Debian's chromium is not installed (.ci/run "
                                                 "installs it)")
def test_a_person_judges_three_debates_in_a_real_browser_and_no_script_runs(served, tmp_path):
  """Headless Chromium: log in, read, ask for a round, set the slider, explain, decide, see the
  result, three times; every stored text holds markup that must stay text. Then the database
  rows and the admin page's results table."""
  playwright = pytest.importorskip("playwright.sync_api")
  srv, store = served
  token = store.add_judge('<img src=x onerror="window.pwned=1">')
  admin = store.add_judge("admin", admin=True)
  with playwright.sync_playwright() as p:
    browser = p.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
    page = browser.new_page()
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(srv.url + "/")
    page.fill("#token", token)
    page.click("#login")
    page.wait_for_selector("#question:not(:empty)")
    for k in range(3):
      page.wait_for_selector("#question:not(:empty)")
      question = page.text_content("#question")
      assert question.startswith("Q") and question.endswith("?")
      if not page.is_disabled("#next-round"):
        rounds = page.locator(".round-head").count()
        page.click("#next-round")
        page.locator(".round-head").nth(rounds).wait_for()  # (the page's CSP forbids eval)
      page.fill("#slider", str(30 + 20 * k))
      page.fill("#explanation", f"verdict {k}: the verified quote")
      page.click("#decide")
      page.wait_for_selector("#result:not([hidden])")
      assert page.text_content("#result-head").split(":")[0] in ("Right", "Wrong")
      assert page.text_content("#record").startswith(f"{k + 1} verdicts")
      # Quotes are shown as highlighted text, markup and all, never as elements.
      assert page.locator(".quote.verified").count() >= 1
      assert page.locator("#rounds img, #rounds script").count() == 0
      page.click("#another")
    assert page.evaluate("window.pwned === undefined") and not dialogs
    assert page.text_content("#judge-name") == '<img src=x onerror="window.pwned=1">'
    page.screenshot(path=str(tmp_path / "debate.png"))
    rows = store.verdicts()
    assert len(rows) == 3 and {r["explanation"] for r in rows} == {
        f"verdict {k}: the verified quote" for k in range(3)}
    # The admin page: progress and the results table, the judge's name escaped.
    page.context.clear_cookies()
    page.goto(srv.url + "/")
    page.fill("#token", admin)
    page.click("#login")
    page.wait_for_selector("#question")
    page.goto(srv.url + "/admin")
    assert page.locator("#results tbody tr").count() >= 1
    assert "3" in page.text_content("#results")
    for which in ("accuracy", "calibration", "rounds"):  # the admin's pictures are PNGs
      resp = page.request.get(srv.url + f"/admin/{which}.png")
      assert resp.status == 200 and resp.body()[:4] == b"\x89PNG"
    page.screenshot(path=str(tmp_path / "results.png"), full_page=True)
    assert page.evaluate("window.pwned === undefined") and not dialogs
    browser.close()


def test_a_bounded_load_test_loses_nothing(tmp_path):
  """10 judges submitting 200 verdicts at once to a server process (the benchmark runs 50 and
  2,000): every acknowledged verdict is in the database, none failed."""
  from experiments.bench.judging import bench_judging
  r = bench_judging(judges=10, verdicts=200, workdir=str(tmp_path))
  assert r["verdicts_acknowledged"] == r["verdicts_stored"] == 200
  assert r["lost"] == 0 and r["errors"] == 0
