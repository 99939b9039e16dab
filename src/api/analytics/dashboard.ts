/**
 * `GET /analytics`: one HTML page that fetches `/v1/analytics` and draws it with chart.js,
 * served by this app from node_modules (no CDN). When every chart is drawn the page sets
 * `data-ready="true"` on <body> and `data-points` on each canvas, so a headless browser
 * can check that the charts hold data.
 */
import { createRequire } from 'node:module';
import path from 'node:path';

/** The UMD build of chart.js next to the package's main entry. */
export function chartJsFile(): string {
  const main = createRequire(import.meta.url).resolve('chart.js'); // …/chart.js/dist/chart.cjs
  return path.join(path.dirname(main), 'chart.umd.min.js');
}

export const CHART_JS_ROUTE = '/analytics/assets/chart.umd.min.js';

export function dashboardHtml(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>ragspec · speculative decoding analytics</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 16px 24px; color: #1d232a; background: #f7f8fa; }
  h1 { font-size: 20px; margin: 0 0 4px; }
  .sub { color: #5b6570; margin-bottom: 16px; }
  .kpis { display: grid; grid-template-columns: repeat(6, 1fr); gap: 10px; margin-bottom: 16px; }
  .kpi { background: #fff; border: 1px solid #dde2e8; border-radius: 6px; padding: 8px 10px; }
  .kpi b { display: block; font-size: 20px; }
  .grid { display: grid; grid-template-columns: 1fr 1fr; gap: 14px; }
  .card { background: #fff; border: 1px solid #dde2e8; border-radius: 6px; padding: 10px; height: 250px; }
  .card h2 { font-size: 13px; margin: 0 0 6px; }
  .card canvas { max-height: 215px; }
  table { border-collapse: collapse; width: 100%; background: #fff; margin-top: 14px; font-size: 12px; }
  th, td { border-bottom: 1px solid #e6e9ee; padding: 4px 6px; text-align: left; }
  select { font: inherit; }
</style>
</head>
<body data-ready="false">
<h1>ragspec — what speculative decoding is buying</h1>
<div class="sub">Window <select id="window">
  <option value="1h">1 hour</option><option value="24h" selected>24 hours</option>
  <option value="7d">7 days</option><option value="all">all time</option></select>
  · <span id="status">loading…</span></div>
<div class="kpis">
  <div class="kpi">requests<b id="k-requests">–</b></div>
  <div class="kpi">acceptance rate<b id="k-rate">–</b></div>
  <div class="kpi">mean acceptance length<b id="k-mal">–</b></div>
  <div class="kpi">tokens / target forward<b id="k-tpf">–</b></div>
  <div class="kpi">decode tok/s<b id="k-tps">–</b></div>
  <div class="kpi">est. speedup vs plain<b id="k-speedup">–</b></div>
</div>
<div class="grid">
  <div class="card"><h2>Accepted vs draft tokens by draft source</h2><canvas id="c-source"></canvas></div>
  <div class="card"><h2>Acceptance length (tokens emitted per step)</h2><canvas id="c-hist"></canvas></div>
  <div class="card"><h2>Acceptance by draft position</h2><canvas id="c-pos"></canvas></div>
  <div class="card"><h2>Draft tree sizes (nodes per step)</h2><canvas id="c-tree"></canvas></div>
</div>
<table><thead><tr><th>time</th><th>route</th><th>mode</th><th>question</th><th>tokens</th><th>steps</th><th>tokens/step</th><th>decode tok/s</th><th>latency ms</th></tr></thead>
<tbody id="recent"></tbody></table>
<script src="${CHART_JS_ROUTE}"></script>
<script>
(function () {
  Chart.defaults.animation = false;
  var charts = {};
  function fmt(v, d) { return v === null || v === undefined ? '–' : Number(v).toFixed(d); }
  function draw(id, type, labels, datasets, extra) {
    if (charts[id]) charts[id].destroy();
    var canvas = document.getElementById(id);
    charts[id] = new Chart(canvas, { type: type, data: { labels: labels, datasets: datasets },
      options: Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, extra || {}) });
    var points = datasets.reduce(function (n, d) { return n + d.data.filter(function (x) { return x > 0; }).length; }, 0);
    canvas.setAttribute('data-points', String(points));
  }
  function esc(s) { return String(s).replace(/[&<>"]/g, function (c) { return ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'})[c]; }); }
  function render(a) {
    document.getElementById('k-requests').textContent = a.requests;
    document.getElementById('k-rate').textContent = a.acceptance_rate === null ? '–' : fmt(100 * a.acceptance_rate, 1) + '%';
    document.getElementById('k-mal').textContent = fmt(a.mean_acceptance_length, 2);
    document.getElementById('k-tpf').textContent = fmt(a.tokens_per_target_forward, 2);
    document.getElementById('k-tps').textContent = fmt(a.decode_tokens_per_second.mean, 1);
    document.getElementById('k-speedup').textContent = a.estimated_speedup.value === null ? '–' :
      fmt(a.estimated_speedup.value, 2) + '×' + (a.estimated_speedup.method === 'measured_vs_ar' ? '' : ' (bound)');
    var sources = Object.keys(a.by_source);
    draw('c-source', 'bar', sources, [
      { label: 'draft tokens', data: sources.map(function (s) { return a.by_source[s].draft_tokens; }), backgroundColor: '#9fb8d9' },
      { label: 'accepted tokens', data: sources.map(function (s) { return a.by_source[s].accepted_tokens; }), backgroundColor: '#2f6db3' }]);
    draw('c-hist', 'bar', a.acceptance_length_histogram.map(function (_, i) { return String(i); }),
      [{ label: 'steps', data: a.acceptance_length_histogram, backgroundColor: '#3a9d6a' }]);
    draw('c-pos', 'line', a.accepted_per_position.map(function (p) { return String(p.position + 1); }),
      [{ label: 'accepted at depth (share of drafts)', data: a.accepted_per_position.map(function (p) { return p.rate || 0; }), borderColor: '#b3542f', backgroundColor: '#b3542f' }],
      { scales: { y: { min: 0, max: 1 } } });
    draw('c-tree', 'bar', a.tree_sizes.histogram.map(function (h) { return String(h.size); }),
      [{ label: 'steps', data: a.tree_sizes.histogram.map(function (h) { return h.steps; }), backgroundColor: '#7a5bb0' }]);
    document.getElementById('recent').innerHTML = a.recent.map(function (r) {
      return '<tr><td>' + esc(r.at.slice(11, 19)) + '</td><td>' + esc(r.route) + '</td><td>' + esc(r.mode) + '</td><td>' + esc(r.question.slice(0, 60)) +
        '</td><td>' + r.completion_tokens + '</td><td>' + r.steps + '</td><td>' + fmt(r.tokens_per_step, 2) + '</td><td>' + fmt(r.decode_tokens_per_second, 1) +
        '</td><td>' + Math.round(r.latency_ms) + '</td></tr>';
    }).join('');
    document.getElementById('status').textContent = a.requests + ' requests since ' + (a.since || 'the start');
  }
  function load() {
    var w = document.getElementById('window').value;
    document.body.setAttribute('data-ready', 'false');
    fetch('/v1/analytics?window=' + encodeURIComponent(w)).then(function (r) { return r.json(); }).then(function (a) {
      if (a.error) throw new Error(a.error.message);
      render(a);
      document.body.setAttribute('data-requests', String(a.requests));
      document.body.setAttribute('data-ready', 'true');
    }).catch(function (e) {
      document.getElementById('status').textContent = 'failed: ' + e.message;
      document.body.setAttribute('data-ready', 'error');
    });
  }
  var q = new URLSearchParams(location.search).get('window');
  if (q) { var sel = document.getElementById('window'); var o = document.createElement('option'); o.value = q; o.textContent = q; sel.appendChild(o); sel.value = q; }
  document.getElementById('window').addEventListener('change', load);
  load();
})();
</script>
</body>
</html>
`;
}
