// The judging page's client: every text from the server is set with textContent (never parsed as
// HTML), and every POST is JSON with the X-Debate-Client header the server requires.
"use strict";

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

async function call(method, path, body) {
  const opts = {method, headers: {"X-Debate-Client": "1"}, credentials: "same-origin"};
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch(path, opts);
  const data = await resp.json();
  if (!resp.ok) throw new Error(data.error || resp.statusText);
  return data;
}

let current = null;

function showDebate(d) {
  current = d;
  document.getElementById("result").hidden = true;
  document.getElementById("controls").hidden = false;
  document.getElementById("error").textContent = "";
  document.getElementById("question").textContent = d.question;
  document.getElementById("answer-a").textContent = "A: " + d.answers[0];
  document.getElementById("answer-b").textContent = "B: " + d.answers[1];
  const rounds = document.getElementById("rounds");
  rounds.replaceChildren();
  d.rounds.forEach((speeches, r) => {
    rounds.appendChild(el("div", "round-head", "Round " + (r + 1) +
      (d.steps[r] !== undefined ? " (you said A: " + Math.round(100 * d.steps[r]) + "%)" : "")));
    speeches.forEach((s) => {
      const box = el("div", "speech side-" + s.side);
      box.appendChild(el("strong", null, "Debater " + "AB"[s.side] + " (for " + "AB"[s.side] + "): "));
      s.parts.forEach((p) => {
        if (p.quote !== undefined) {
          box.appendChild(el("span", "quote " + (p.verified ? "verified" : "unverified"), p.quote));
        } else {
          box.appendChild(document.createTextNode(" " + p.text + " "));
        }
      });
      rounds.appendChild(box);
    });
  });
  document.getElementById("next-round").disabled = d.rounds.length >= d.total_rounds;
}

function probabilities() {
  const a = parseInt(document.getElementById("slider").value, 10);
  return [a, 100 - a];
}

async function loadNext() {
  const d = await call("GET", "/api/next");
  if (d.done) {
    document.getElementById("debate").replaceChildren(el("p", null, d.message));
    return;
  }
  showDebate(d);
  await showRecord();
}

async function showRecord(rec) {
  rec = rec || await call("GET", "/api/record");
  const pct = (x) => x === null ? "-" : (100 * x).toFixed(1) + "%";
  document.getElementById("record").textContent = rec.verdicts + " verdicts; accuracy " +
    pct(rec.accuracy) + "; log score " + (rec.log_score === null ? "-" : rec.log_score.toFixed(3)) +
    "; total score " + rec.score.toFixed(3);
  const body = document.querySelector("#calibration tbody");
  body.replaceChildren();
  rec.calibration.forEach((b) => {
    const tr = el("tr");
    [pct(b.confidence), pct(b.accuracy), String(b.n)].forEach((t) => tr.appendChild(el("td", null, t)));
    body.appendChild(tr);
  });
}

function wire() {
  const login = document.getElementById("login");
  if (login) {
    login.addEventListener("click", async () => {
      try {
        await call("POST", "/api/login", {token: document.getElementById("token").value});
        window.location.assign("/");
      } catch (e) {
        document.getElementById("login-error").textContent = e.message;
      }
    });
    return;
  }
  const slider = document.getElementById("slider");
  slider.addEventListener("input", () => { document.getElementById("p-out").textContent = slider.value; });
  document.getElementById("next-round").addEventListener("click", async () => {
    try {
      showDebate(await call("POST", "/api/continue", {debate: current.id, probabilities: probabilities()}));
    } catch (e) { document.getElementById("error").textContent = e.message; }
  });
  document.getElementById("decide").addEventListener("click", async () => {
    try {
      const r = await call("POST", "/api/verdicts", {debate: current.id, probabilities: probabilities(),
                                                     explanation: document.getElementById("explanation").value});
      document.getElementById("controls").hidden = true;
      document.getElementById("result").hidden = false;
      document.getElementById("result-head").textContent = (r.correct ? "Right" : "Wrong") +
        ": the answer was " + r.true_answer + ".";
      document.getElementById("result-score").textContent = "Score " + r.score.toFixed(3) +
        " (log of your probability on the answer, minus 0.05 per extra round).";
      document.getElementById("explanation").value = "";
      await showRecord(r.record);
    } catch (e) { document.getElementById("error").textContent = e.message; }
  });
  document.getElementById("another").addEventListener("click", loadNext);
  loadNext().catch((e) => { document.getElementById("error").textContent = e.message; });
}

document.addEventListener("DOMContentLoaded", wire);
