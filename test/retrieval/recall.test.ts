/**
 * Must show: recall@5 of the source file on the npm-docs dev set, dense vs BM25 vs hybrid,
 * over the real default corpus. The store is kept in .ragspec/cache/test-npm-docs so a
 * second run only re-checks content hashes (the first run embeds ~1000 passages).
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCorpus, defaultCorpusRoots, type Corpus } from '../../src/retrieval/index.ts';
import { loadEvalSet, recallAtK, recallTable, type RecallResult } from '../../src/retrieval/eval.ts';
import { paths } from '../../src/util/paths.ts';
import { devSetPath, sharedEmbedder } from './helpers.ts';

let corpus: Corpus;

beforeAll(async () => {
  corpus = await openCorpus(path.join(paths.cache(), 'test-npm-docs'), { embedder: await sharedEmbedder() });
  const s = await corpus.ingestPaths(defaultCorpusRoots(), { prune: true });
  console.log(
    `default corpus: ${s.documentsTotal} documents, ${s.passagesTotal} passages (${s.passagesEmbedded} embedded this run)`,
  );
});

afterAll(async () => {
  await corpus?.close();
});

describe('recall@5 on shared/eval/npm-docs-dev.jsonl', () => {
  it('hybrid retrieval finds the source file in the top 5 for at least 90% of questions', async () => {
    const items = loadEvalSet(devSetPath());
    expect(items.length).toBeGreaterThanOrEqual(40);
    const results: RecallResult[] = [];
    for (const method of ['dense', 'bm25', 'hybrid'] as const)
      results.push(await recallAtK(corpus, items, 5, method));
    console.log(`\n${recallTable(results)}\n`);
    for (const r of results) console.log(`${r.method} misses: ${r.misses.join(' ') || '(none)'}`);
    const hybrid = results.find((r) => r.method === 'hybrid')!;
    expect(hybrid.recall).toBeGreaterThanOrEqual(0.9);
  });

  it('the ragspec documents are in the default corpus under ragspec/', async () => {
    const res = await corpus.search('how does ragspec draft tokens from retrieved passages', {
      k: 5,
      pathPrefix: 'ragspec/',
    });
    expect(res.length).toBeGreaterThan(0);
    expect(res.every((p) => p.path.startsWith('ragspec/'))).toBe(true);
    expect(res[0]!.path).toBe('ragspec/how-ragspec-drafts.md');
  });
});
