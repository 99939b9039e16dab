/**
 * Pure pieces of hybrid search: turning a free-text question into an FTS5 query, and
 * reciprocal-rank fusion of the dense and BM25 rankings.
 */

/** RRF constant from Cormack et al.; 60 damps the head of each ranking. */
export const RRF_K = 60;

// Function words that only dilute an OR query; BM25's IDF would weigh them low anyway.
const STOPWORDS = new Set(
  (
    'a an and are as at be by can could do does for from how i if in is it its me my of on or so ' +
    'that the their then there these this to was what when where which who why will with would you your ' +
    'should into about than them they we our us has have had not no yes just get'
  ).split(' '),
);

/** An FTS5 MATCH expression: the question's words, quoted (no FTS syntax can leak), OR-ed. Null when nothing is left. */
export function ftsQuery(question: string): string | null {
  const words = question.toLowerCase().match(/[\p{L}\p{N}_]+/gu) ?? [];
  const kept = [...new Set(words.filter((w) => !STOPWORDS.has(w)))];
  const terms = kept.length ? kept : [...new Set(words)];
  if (!terms.length) return null;
  return terms.map((w) => `"${w}"`).join(' OR ');
}

export interface Ranked {
  id: number;
  score: number;
}

export interface Fused {
  id: number;
  dense: number | null;
  bm25: number | null;
  fused: number;
}

/** Fuses rankings (each best first) by sum of 1 / (RRF_K + rank), rank starting at 1. */
export function reciprocalRankFusion(dense: readonly Ranked[], bm25: readonly Ranked[]): Fused[] {
  const byId = new Map<number, Fused>();
  const get = (id: number) => {
    let f = byId.get(id);
    if (!f) byId.set(id, (f = { id, dense: null, bm25: null, fused: 0 }));
    return f;
  };
  dense.forEach((r, i) => {
    const f = get(r.id);
    f.dense = r.score;
    f.fused += 1 / (RRF_K + i + 1);
  });
  bm25.forEach((r, i) => {
    const f = get(r.id);
    f.bm25 = r.score;
    f.fused += 1 / (RRF_K + i + 1);
  });
  return [...byId.values()].sort((a, b) => b.fused - a.fused || a.id - b.id);
}
