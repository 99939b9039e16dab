/**
 * The real CLI process: `ragspec start` on an existing model and corpus goes straight to
 * serving and prints a curl example; SIGTERM refuses new work with 503, lets the in-flight
 * stream finish, and the process exits 0.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../src/util/paths.ts';
import { testBackend } from './helpers/backend.ts';
import { makeTestCorpus, removeTmpDirs, tmpDataDir } from './helpers/harness.ts';
import { waitFor } from './helpers/metrics.ts';
import { parseStrictSse, rawPost } from './helpers/sse.ts';

let child: ChildProcess;

/** The parent's environment minus settings that would change the server under test. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env))
    if (/^RAGSPEC_(PORT|HOST|API_KEY|DATA_DIR|MODE|QUEUE_SIZE|REQUEST_TIMEOUT_MS)$/.test(k)) delete env[k];
  return env;
}
let stderr = '';
let url = '';
let exited: Promise<number | null>;

beforeAll(async () => {
  await testBackend().then((b) => b.close?.()); // fails with the setup hint when the model is missing
  const dataDir = tmpDataDir('cli');
  await makeTestCorpus(dataDir);
  child = spawn(
    process.execPath,
    [
      path.join(repoRoot, 'bin', 'ragspec.js'),
      'start',
      '--port',
      '0',
      '--data-dir',
      dataDir,
      '--log-level',
      'warn',
    ],
    {
      cwd: repoRoot,
      env: cleanEnv(),
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  exited = new Promise((r) => child.on('exit', (code) => r(code)));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  await waitFor(
    async () => /listening on (http:\/\/127\.0\.0\.1:\d+)/.test(stderr) || child.exitCode !== null,
    'the server to listen',
  );
  url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr)?.[1] ?? '';
  expect(url, stderr).not.toBe('');
  await waitFor(
    async () => (await fetch(`${url}/readyz`).catch(() => null))?.status === 200 || child.exitCode !== null,
    'readyz',
  );
});

afterAll(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  removeTmpDirs();
});

describe('ragspec start', () => {
  it('skips setup and ingest when their outputs exist, and prints a ready-to-paste curl example', async () => {
    await waitFor(async () => stderr.includes('ready. Try:'), 'the ready message');
    expect(stderr).not.toContain('running setup');
    expect(stderr).not.toContain('ingesting the default corpus');
    expect(stderr).toContain(`curl -s ${url}/v1/answer -H 'Content-Type: application/json'`);
    expect(stderr).toMatch(/-d '\{"question": "[^"]+"\}'/);
  });

  it('SIGTERM: 503 for new work, the in-flight stream finishes, exit code 0', async () => {
    const inflight = rawPost(url, '/v1/answer', {
      question: 'Write the numbers from 1 to 200 separated by commas.',
      top_k: 0,
      max_tokens: 16,
      stream: true,
    });
    await waitFor(
      async () => (await (await fetch(`${url}/metrics`)).text()).includes('ragspec_worker_busy 1'),
      'the stream to start',
    );
    child.kill('SIGTERM');
    await waitFor(async () => (await fetch(`${url}/readyz`)).status === 503, 'draining');
    const refused = await request(url).post('/v1/answer').send({ question: 'hello?' });
    expect(refused.status).toBe(503);
    expect(refused.body.error.code).toBe('shutting_down');
    const done = await inflight;
    expect(done.status).toBe(200);
    expect(parseStrictSse(done.body).done).toBe(true);
    expect(await exited).toBe(0);
  });
});

describe('ragspec serve with a bad config', () => {
  it('refuses an unknown key with one line naming the file and the key, exit 1', () => {
    const file = path.join(tmpDataDir('badcfg'), 'ragspec.json');
    fs.writeFileSync(file, JSON.stringify({ server: { prot: 8080 } }));
    const r = spawnSync(
      process.execPath,
      [path.join(repoRoot, 'bin', 'ragspec.js'), 'serve', '--config', file],
      { cwd: repoRoot, env: cleanEnv(), encoding: 'utf8' },
    );
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      `ragspec: error: ${file}: unknown key server.prot — fix or remove that key (\`ragspec serve --help\` lists the settings)`,
    ]);
  });
});
