/**
 * Must show: recall@5 on the npm-docs dev set with the PostgreSQL store (≥ 0.9 hybrid),
 * beside the SQLite store's on the same passages and vectors. The default corpus that
 * `npx ragspec setup` ingests (paths.data()) is copied into PostgreSQL with its vectors
 * (`copySqliteCorpus`), so nothing is embedded twice; only the full-text ranking differs
 * (FTS5 BM25 vs tsvector + ts_rank_cd). Also logs the replica's index build time from
 * the database and per-query latency of both stores (numbers in docs/BENCHMARKS.md).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCorpus, type Corpus } from '../../src/retrieval/corpus.ts';
import { loadEvalSet, recallAtK, recallTable, type RecallResult } from '../../src/retrieval/eval.ts';
import type { CorpusHandle } from '../../src/retrieval/handle.ts';
import { copySqliteCorpus } from '../../src/retrieval/pg/copy-sqlite.ts';
import { openPgCorpus, type PgCorpus } from '../../src/retrieval/pg/corpus.ts';
import { STORE_FILE } from '../../src/retrieval/store.ts';
import { paths } from '../../src/util/paths.ts';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.ts';
import { devSetPath, sharedEmbedder } from './helpers.ts';

let pgs: TestPostgres;
let sqlite: Corpus;
let pgCorpus: PgCorpus;
let url: string;

beforeAll(async () => {
  const dir = paths.data();
  if (!fs.existsSync(path.join(dir, STORE_FILE)))
    throw new Error(
      `no default corpus in ${dir} — run \`npx ragspec setup\` (or \`npx ragspec ingest\`) first`,
    );
  sqlite = await openCorpus(dir, { readOnly: true, embedder: await sharedEmbedder() });
  pgs = await startTestPostgres();
  url = await pgs.createDatabase('recall');
  pgCorpus = await openPgCorpus(url, { embedder: await sharedEmbedder() });
  const t = performance.now();
  const copied = await copySqliteCorpus(sqlite, pgCorpus);
  console.log(
    `copied ${copied.documents} documents, ${copied.passages} passages into PostgreSQL in ${((performance.now() - t) / 1000).toFixed(1)} s`,
  );
}, 300_000);

afterAll(async () => {
  await pgCorpus?.close();
  await sqlite?.close();
  await pgs?.stop();
}, 60_000);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function latencies(c: CorpusHandle, questions: string[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const method of ['bm25', 'dense', 'hybrid'] as const) {
    const ms: number[] = [];
    for (const q of questions) {
      const t = performance.now();
      await c.search(q, { k: 5, method });
      ms.push(performance.now() - t);
    }
    out[method] = median(ms);
  }
  return out;
}

describe('recall@5 on the dev set: PostgreSQL store beside SQLite', () => {
  it('the PostgreSQL store finds the source file in the top 5 for at least 90% of questions', async () => {
    const items = loadEvalSet(devSetPath());
    expect(items.length).toBeGreaterThanOrEqual(40);
    const rows: string[] = [];
    const byStore: Record<string, RecallResult[]> = {};
    for (const [name, c] of [
      ['sqlite', sqlite],
      ['postgres', pgCorpus],
    ] as const) {
      const results: RecallResult[] = [];
      for (const method of ['dense', 'bm25', 'hybrid'] as const)
        results.push(await recallAtK(c, items, 5, method));
      byStore[name] = results;
      rows.push(`${name}:\n${recallTable(results)}`);
    }
    console.log(`\n${rows.join('\n\n')}\n`);
    const pgHybrid = byStore.postgres!.find((r) => r.method === 'hybrid')!;
    const liteHybrid = byStore.sqlite!.find((r) => r.method === 'hybrid')!;
    console.log(
      `postgres hybrid misses: ${pgHybrid.misses.join(' ') || '(none)'}; sqlite: ${liteHybrid.misses.join(' ') || '(none)'}`,
    );
    expect(pgHybrid.recall).toBeGreaterThanOrEqual(0.9);
    // Same passages, same vectors: the dense side agrees exactly.
    expect(byStore.postgres!.find((r) => r.method === 'dense')!.hits).toBe(
      byStore.sqlite!.find((r) => r.method === 'dense')!.hits,
    );
  });

  it('a fresh replica builds its index from the database; query latency of both stores (logged)', async () => {
    const replica = await openPgCorpus(url, { embedder: await sharedEmbedder(), readOnly: true });
    try {
      await replica.warm();
      const s = await replica.stats();
      console.log(
        `replica index build from PostgreSQL: ${replica.lastBuildMs.toFixed(0)} ms for ${s.passages} passages`,
      );
      expect((await replica.denseIndex()).liveLabels().length).toBe(s.passages);
      const questions = loadEvalSet(devSetPath()).map((i) => i.question);
      await latencies(sqlite, questions.slice(0, 5)); // warm caches of both
      await latencies(replica, questions.slice(0, 5));
      const lite = await latencies(sqlite, questions);
      const pgMs = await latencies(replica, questions);
      console.log(
        `median query ms (k=5, ${questions.length} questions): ` +
          ['bm25', 'dense', 'hybrid']
            .map((m) => `${m} sqlite ${lite[m]!.toFixed(1)} / postgres ${pgMs[m]!.toFixed(1)}`)
            .join('; '),
      );
    } finally {
      await replica.close();
    }
  });
});
