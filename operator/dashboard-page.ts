// The dashboard page: plain HTML, CSS and JavaScript in one string, served as is (no build step, no
// external asset, works offline). It polls /dashboard/state.json every two seconds and redraws;
// every value from the cluster goes in as text (textContent), never as markup.
export const DASHBOARD_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Pier dashboard</title>
<style>
  :root { --fg: #1d2330; --muted: #667085; --line: #e4e7ec; --bad: #b42318; --warn: #b54708; --ok: #067647; --accent: #1849a9; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: #f8f9fb; }
  header { display: flex; gap: 16px; align-items: baseline; padding: 14px 24px; background: #fff; border-bottom: 1px solid var(--line); position: sticky; top: 0; }
  header h1 { font-size: 18px; margin: 0; }
  header .meta { color: var(--muted); }
  main { padding: 16px 24px; display: grid; gap: 16px; }
  .tools { display: flex; gap: 12px; flex-wrap: wrap; }
  input[type=search], input[type=text] { padding: 6px 10px; border: 1px solid var(--line); border-radius: 6px; min-width: 280px; font: inherit; }
  button { padding: 6px 12px; border: 1px solid var(--accent); background: var(--accent); color: #fff; border-radius: 6px; font: inherit; cursor: pointer; }
  section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; }
  section h2 { font-size: 15px; margin: 0 0 8px; }
  table { width: 100%; border-collapse: collapse; }
  th, td { text-align: left; padding: 5px 8px; border-top: 1px solid var(--line); vertical-align: top; }
  th { color: var(--muted); font-weight: 600; border-top: none; }
  .mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12.5px; }
  .muted { color: var(--muted); }
  .bad { color: var(--bad); }
  .warn { color: var(--warn); }
  .ok { color: var(--ok); }
  .pill { display: inline-block; padding: 0 6px; border-radius: 10px; background: #eef4ff; color: var(--accent); font-size: 12px; }
  .host { margin-bottom: 14px; }
  .host h3 { font-size: 14px; margin: 8px 0 4px; }
  svg.spark { width: 120px; height: 24px; vertical-align: middle; }
  #answer { margin-left: 8px; }
</style>
</head>
<body>
<header><h1>Pier</h1><span class="meta" id="summary">loading...</span><span class="meta" id="updated"></span></header>
<main>
  <div class="tools">
    <input type="search" id="search" placeholder="Search a host or path" aria-label="Search a host or path">
    <form id="which"><input type="text" id="url" placeholder="Which route would this URL take? host/path" aria-label="URL to match"><button type="submit">Match</button><span id="answer" class="mono"></span></form>
  </div>
  <section id="warnings-section"><h2>Warnings</h2><div id="warnings"></div></section>
  <section><h2>Hosts and routes</h2><div id="hosts"></div><p class="muted">* Per second, from the counters /metrics keeps: per Ingress and Service, so the paths of one Ingress to one Service share them.</p></section>
  <section id="streams-section"><h2>TCP/UDP services and SSL passthrough</h2><div id="streams"></div></section>
</main>
<script>
"use strict";
const POLL_MS = 2000;
const HISTORY = 60;
const history = new Map();
const lastRates = new Map();
let previous = null;
let latest = null;

function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

function routeKey(host, route) { return host + " " + route.path + " " + route.ingress; }
function anchorOf(ingress) { return "ingress-" + ingress.replace(/[^a-z0-9-]/gi, "-"); }

function spark(values) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("viewBox", "0 0 120 24");
  const max = Math.max(1, ...values);
  const points = values.map((value, i) => (i * 120 / Math.max(1, HISTORY - 1)).toFixed(1) + "," + (23 - value * 22 / max).toFixed(1)).join(" ");
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute("points", points);
  line.setAttribute("fill", "none");
  line.setAttribute("stroke", "#1849a9");
  line.setAttribute("stroke-width", "1.5");
  svg.append(line);
  return svg;
}

function rates(host, route, seconds, advance) {
  const key = routeKey(host, route);
  if (!advance) return lastRates.get(key) || { rps: 0, eps: 0, latency: null, points: history.get(key) || [] };
  const before = previous && previous.get(key);
  const traffic = route.traffic;
  let rps = 0, eps = 0, latency = null;
  if (before && seconds > 0) {
    rps = Math.max(0, traffic.requests - before.requests) / seconds;
    eps = Math.max(0, traffic.errors - before.errors) / seconds;
    const count = traffic.latencyCount - before.latencyCount;
    if (count > 0) latency = (traffic.latencySeconds - before.latencySeconds) / count;
  }
  const points = history.get(key) || [];
  points.push(rps);
  while (points.length > HISTORY) points.shift();
  history.set(key, points);
  const rate = { rps, eps, latency, points };
  lastRates.set(key, rate);
  return rate;
}

function matches(filter, host, route) {
  if (!filter) return true;
  const text = (host.host + " " + host.aliases.join(" ") + " " + (route ? route.path + " " + route.ingress + " " + route.backend : "")).toLowerCase();
  return text.includes(filter);
}

function daysLeft(notAfter) {
  return Math.floor((Date.parse(notAfter) - Date.now()) / 86400000);
}

function render(state, seconds, advance) {
  const filter = document.getElementById("search").value.trim().toLowerCase();
  const routes = state.hosts.reduce((sum, host) => sum + host.routes.length, 0);
  document.getElementById("summary").textContent = state.hosts.length + " hosts, " + routes + " routes, " + state.warnings.length + " warnings";
  document.getElementById("updated").textContent = "updated " + new Date(state.generatedAt).toLocaleTimeString();

  const warnings = document.getElementById("warnings");
  warnings.replaceChildren(...(state.warnings.length === 0 ? [el("p", { class: "ok" }, "No warnings.")] : [el("table", {},
    el("thead", {}, el("tr", {}, el("th", {}, "Object"), el("th", {}, "Reason"), el("th", {}, "Message"))),
    el("tbody", {}, ...state.warnings.map((warning) => {
      const name = (warning.namespace ? warning.namespace + "/" : "") + warning.name;
      const object = warning.kind === "Ingress" ? el("a", { href: "#" + anchorOf(name) }, warning.kind + " " + name) : warning.kind + " " + name;
      return el("tr", { "data-warning": warning.reason }, el("td", { class: "mono" }, object), el("td", { class: "warn" }, warning.reason), el("td", {}, warning.message));
    })))]));

  const hosts = document.getElementById("hosts");
  hosts.replaceChildren(...state.hosts.filter((host) => matches(filter, host, null) || host.routes.some((route) => matches(filter, host, route))).map((host) => {
    const certificate = host.certificate ? el("span", { class: daysLeft(host.certificate.notAfter) < 14 ? "bad" : "muted" }, " TLS: " + host.certificate.subject + " from Secret " + host.certificate.secret + ", expires " + host.certificate.notAfter.slice(0, 10) + " (" + daysLeft(host.certificate.notAfter) + " days)") : el("span", { class: "muted" }, " plain HTTP");
    const rows = host.routes.filter((route) => matches(filter, host, route) || matches(filter, host, null)).map((route) => {
      const rate = rates(host.host, route, seconds, advance);
      const endpoints = route.endpoints.length === 0 ? el("span", { class: "bad" }, "none: 503") : route.endpoints.join(", ");
      return el("tr", { "data-route": route.path, id: anchorOf(route.ingress) },
        el("td", { class: "mono" }, route.path), el("td", {}, route.pathType), el("td", { class: "mono" }, route.backend),
        el("td", { class: "mono", "data-endpoints": "" }, endpoints), el("td", { class: "mono" }, route.ingress), el("td", {}, route.policy),
        el("td", { "data-rate": "" }, rate.rps.toFixed(1) + "/s"), el("td", { class: rate.eps > 0 ? "bad" : "muted" }, rate.eps.toFixed(1) + "/s"),
        el("td", { "data-latency": "" }, rate.latency === null ? "-" : (rate.latency * 1000).toFixed(1) + " ms"), el("td", {}, spark(rate.points)));
    });
    return el("div", { class: "host", "data-host": host.host },
      el("h3", {}, host.host, ...host.aliases.map((alias) => el("span", { class: "pill" }, " " + alias)), certificate),
      el("table", {}, el("thead", {}, el("tr", {}, ...["Path", "Type", "Backend", "Endpoints", "Ingress", "Policy", "Requests*", "5xx*", "Latency*", "Requests, last 2 min*"].map((title) => el("th", {}, title)))), el("tbody", {}, ...rows)));
  }));

  const streams = document.getElementById("streams");
  streams.replaceChildren(...(state.streams.length === 0 ? [el("p", { class: "muted" }, "None.")] : [el("table", {},
    el("tbody", {}, ...state.streams.map((stream) => el("tr", {}, el("td", {}, stream.protocol + (stream.port ? " " + stream.port : "")), el("td", { class: "mono" }, stream.backend), el("td", { class: "mono" }, stream.endpoints.join(", ") || "none")))))]));

  if (!advance) return;
  previous = new Map();
  for (const host of state.hosts) for (const route of host.routes) previous.set(routeKey(host.host, route), route.traffic);
}

let lastPollAt = null;
async function poll() {
  try {
    const response = await fetch("/dashboard/state.json", { cache: "no-store" });
    if (response.ok) {
      const now = performance.now();
      latest = await response.json();
      render(latest, lastPollAt === null ? 0 : (now - lastPollAt) / 1000, true);
      lastPollAt = now;
    } else {
      document.getElementById("summary").textContent = "Pier answered " + response.status;
    }
  } catch (error) {
    document.getElementById("summary").textContent = "Pier is not answering: " + error.message;
  }
  setTimeout(poll, POLL_MS);
}

document.getElementById("search").addEventListener("input", () => { if (latest) render(latest, 0, false); });
document.getElementById("which").addEventListener("submit", async (event) => {
  event.preventDefault();
  const url = document.getElementById("url").value;
  const response = await fetch("/dashboard/route?url=" + encodeURIComponent(url), { cache: "no-store" });
  const answer = await response.json();
  document.getElementById("answer").textContent = answer.error ? answer.error : answer.route === null ? answer.host + answer.path + ": no route (404)" : answer.host + answer.path + ": " + answer.route;
});
poll();
</script>
</body>
</html>
`;
