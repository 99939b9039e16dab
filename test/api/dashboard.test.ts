/**
 * The analytics dashboard renders in headless Chromium (Debian `chromium`), with chart.js
 * served by the app itself: a screenshot is taken and the DOM shows every chart holding data.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/api/server.ts';
import { testBackend } from './helpers/backend.ts';
import { makeTestCorpus, removeTmpDirs, startTestServer, tmpDataDir } from './helpers/harness.ts';

const run = promisify(execFile);
let srv: RunningServer;

function chromiumBinary(): string {
  for (const c of ['/usr/bin/chromium', '/usr/bin/chromium-browser']) if (fs.existsSync(c)) return c;
  throw new Error(
    'headless Chromium not found — install the Debian `chromium` package (apt-get install chromium)',
  );
}

async function chromium(url: string, extra: string[]): Promise<string> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'ragspec-chromium-'));
  try {
    const { stdout } = await run(
      chromiumBinary(),
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-dev-shm-usage',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        `--user-data-dir=${profile}`,
        '--window-size=1280,1000',
        '--virtual-time-budget=5000',
        ...extra,
        url,
      ],
      { timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
    );
    return stdout;
  } finally {
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

beforeAll(async () => {
  const dataDir = tmpDataDir('dashboard');
  await makeTestCorpus(dataDir);
  srv = await startTestServer({ dataDir, backend: testBackend });
  // Some generations so the charts have something to show.
  for (const mode of ['hybrid', 'ar']) {
    const r = await request(srv.url)
      .post('/v1/answer')
      .send({ question: 'What does npm ci do?', max_tokens: 24, mode });
    expect(r.status).toBe(200);
  }
});

afterAll(async () => {
  await srv?.shutdown('test done');
  removeTmpDirs();
});

describe('GET /analytics', () => {
  it('serves the page and chart.js from the app (no CDN)', async () => {
    const page = await request(srv.url).get('/analytics');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    const scripts = [...page.text.matchAll(/<script src="([^"]+)"/g)].map((m) => m[1]!);
    expect(scripts).toEqual(['/analytics/assets/chart.umd.min.js']);
    expect(page.text).not.toMatch(/https?:\/\//);
    const lib = await request(srv.url).get(scripts[0]!);
    expect(lib.status).toBe(200);
    expect(lib.headers['content-type']).toMatch(/javascript/);
    expect(lib.text.length).toBeGreaterThan(100_000);
  });

  it('renders in headless Chromium with data in every chart', async () => {
    const url = `${srv.url}/analytics?window=1h`;
    const dom = await chromium(url, ['--dump-dom']);
    expect(dom).toMatch(/<body[^>]*data-ready="true"/);
    expect(dom).toMatch(/data-requests="2"/);
    for (const id of ['c-source', 'c-hist', 'c-pos', 'c-tree']) {
      const m = new RegExp(`<canvas id="${id}"[^>]*data-points="(\\d+)"`).exec(dom);
      expect(m, `${id} was drawn`).not.toBeNull();
      expect(Number(m![1]), `${id} has data`).toBeGreaterThan(0);
    }
    expect(dom).toContain('What does npm ci do?'); // recent-requests table

    const shot = path.join(tmpDataDir('shot'), 'analytics.png');
    await chromium(url, [`--screenshot=${shot}`]);
    const png = fs.readFileSync(shot);
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
    expect(png.length).toBeGreaterThan(20_000); // charts drawn, not a blank page
  });
});
