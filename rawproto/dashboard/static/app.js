// rawproto dashboard: the same feed over short polling, long polling and a
// WebSocket. Plain JavaScript, no library, no build step.
"use strict";

const CLIENT = "p" + Math.random().toString(36).slice(2, 10);
const KEEP = 1000; // latencies kept for p50/p99
let cfg = null;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => Date.now();

function quantile(sorted, q) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

// Exponential backoff with jitter: base·2^(n-1), capped, then a random
// 50–100 % of it, so that a thousand pages do not reconnect in step.
function backoff(attempt, base = 250, cap = 8000) {
  const d = Math.min(cap, base * 2 ** Math.max(0, attempt - 1));
  return d * (0.5 + Math.random() * 0.5);
}

// fetch with a timeout (ms); null = wait forever, as a naive client does.
async function fetchT(url, timeout, panel, opts = {}) {
  const ctl = new AbortController();
  panel.abort = () => ctl.abort();
  const timer = timeout == null ? null : setTimeout(() => ctl.abort(), timeout);
  try {
    const r = await fetch(url, { ...opts, signal: ctl.signal, cache: "no-store" });
    if (!r.ok) throw new Error("HTTP " + r.status);
    return await r.json();
  } finally {
    if (timer) clearTimeout(timer);
    panel.abort = null;
  }
}

class Panel {
  constructor(name) {
    this.name = name;
    this.root = document.getElementById(name);
    const body = document.getElementById("panel-body").content.cloneNode(true);
    this.root.querySelector(".panel-body").appendChild(body);
    this.el = {};
    for (const e of this.root.querySelectorAll("[data-k]")) this.el[e.dataset.k] = e;
    this.canvas = this.root.querySelector("canvas");
    this.fixBox = this.root.querySelector(".fix input");
    this.fixBox.addEventListener("change", () => { if (this.abort) this.abort(); });
    this.received = 0;
    this.missed = 0;
    this.duplicates = 0;
    this.lastSeq = null;
    this.seqs = []; // the last sequence numbers seen, for the tests
    this.lat = [];
    this.values = [];
    this.gaps = []; // {t, n}
    this.troubles = []; // {t, what}
    this.state = "starting";
    this.attempt = 0;
    this.lastCode = null;
    this.server = null; // counts from /stats
    this.abort = null;
  }
  get fix() { return this.fixBox.checked; }
  after() { return this.fix && this.lastSeq !== null ? `&after=${this.lastSeq}` : ""; }
  onUpdates(updates) {
    const t = now();
    for (const u of updates) {
      if (this.lastSeq !== null && u.seq <= this.lastSeq) { this.duplicates++; continue; }
      if (this.lastSeq !== null && u.seq > this.lastSeq + 1) {
        const n = u.seq - this.lastSeq - 1;
        this.missed += n;
        this.gaps.push({ t, n });
      }
      this.lastSeq = u.seq;
      this.received++;
      this.seqs.push(u.seq);
      if (this.seqs.length > 5000) this.seqs.shift();
      this.lat.push(t - u.t);
      if (this.lat.length > KEEP) this.lat.shift();
      this.values.push(u.value);
      if (this.values.length > 120) this.values.shift();
    }
    if (updates.length) this.el.value.textContent = updates[updates.length - 1].value;
  }
  trouble(what) {
    this.troubles.push({ t: now(), what });
    if (this.troubles.length > 200) this.troubles.shift();
  }
  setState(text, level) {
    this.state = text;
    this.el.state.textContent = text;
    this.el.state.className = "state " + level;
  }
  latency() {
    const s = [...this.lat].sort((a, b) => a - b);
    return { p50: quantile(s, 0.5), p99: quantile(s, 0.99) };
  }
  // What each fault cost this panel: when it noticed, and what it lost.
  faultReports(faults, serverCloses) {
    return faults.map((f, i) => {
      const end = i + 1 < faults.length ? faults[i + 1].t : Infinity;
      const tr = this.troubles.find((x) => x.t >= f.t && x.t < end);
      const lost = this.gaps.filter((g) => g.t >= f.t && g.t < end).reduce((a, g) => a + g.n, 0);
      const kind = f.kind === "idle-kill" && !f.seconds ? "idle-kill off" : f.kind;
      const rep = { kind, t: f.t, noticed: tr ? (tr.t - f.t) / 1000 : null, lost,
        how: tr ? tr.what : null };
      if (this.name === "ws") {
        const sc = serverCloses.find((c) => c.t >= f.t && c.t < end && c.client === CLIENT);
        if (sc) rep.server = { code: sc.code, noticed: (sc.t - f.t) / 1000 };
      }
      return rep;
    });
  }
  render(faults, serverCloses) {
    const e = this.el;
    e.received.textContent = this.received;
    e.missed.textContent = this.missed;
    const { p50, p99 } = this.latency();
    e.p50.textContent = p50 == null ? "–" : p50.toFixed(0);
    e.p99.textContent = p99 == null ? "–" : p99.toFixed(0);
    const s = this.server;
    if (s) {
      e.requests.textContent = s.requests;
      e.connections.textContent = s.connections;
      e.up.textContent = s.updates ? Math.round(s.bytes_up / s.updates) : "–";
      e.down.textContent = s.updates ? Math.round(s.bytes_down / s.updates) : "–";
    }
    this.reports = this.faultReports(faults, serverCloses);
    e.faults.replaceChildren(...this.reports.slice(-6).map((r) => {
      const li = document.createElement("li");
      const noticed = r.noticed == null
        ? (r.kind !== "restart" && r.kind !== "blackhole" ? "nothing to notice" : "not noticed (yet)")
        : `noticed after ${r.noticed.toFixed(2)} s (${r.how})`;
      li.innerHTML = `<b>${r.kind}</b>: ${noticed}; lost <span class="${r.lost ? "lost" : ""}">${r.lost}</span>`
        + (r.server ? `; the server closed it (${r.server.code === 1011 ? "1011, its heartbeat" : r.server.code}) after ${r.server.noticed.toFixed(2)} s` : "");
      return li;
    }));
    this.draw();
  }
  draw() {
    const c = this.canvas, g = c.getContext("2d"), v = this.values;
    g.clearRect(0, 0, c.width, c.height);
    if (v.length < 2) return;
    const lo = Math.min(...v), hi = Math.max(...v), span = hi - lo || 1;
    g.strokeStyle = "#0969da";
    g.lineWidth = 1.5;
    g.beginPath();
    v.forEach((y, i) => {
      const px = (i / (v.length - 1)) * (c.width - 4) + 2;
      const py = c.height - 4 - ((y - lo) / span) * (c.height - 8);
      i ? g.lineTo(px, py) : g.moveTo(px, py);
    });
    g.stroke();
  }
}

const panels = {};

// Short polling: ask every N ms, whether or not there is news.
async function shortPolling(p) {
  for (;;) {
    const started = now();
    const every = Math.max(50, Number(document.getElementById("poll-ms").value) || 1000);
    try {
      // The fix: resume (after=seq) and give up on a request that hangs.
      const j = await fetchT(`/poll?client=${CLIENT}${p.after()}`,
        p.fix ? Math.max(2000, 2 * every) : null, p);
      p.onUpdates(j.updates);
      p.attempt = 0;
      p.setState("polling", "ok");
    } catch (err) {
      p.attempt++;
      p.trouble(err.name === "AbortError" ? "request timed out" : "request failed");
      p.setState(`retrying (attempt ${p.attempt})`, "warn");
      await sleep(backoff(p.attempt));
    }
    await sleep(Math.max(0, every - (now() - started)));
  }
}

// Long polling: the server holds the request until there is news.
async function longPolling(p) {
  for (;;) {
    try {
      p.setState("waiting (request held)", "ok");
      const j = await fetchT(`/longpoll?client=${CLIENT}${p.after()}`,
        p.fix ? (cfg.long_poll_timeout + 2) * 1000 : null, p);
      p.onUpdates(j.updates);
      p.attempt = 0;
    } catch (err) {
      p.attempt++;
      p.trouble(err.name === "AbortError" ? "request timed out" : "request failed");
      p.setState(`reconnecting (attempt ${p.attempt})`, "warn");
      await sleep(p.fix ? backoff(p.attempt) : 1000);
    }
  }
}

// WebSocket: the server pushes; the page watches for silence (browsers can
// neither send nor see pings), reconnects with backoff and jitter, and
// resumes from the last sequence number it saw.
function webSocket(p) {
  let timer = null;
  const ws = new WebSocket(`ws://${location.host}/ws?client=${CLIENT}${p.after()}`);
  p.ws = ws;
  const giveUp = (why, code) => {
    if (p.ws !== ws) return; // already replaced
    clearTimeout(timer);
    p.ws = null;
    p.lastCode = code;
    p.trouble(why);
    p.attempt++;
    const wait = p.fix ? backoff(p.attempt) : 1000;
    p.setState(`reconnecting (attempt ${p.attempt}, last close code ${code})`, "warn");
    setTimeout(() => webSocket(p), wait);
  };
  const arm = () => {
    clearTimeout(timer);
    if (p.fix) {
      timer = setTimeout(() => {
        // Half-open: no FIN will ever come. Walk away; do not wait for close().
        try { ws.close(4000, "silence"); } catch (e) { /* ignore */ }
        giveUp(`silence for ${cfg.silence} s`, "none (silence)");
      }, cfg.silence * 1000);
    }
  };
  ws.onopen = () => {
    p.attempt = 0;
    p.setState("connected", "ok");
    arm();
  };
  ws.onmessage = (e) => {
    arm();
    const m = JSON.parse(e.data);
    if (m.type === "update") p.onUpdates([m]);
    else if (m.type === "heartbeat") p.lastHeartbeat = now();
  };
  ws.onclose = (e) => giveUp(`closed ${e.code}`, e.code);
}

let faults = [], serverCloses = [], proxyStats = {};

async function stats() {
  for (;;) {
    try {
      const s = await fetchT(`/stats?client=${CLIENT}`, 3000, {});
      document.getElementById("feed-seq").textContent = s.seq;
      const bits = [];
      if (s.paused) bits.push("hiccup: the feed is paused");
      if (s.refusing) bits.push("restarting: refusing connections");
      if (s.idle_kill) bits.push(`idle-kill at ${s.idle_kill} s`);
      // Note: Chrome silently retries a request whose reused keep-alive
      // connection closed before any response byte, so a cut may not show
      // in the long-poll panel: the proxy's own count tells.
      if (s.proxy.idle_killed) bits.push(`${s.proxy.idle_killed} idle connections cut`);
      proxyStats = s.proxy;
      document.getElementById("server-state").textContent = bits.join(" · ");
      for (const name of ["short", "long", "ws"]) panels[name].server = s.transports[name];
      faults = s.faults;
      serverCloses = s.server_closes;
    } catch (err) { /* the server may be restarting */ }
    await sleep(1000);
  }
}

function render() {
  for (const p of Object.values(panels)) p.render(faults, serverCloses);
}

async function fault(kind) {
  const q = { hiccup: `kind=hiccup&seconds=${document.getElementById("hiccup-s").value}`,
    restart: `kind=restart&seconds=${document.getElementById("restart-s").value}`,
    blackhole: "kind=blackhole",
    "idle-kill": `kind=idle-kill&seconds=${document.getElementById("idle-s").value}`,
    "idle-off": "kind=idle-kill&seconds=0" }[kind];
  const log = document.getElementById("lab-log");
  try {
    const r = await fetchT(`/fault?client=${CLIENT}&${q}`, 5000, {}, { method: "POST" });
    log.textContent = `${r.kind} ${r.scheduled ? "under way" : "injected"}`
      + (r.affected ? ` (${r.affected} connections)` : "");
  } catch (err) {
    log.textContent = `${kind}: ${err.message}`;
  }
}

async function main() {
  for (let i = 0; i < 100 && !cfg; i++) {
    try { cfg = await fetchT(`/config?client=${CLIENT}`, 3000, {}); } catch (e) { await sleep(500); }
  }
  document.getElementById("feed-name").textContent = cfg.feed;
  document.getElementById("feed-interval").textContent = cfg.interval;
  document.getElementById("poll-ms").value = cfg.poll_every_ms;
  document.querySelector(".lp-timeout").textContent = cfg.long_poll_timeout;
  document.querySelector(".ping").textContent = cfg.ping_interval;
  document.querySelector(".silence").textContent = cfg.silence;
  document.getElementById("hiccup-s").value = cfg.hiccup_seconds;
  document.getElementById("restart-s").value = cfg.down_seconds;
  document.getElementById("idle-s").value = cfg.idle_kill;
  for (const name of ["short", "long", "ws"]) panels[name] = new Panel(name);
  for (const b of document.querySelectorAll("[data-fault]")) {
    b.addEventListener("click", () => fault(b.dataset.fault));
  }
  shortPolling(panels.short);
  longPolling(panels.long);
  webSocket(panels.ws);
  stats();
  setInterval(render, 250);
}

// For tests and the curious: window.dashboard.snapshot() in the console.
window.dashboard = {
  client: CLIENT,
  panels,
  fault,
  snapshot() {
    const out = { client: CLIENT, faults, proxy: proxyStats };
    for (const [name, p] of Object.entries(panels)) {
      out[name] = { state: p.state, received: p.received, missed: p.missed,
        duplicates: p.duplicates, lastSeq: p.lastSeq, seqs: p.seqs.slice(-2000),
        latency: p.latency(), attempt: p.attempt, lastCode: p.lastCode, fix: p.fix,
        server: p.server, troubles: p.troubles.slice(-20),
        reports: p.faultReports(faults, serverCloses) };
    }
    return out;
  },
};

main();
