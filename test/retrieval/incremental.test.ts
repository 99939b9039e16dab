/**
 * The shared store/retrieval contract, run against every store kind (SQLite and a real
 * PostgreSQL): unchanged files are skipped, a changed file re-embeds only its own passages
 * (counted), `--prune` takes a deleted file out of both BM25 and dense results, queries
 * running during an ingest only ever see committed, whole passages, and a second reader of
 * the same store picks up a new generation on its next query.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CorpusHandle, ScoredPassage } from '../../src/retrieval/index.ts';
import { tempDir, writeFiles } from './helpers.ts';
import { STORE_KINDS, storeFixture } from './store-kinds.ts';

const topic = (name: string, word: string, n = 6) =>
  `# ${name}\n\n` +
  Array.from(
    { length: n },
    (_, i) =>
      `Paragraph ${i} of ${name}: the ${word} setting changes how the ${word} cache behaves when packages are installed.`,
  ).join('\n\n') +
  '\n';

describe.each(STORE_KINDS)('store contract: %s', (kind) => {
  const fx = storeFixture(kind);
  let dir: string;
  let location: string;
  let corpus: CorpusHandle;

  async function ids(docPath: string): Promise<number[]> {
    const doc = (await corpus.listDocuments()).find((d) => d.path === docPath)!;
    return fx.passageIdsOf(corpus, doc.id);
  }

  async function consistent(): Promise<void> {
    // Store passages and live HNSW labels agree.
    expect(await fx.liveLabels(corpus)).toEqual(await fx.allPassageIds(corpus));
  }

  beforeAll(async () => {
    dir = tempDir('incr');
    writeFiles(dir, {
      'a.md': topic('Alpha', 'aardvark'),
      'b.md': topic('Bravo', 'bumblebee'),
      'c.md': topic('Charlie', 'chinchilla', 30),
      'sub/d.md': topic('Delta', 'dromedary'),
    });
    location = await fx.location();
    corpus = await fx.open(location);
  }, 120_000);

  afterAll(async () => corpus?.close());

  describe('incremental ingest', () => {
    it('first ingest adds everything; a second one skips everything', async () => {
      const first = await corpus.ingestPaths([dir]);
      expect(first).toMatchObject({ docsAdded: 4, docsChanged: 0, docsSkipped: 0 });
      expect(first.passagesEmbedded).toBe((await corpus.stats()).passages);
      expect((await ids('c.md')).length).toBeGreaterThan(1);
      const again = await corpus.ingestPaths([dir]);
      expect(again).toMatchObject({ docsAdded: 0, docsChanged: 0, docsSkipped: 4, passagesEmbedded: 0 });
      await consistent();
    });

    it('changing one file re-embeds only its passages', async () => {
      const before = { a: await ids('a.md'), c: await ids('c.md'), d: await ids('sub/d.md') };
      fs.writeFileSync(path.join(dir, 'b.md'), topic('Bravo', 'bumblebee', 9));
      const res = await corpus.ingestPaths([dir]);
      expect(res).toMatchObject({ docsAdded: 0, docsChanged: 1, docsSkipped: 3 });
      expect(res.passagesEmbedded).toBe((await ids('b.md')).length);
      expect({ a: await ids('a.md'), c: await ids('c.md'), d: await ids('sub/d.md') }).toEqual(before);
      const hit = await corpus.search('Paragraph 8 of Bravo', { k: 1, method: 'bm25' });
      expect(hit[0]!.path).toBe('b.md');
      await consistent();
    });

    it('--prune removes a deleted file from BM25 and dense results', async () => {
      const query = 'chinchilla cache setting';
      const has = (r: ScoredPassage[]) => r.some((p) => p.path === 'c.md');
      expect(has(await corpus.search(query, { k: 5, method: 'bm25' }))).toBe(true);
      expect(has(await corpus.search(query, { k: 5, method: 'dense' }))).toBe(true);
      const cIds = await ids('c.md');
      fs.rmSync(path.join(dir, 'c.md'));

      const kept = await corpus.ingestPaths([dir]);
      expect(kept.docsRemoved).toBe(0);
      expect(has(await corpus.search(query, { k: 5, method: 'bm25' }))).toBe(true);

      const pruned = await corpus.ingestPaths([dir], { prune: true });
      expect(pruned).toMatchObject({ docsRemoved: 1, passagesEmbedded: 0 });
      const total = (await corpus.stats()).passages;
      for (const method of ['bm25', 'dense', 'hybrid'] as const) {
        expect(has(await corpus.search(query, { k: total, method }))).toBe(false);
      }
      const live = new Set(await fx.liveLabels(corpus));
      for (const id of cIds) expect(live.has(id)).toBe(false);
      await consistent();
    });

    it('queries during an ingest see only whole, committed passages', async () => {
      for (const f of ['a.md', 'b.md', 'sub/d.md'])
        fs.appendFileSync(path.join(dir, f), '\nA new closing paragraph about the registry.\n');
      writeFiles(dir, { 'e.md': topic('Echo', 'emu', 12) });
      let done = false;
      const ingest = corpus.ingestPaths([dir], { commitEvery: 1 }).finally(() => (done = true));
      let queries = 0;
      while (!done) {
        const res = await corpus.search('cache setting for packages', { k: 5 });
        for (const p of res) {
          const doc = (await corpus.getDocument(p.docId))!;
          expect(doc.source.slice(p.start, p.end)).toBe(p.text);
        }
        queries++;
      }
      const summary = await ingest;
      expect(summary.docsChanged + summary.docsAdded).toBe(4);
      expect(queries).toBeGreaterThan(1);
      await consistent();
    });
  });

  describe('documents through the API (ingestDocuments / getDocument / deleteDocument)', () => {
    it('adds, replaces and deletes a document given as text', async () => {
      const text = '# Uploaded\n\nThe quokka flag enables verbose uploads.\n';
      const added = await corpus.ingestDocuments([{ id: 'up-1', title: 'Uploaded note', text }]);
      expect(added).toMatchObject({ ids: ['up-1'], docsAdded: 1 });
      const doc = (await corpus.getDocument('up-1'))!;
      expect(doc).toMatchObject({ path: 'api/up-1', title: 'Uploaded note', source: text, origin: 'api' });
      const [hit] = await corpus.search('quokka flag', { k: 1 });
      expect(hit).toMatchObject({ docId: 'up-1', title: 'Uploaded note' });
      expect(text.slice(hit!.start, hit!.end)).toBe(hit!.text);

      // --prune removes only file documents, never uploaded ones.
      await corpus.ingestPaths([dir], { prune: true });
      expect(await corpus.getDocument('up-1')).not.toBeNull();

      expect(await corpus.deleteDocument('up-1')).toBe(true);
      expect(await corpus.deleteDocument('up-1')).toBe(false);
      expect(await corpus.getDocument('up-1')).toBeNull();
      expect((await corpus.search('quokka flag', { k: 3 })).some((p) => p.docId === 'up-1')).toBe(false);
      await consistent();
    });
  });

  describe('a second process-like reader of the same store', () => {
    it('picks up a new generation committed by another writer on its next query', async () => {
      const reader = await fx.open(location, { readOnly: true });
      try {
        expect(
          (await reader.search('okapi bookmark', { k: 3, method: 'bm25' })).some((p) => p.path === 'f.md'),
        ).toBe(false);
        await reader.search('warm up the dense side', { k: 1 });
        writeFiles(dir, { 'f.md': '# Foxtrot\n\nThe okapi bookmark command saves favourite packages.\n' });
        await corpus.ingestPaths([dir]);
        const res = await reader.search('okapi bookmark command', { k: 3 });
        expect(res[0]!.path).toBe('f.md');
        expect(res[0]!.scores.dense).not.toBeNull(); // found by the reloaded HNSW index too
        await expect(reader.ingestDocuments([{ text: 'x' }])).rejects.toThrow(/read-only/);
      } finally {
        await reader.close();
      }
    });
  });
});
