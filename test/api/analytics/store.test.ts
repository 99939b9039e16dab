/**
 * Finding 4 (analytics can break answers): retention by row count and age, paged async reads,
 * a failing write still gives a 200 answer, and a corrupt file is moved aside with a warning.
 */
import fs from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { afterAll, describe, expect, it } from 'vitest';
import { AnalyticsStore, type GenerationRecord } from '../../../src/api/analytics/store.ts';
import { fakeApp, fakeDataDir, fakeStats, removeFakeDirs } from '../helpers/fakes.ts';

afterAll(removeFakeDirs);

const rec = (i: number, createdAt: number): GenerationRecord => ({
  id: `r${String(i).padStart(6, '0')}`,
  createdAt,
  route: 'answer',
  mode: 'ar',
  finishReason: 'stop',
  question: `q${i}`,
  passages: 0,
  stats: fakeStats(),
  latencyMs: 1,
  ttftMs: null,
});

function warnings() {
  const seen: string[] = [];
  return { seen, log: { warn: (_o: object, msg: string) => void seen.push(msg) } };
}

describe('AnalyticsStore retention', () => {
  it('keeps at most maxRows, the newest', () => {
    const s = new AnalyticsStore(path.join(fakeDataDir(), 'a.sqlite'), { maxRows: 50 });
    for (let i = 0; i < 250; i++) s.record(rec(i, Date.now() + i));
    s.prune();
    expect(s.count()).toBe(50);
    s.close();
  });

  it('drops rows older than maxAgeMs (on open, and as it writes)', async () => {
    let now = 10_000_000;
    const file = path.join(fakeDataDir(), 'a.sqlite');
    const s = new AnalyticsStore(file, { maxAgeMs: 1000, now: () => now });
    s.record(rec(1, now - 5000));
    s.record(rec(2, now));
    s.close();
    now += 500;
    const again = new AnalyticsStore(file, { maxAgeMs: 1000, now: () => now });
    expect((await again.since(0)).map((r) => r.id)).toEqual(['r000002']);
    again.close();
  });
});

describe('AnalyticsStore reads', () => {
  it('reads page by page, oldest first, each page at most pageSize', async () => {
    const s = new AnalyticsStore(path.join(fakeDataDir(), 'a.sqlite'), { pageSize: 7 });
    const t0 = Date.now();
    for (let i = 0; i < 30; i++) s.record(rec(i, t0 + Math.floor(i / 3))); // ties in created_at
    const sizes: number[] = [];
    const ids: string[] = [];
    for await (const page of s.pages(t0 + 2)) {
      sizes.push(page.length);
      ids.push(...page.map((r) => r.id));
    }
    expect(Math.max(...sizes)).toBeLessThanOrEqual(7);
    expect(ids).toEqual(Array.from({ length: 24 }, (_, i) => rec(i + 6, 0).id));
    s.close();
  });
});

describe('failures stay in analytics', () => {
  it('a failing analytics write is logged and the answer is still 200', async () => {
    const api = fakeApp();
    api.analytics.close(); // every write now throws inside better-sqlite3
    const r = await request(api.app).post('/v1/answer').send({ question: 'What does npm ci do?' });
    expect(r.status).toBe(200);
    expect(r.body.answer).toBe('ok.');
    expect(api.logLines.join('\n')).toContain('analytics write failed');
  });

  it('a corrupt analytics file is moved aside with one warning and a fresh store works', async () => {
    const dir = fakeDataDir();
    const file = path.join(dir, 'analytics.sqlite');
    fs.writeFileSync(file, 'this is not a database, just bytes '.repeat(200));
    const w = warnings();
    const s = new AnalyticsStore(file, { log: w.log });
    expect(w.seen).toHaveLength(1);
    expect(w.seen[0]).toMatch(/moved aside/);
    expect(w.seen[0]).not.toContain('\n');
    const aside = fs.readdirSync(dir).filter((f) => f.startsWith('analytics.sqlite.corrupt-'));
    expect(aside).toHaveLength(1);
    s.record(rec(1, Date.now()));
    expect(await s.since(0)).toHaveLength(1);
    s.close();
  });
});
