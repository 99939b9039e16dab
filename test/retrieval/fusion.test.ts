import { describe, expect, it } from 'vitest';
import { commonTermCap, ftsQuery, reciprocalRankFusion, RRF_K } from '../../src/retrieval/fusion.ts';

describe('ftsQuery', () => {
  it('quotes words, drops function words ("a", "or", "and") and FTS syntax', () => {
    expect(ftsQuery('How do I stop `npm ci` from running scripts?')).toBe(
      '"stop" OR "npm" OR "ci" OR "running" OR "scripts"',
    );
    expect(ftsQuery('NEAR(a b) OR "x" AND -y*')).toBe('"near" OR "b" OR "x" OR "y"');
    expect(ftsQuery('the of and')).toBe('"the" OR "of" OR "and"');
    expect(ftsQuery('?!')).toBeNull();
  });
});

describe('reciprocalRankFusion', () => {
  it('sums 1/(60+rank) over both rankings', () => {
    // Passage 2 is second in dense and first in BM25, so it beats passage 1 (first in dense only).
    const fused = reciprocalRankFusion(
      [
        { id: 1, score: 0.9 },
        { id: 2, score: 0.8 },
      ],
      [
        { id: 2, score: 12 },
        { id: 3, score: 7 },
      ],
    );
    expect(fused.map((f) => f.id)).toEqual([2, 1, 3]);
    expect(fused[0]).toEqual({ id: 2, dense: 0.8, bm25: 12, fused: 1 / (RRF_K + 2) + 1 / (RRF_K + 1) });
    expect(fused[1]!.bm25).toBeNull();
    expect(fused[2]!.dense).toBeNull();
  });
});

describe('commonTermCap', () => {
  it('is half the corpus when small, 5000 postings in between, 10% when large', () => {
    expect(commonTermCap(968)).toBe(484); // the npm docs: only IDF <= 0 terms are left out
    expect(commonTermCap(20_000)).toBe(5000);
    expect(commonTermCap(100_000)).toBe(10_000);
    expect(commonTermCap(1)).toBe(1);
  });
});
