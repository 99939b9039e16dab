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

/**
 * Bounds on one retrieval query, applied before any lookup: every distinct term costs a
 * document-frequency probe and a branch of the FTS5 OR, and the embedder tokenizes the whole
 * text before it truncates. A question is a few dozen words; the embedder reads ~256 tokens.
 */
export const MAX_QUERY_CHARS = 4000;
export const MAX_QUERY_TERMS = 64;

/** The query as retrieval sees it: at most MAX_QUERY_CHARS, cut at a word edge when one is near. */
export function boundedQuery(query: string): string {
  if (query.length <= MAX_QUERY_CHARS) return query;
  const cut = query.slice(0, MAX_QUERY_CHARS);
  const edge = cut.search(/\s\S*$/);
  return edge > MAX_QUERY_CHARS / 2 ? cut.slice(0, edge) : cut;
}

/**
 * The question's words for BM25: lower-cased, deduplicated, function words dropped (unless
 * nothing else is left), the first MAX_QUERY_TERMS kept.
 */
export function ftsTerms(question: string): string[] {
  const words =
    boundedQuery(question)
      .toLowerCase()
      .match(/[\p{L}\p{N}_]+/gu) ?? [];
  const kept = [...new Set(words.filter((w) => !STOPWORDS.has(w)))];
  return (kept.length ? kept : [...new Set(words)]).slice(0, MAX_QUERY_TERMS);
}

/** An FTS5 MATCH expression: terms quoted (no FTS syntax can leak in), OR-ed. Null when there are none. */
export function ftsMatch(terms: readonly string[]): string | null {
  return terms.length ? terms.map((w) => `"${w}"`).join(' OR ') : null;
}

export function ftsQuery(question: string): string | null {
  return ftsMatch(ftsTerms(question));
}

/**
 * How many passages a BM25 query term may appear in before it is left out (when rarer terms
 * remain). An FTS5 OR query scores every passage holding any of its terms, so the cost is the
 * length of the terms' posting lists; common terms also weigh least. Rule:
 * - a term in more than half the passages has IDF <= 0 (FTS5 floors it to ~0): always out;
 * - otherwise a term is out once its list passes COMMON_TERM_POSTINGS passages, as long as it
 *   is in at least 10% of them (IDF < 2.2).
 * On a small corpus (the npm docs: ~1000 passages) only the first rule applies.
 */
export const COMMON_TERM_POSTINGS = 5000;

export function commonTermCap(total: number): number {
  return Math.max(1, Math.floor(Math.max(total * 0.1, Math.min(total * 0.5, COMMON_TERM_POSTINGS))));
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
