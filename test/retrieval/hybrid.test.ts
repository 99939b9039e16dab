/**
 * Finding 2 (bounded work): a retrieval query of any size costs a bounded number of term
 * probes, a bounded FTS5 OR and a bounded embedder input. Shown by counting operations on
 * stand-ins for the store, index and embedder, never by timing.
 */
import { describe, expect, it } from 'vitest';
import type { Embedder } from '../../src/retrieval/embedder.ts';
import { MAX_QUERY_CHARS, MAX_QUERY_TERMS } from '../../src/retrieval/fusion.ts';
import { HybridSearch } from '../../src/retrieval/hybrid.ts';
import type { Store } from '../../src/retrieval/store.ts';
import type { VectorIndex } from '../../src/retrieval/vector-index.ts';

function countingParts() {
  const ops = { probes: 0, orTerms: 0, embeddedChars: 0 };
  const store = {
    generation: () => 1,
    passageCount: () => 1000,
    idsUnderPrefix: () => new Set<number>(),
    termFrequencyUpTo: () => (ops.probes++, 1),
    bm25: (terms: string[]) => ((ops.orTerms = terms.length), []),
    passages: () => [],
  } as unknown as Store;
  const index = { search: () => [] } as unknown as VectorIndex;
  const embedder = {
    embed: async (texts: string[]) => ((ops.embeddedChars = texts[0]!.length), [new Float32Array(4)]),
  } as unknown as Embedder;
  return {
    ops,
    search: new HybridSearch(
      store,
      () => index,
      async () => embedder,
    ),
  };
}

/** The query: one 32,000-character part of unique words, 64 times over (~2 MB). */
function hugeQuery(): string {
  const words: string[] = [];
  let length = 0;
  for (let i = 0; length < 64 * 32_000; i++) {
    const w = `w${i.toString(36)}x`;
    words.push(w);
    length += w.length + 1;
  }
  return words.join(' ');
}

describe('HybridSearch query bounds', () => {
  it('probes at most MAX_QUERY_TERMS terms and embeds at most MAX_QUERY_CHARS of a 2 MB query', async () => {
    const { ops, search } = countingParts();
    const q = hugeQuery();
    expect(q.length).toBeGreaterThan(2_000_000);
    await search.search(q, { k: 4 });
    expect(ops.probes).toBeLessThanOrEqual(MAX_QUERY_TERMS);
    expect(ops.orTerms).toBeLessThanOrEqual(MAX_QUERY_TERMS);
    expect(ops.embeddedChars).toBeLessThanOrEqual(MAX_QUERY_CHARS);
  });

  it('keeps the work per query the same whether the query is 4 KB or 2 MB (no growth with size)', async () => {
    const small = countingParts();
    const big = countingParts();
    const q = hugeQuery();
    await small.search.search(q.slice(0, 4 * MAX_QUERY_CHARS), { k: 4 });
    await big.search.search(q, { k: 4 });
    expect(big.ops).toEqual(small.ops);
  });

  it('leaves a normal question alone', async () => {
    const { ops, search } = countingParts();
    await search.search('What does npm ci do with package-lock.json?', { k: 4 });
    expect(ops.probes).toBe(5); // npm, ci, package, lock, json
    expect(ops.embeddedChars).toBe(43);
  });
});
