/**
 * `npm run bench:load` — a bounded, loopback-only load test of the HTTP service on the real
 * model and corpus, with continuous batching off (batching.maxBatch 1) and on (8) in the same
 * run. For each setting: one server, a warm-up, the idle time to first token (3 streams), then
 * 1, 4 and 8 concurrent clients, each streaming `--per-client` answers one after another
 * (POST /v1/answer, stream: true). Records requests/s, tokens/s, TTFT and latency p50/p99,
 * 429s and 5xx (which must be 0), and writes the HTTP section of docs/BENCHMARKS.md.
 *
 *   npm run bench:load -- [--per-client 2] [--clients 1,4,8] [--batch 1,8] [--max-tokens 24]
 *                         [--mode hybrid] [--prefill-chunks N] [--data <corpus dir>] [--no-write]
 *
 * --prefill-chunks: batching.prefillChunksPerTick for the batched servers (default: the
 * config default, 1 = oldest prompt first; 0 = every prompt in lockstep).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { loadConfig } from '../src/config/load.ts';
import { realRuntime } from '../src/api/runtime.ts';
import { startServer } from '../src/api/server.ts';
import { createLogger } from '../src/api/app.ts';
import { openCorpus } from '../src/retrieval/index.ts';
import { paths, repoRoot } from '../src/util/paths.ts';

function flag(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}
const PER_CLIENT = Math.min(10, Number(flag('per-client', '2')));
const CLIENTS = flag('clients', '1,4,8')
  .split(',')
  .map((x) => Math.min(16, Number(x)));
const BATCH = flag('batch', '1,8')
  .split(',')
  .map((x) => Number(x));
const MAX_TOKENS = Number(flag('max-tokens', '24'));
const MODE = flag('mode', 'hybrid');
const PREFILL_CHUNKS = flag('prefill-chunks', '') === '' ? undefined : Number(flag('prefill-chunks', ''));
const WRITE = !process.argv.includes('--no-write');

const QUESTIONS = [
  'What does npm ci do?',
  'How do I install only production dependencies?',
  'What is the difference between npm install and npm ci?',
  'How do I run a script defined in package.json?',
  'What does npm audit fix do?',
  'How do I publish a scoped package?',
  'What is package-lock.json for?',
  'How do I set a config value with npm config?',
];

async function corpusDir(): Promise<string> {
  const wanted = flag('data', paths.data());
  if (fs.existsSync(path.join(wanted, 'ragspec.db'))) {
    const c = await openCorpus(wanted, { readOnly: true });
    const n = c.stats().passages;
    await c.close();
    if (n > 0) return wanted;
  }
  throw new Error(
    `no ingested corpus in ${wanted} — run \`npx ragspec ingest\` (or \`npx ragspec start\` once) first, or pass --data <dir>`,
  );
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]! : NaN;
}

interface Stream {
  status: number;
  ttft: number | null;
  total: number;
  tokens: number;
}

/** One streaming answer: ms to the first delta event, ms to the end, status, completion tokens. */
function streamOnce(url: string, question: string): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const body = JSON.stringify({ question, max_tokens: MAX_TOKENS, mode: MODE, stream: true });
    const req = http.request(
      `${url}/v1/answer`,
      {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
      },
      (res) => {
        let ttft: number | null = null;
        let text = '';
        res.on('data', (c: Buffer) => {
          text += c.toString('utf8');
          if (ttft === null && text.includes('"type":"delta"')) ttft = performance.now() - t0;
        });
        res.on('end', () => {
          const used = [...text.matchAll(/"completion_tokens":(\d+)/g)].pop();
          resolve({
            status: res.statusCode ?? 0,
            ttft,
            total: performance.now() - t0,
            tokens: used ? Number(used[1]) : 0,
          });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

interface Row {
  maxBatch: number;
  clients: number;
  requests: number;
  wallS: number;
  rps: number;
  tps: number;
  ttftP50: number;
  ttftP99: number;
  latencyP50: number;
  latencyP99: number;
  status429: number;
  status5xx: number;
  meanBatch: number | null;
}

/** `clients` clients, each streaming PER_CLIENT answers in turn. */
async function round(url: string, maxBatch: number, clients: number, metricsBefore: string): Promise<Row> {
  let qi = 0;
  const t0 = performance.now();
  const runs = await Promise.all(
    Array.from({ length: clients }, async () => {
      const out: Stream[] = [];
      for (let j = 0; j < PER_CLIENT; j++)
        out.push(await streamOnce(url, QUESTIONS[qi++ % QUESTIONS.length]!));
      return out;
    }),
  );
  const wallS = (performance.now() - t0) / 1000;
  const flat = runs.flat();
  const ok = flat.filter((r) => r.status === 200);
  const ttfts = ok.flatMap((r) => (r.ttft === null ? [] : [r.ttft]));
  const metricsAfter = await (await fetch(`${url}/metrics`)).text();
  const sum = (m: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(m)?.[1] ?? 0);
  const steps =
    sum(metricsAfter, 'ragspec_batch_size_count') - sum(metricsBefore, 'ragspec_batch_size_count');
  const reqs = sum(metricsAfter, 'ragspec_batch_size_sum') - sum(metricsBefore, 'ragspec_batch_size_sum');
  return {
    maxBatch,
    clients,
    requests: flat.length,
    wallS,
    rps: ok.length / wallS,
    tps: ok.reduce((a, r) => a + r.tokens, 0) / wallS,
    ttftP50: quantile(ttfts, 0.5),
    ttftP99: quantile(ttfts, 0.99),
    latencyP50: quantile(
      ok.map((r) => r.total),
      0.5,
    ),
    latencyP99: quantile(
      ok.map((r) => r.total),
      0.99,
    ),
    status429: flat.filter((r) => r.status === 429).length,
    status5xx: flat.filter((r) => r.status >= 500).length,
    meanBatch: steps > 0 ? reqs / steps : null,
  };
}

async function main(): Promise<void> {
  const loadStart = os
    .loadavg()
    .map((x) => x.toFixed(1))
    .join(' ');
  const dataDir = await corpusDir();
  const rows: Row[] = [];
  const idle: Record<number, number> = {};
  for (const maxBatch of BATCH) {
    const config = loadConfig({
      env: {},
      overrides: {
        // a bounded run: nothing times out or is refused for waiting in the unbatched queue
        server: { host: '127.0.0.1', port: 0, queueSize: 32, requestTimeoutMs: 600_000 },
        storage: { dataDir },
        batching: { maxBatch },
        log: { level: 'warn' },
      },
    });
    const srv = await startServer({
      config,
      load: realRuntime(config, {
        maxBatch,
        prefillChunksPerTick: PREFILL_CHUNKS ?? config.batching.prefillChunksPerTick,
      }),
      logger: createLogger('warn'),
    });
    await srv.ready;
    const url = srv.url;
    console.error(
      `bench:load: maxBatch ${maxBatch}, server on ${url}, clients ${CLIENTS.join('/')} × ${PER_CLIENT}`,
    );
    // Warm-up: one request so the first measured one does not pay for lazy loading.
    await streamOnce(url, QUESTIONS[0]!);
    // Time to first token with the server otherwise idle (one client, three questions).
    const t: number[] = [];
    for (let i = 1; i <= 3; i++) {
      const r = await streamOnce(url, QUESTIONS[i]!);
      if (r.status === 200 && r.ttft !== null) t.push(r.ttft);
    }
    idle[maxBatch] = quantile(t, 0.5);
    console.error(JSON.stringify({ maxBatch, idleTtftP50: idle[maxBatch] }));
    for (const clients of CLIENTS) {
      const before = await (await fetch(`${url}/metrics`)).text();
      const row = await round(url, maxBatch, clients, before);
      console.error(JSON.stringify(row));
      rows.push(row);
    }
    await srv.shutdown('bench done');
  }
  const rep = {
    date: new Date().toISOString(),
    machine: `${os.cpus().length} vCPU ${os.cpus()[0]?.model ?? ''}`.trim(),
    loadavg: os
      .loadavg()
      .map((x) => x.toFixed(1))
      .join(' '),
    loadStart,
    prefillChunks: PREFILL_CHUNKS ?? loadConfig({ env: {} }).batching.prefillChunksPerTick,
    perClient: PER_CLIENT,
    maxTokens: MAX_TOKENS,
    mode: MODE,
    idle,
    rows,
  };
  console.log(JSON.stringify(rep, null, 2));
  if (WRITE) writeSection(rep);
  if (rows.some((r) => r.status5xx > 0)) {
    console.error('bench:load: FAILED — some responses were 5xx');
    process.exitCode = 1;
  }
}

type Report = {
  date: string;
  machine: string;
  loadavg: string;
  /** Load average (1/5/15 min) when the run started. */
  loadStart?: string;
  /** batching.prefillChunksPerTick of the batched servers. */
  prefillChunks?: number;
  perClient: number;
  maxTokens: number;
  mode: string;
  idle: Record<number, number>;
  rows: Row[];
};

/** The markdown of the HTTP section for one run. */
export function renderSection(r: Report): string {
  const f = (v: unknown, d = 1) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(d) : '–');
  const of = (b: number, c: number) => r.rows.find((x) => x.maxBatch === b && x.clients === c);
  const off = of(1, 8);
  const on = of(Math.max(...r.rows.map((x) => x.maxBatch)), 8);
  const section = [
    '## HTTP',
    '',
    `\`npm run bench:load\` (bench/load.ts): the real server on 127.0.0.1 with the real model and corpus, continuous batching off (\`batching.maxBatch\` 1) and on in the same run. Per setting: one server, a warm-up, the idle time to first token (3 streams, one client), then 1, 4 and 8 concurrent clients, each streaming ${r.perClient} answers one after another (\`POST /v1/answer\`, stream, max_tokens ${r.maxTokens}, mode ${r.mode}, questions from a rotating list of 8). requests/s and tokens/s are completed answers (and their completion tokens) over the round's wall time; latency is until the stream ends.`,
    '',
    '| maxBatch | clients | requests | requests/s | tokens/s | TTFT p50 / p99 (ms) | latency p50 / p99 (ms) | mean batch (requests/step) | 429 | 5xx |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...r.rows.map(
      (x) =>
        `| ${x.maxBatch} | ${x.clients} | ${x.requests} | ${f(x.rps, 2)} | ${f(x.tps, 1)} | ${f(x.ttftP50, 0)} / ${f(x.ttftP99, 0)} | ${f(x.latencyP50, 0)} / ${f(x.latencyP99, 0)} | ${f(x.meanBatch, 2)} | ${x.status429} | ${x.status5xx} |`,
    ),
    '',
    `Idle TTFT p50 (ms): ${Object.entries(r.idle)
      .map(([b, v]) => `maxBatch ${b}: ${f(v, 0)}`)
      .join(', ')}.`,
    off && on
      ? `With 8 clients, batching on vs off: ${f(on.rps / off.rps, 2)}× the requests/s (aim ≥ 4×), ${f(on.rps, 2)} requests/s (aim ≥ 1), TTFT p50 ${f(on.ttftP50 / (r.idle[on.maxBatch] ?? NaN), 2)}× the idle TTFT (aim ≤ 3×).`
      : '',
    '',
    `Batched servers prefill ${r.prefillChunks === 0 ? 'every admitted prompt in lockstep (`batching.prefillChunksPerTick` 0)' : `${r.prefillChunks ?? 1} prompt chunk(s) of 128 tokens per step, oldest request first (\`batching.prefillChunksPerTick\` ${r.prefillChunks ?? 1})`}; decoding requests step every time.`,
    '',
    `Recorded ${r.date} on ${r.machine}, load average (1/5/15 min) ${r.loadStart ? `${r.loadStart} at the start, ` : ''}${r.loadavg} at the end. The machine is noisy: the ratios within the run are the meaningful part.`,
    '',
  ].join('\n');
  return section;
}

/** Replace the `## HTTP` section of BENCHMARKS.md (up to the next `## `), leaving the rest alone. */
export function replaceSection(text: string, section: string): string {
  const start = text.indexOf('## HTTP');
  if (start < 0) return `${text.trimEnd()}\n\n${section}`;
  let next = text.indexOf('\n## ', start + 1);
  if (next < 0) next = text.length;
  return text.slice(0, start) + section + text.slice(next).replace(/^\n+/, '\n');
}

function writeSection(r: Report): void {
  const file = path.join(repoRoot, 'docs', 'BENCHMARKS.md');
  fs.writeFileSync(file, replaceSection(fs.readFileSync(file, 'utf8'), renderSection(r)));
  console.error(`bench:load: wrote the HTTP section of ${path.relative(repoRoot, file)}`);
}

// Run only as a script (the helpers above are reused to update the docs from a saved run).
if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(repoRoot, 'bench', 'load.ts'))
  await main();
