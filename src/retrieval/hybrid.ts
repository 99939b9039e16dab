/**
 * Hybrid search over one corpus: BM25 (SQLite FTS5, or PostgreSQL full text) and cosine on
 * the HNSW index, fused by reciprocal rank, then joined with the committed passage rows.
 * The store is seen through `SearchStore`, whose answers may be values (SQLite) or promises
 * (PostgreSQL).
 */
import { RagspecError } from '../util/errors.ts';
import type { Embedder } from './embedder.ts';
import { boundedQuery, commonTermCap, ftsTerms, reciprocalRankFusion, type Ranked } from './fusion.ts';
import type { Passage, ScoredPassage, SearchOptions } from './types.ts';
import type { VectorIndex } from './vector-index.ts';

export type Awaitable<T> = T | Promise<T>;

/** What hybrid search reads from a store (SQLite answers at once, PostgreSQL with promises). */
export interface SearchStore {
  /** The committed generation; caches below are keyed by it. */
  generation(): Awaitable<number>;
  passageCount(): Awaitable<number>;
  idsUnderPrefix(prefix: string): Awaitable<Set<number>>;
  /** Passages holding `term`, counting at most `cap`. */
  termFrequencyUpTo(term: string, cap: number): Awaitable<number>;
  /** The same for many terms at once, where one call is cheaper than many (a database round trip). */
  termFrequenciesUpTo?(terms: readonly string[], cap: number): Awaitable<number[]>;
  /** Full-text ranking of passages holding any of `terms` (OR), best first, higher is better. */
  bm25(terms: readonly string[], limit: number, pathPrefix?: string): Awaitable<Ranked[]>;
  /** Committed passages by id, in the order asked; unknown ids left out. */
  passages(ids: readonly number[]): Awaitable<Passage[]>;
}

export interface SearchResult {
  passages: ScoredPassage[];
  /** Set when `k` was clamped to the passages available. */
  notice?: string;
  /** Milliseconds spent in each stage (0 for a stage the method skips). */
  timings: { embedMs: number; denseMs: number; bm25Ms: number; fuseMs: number };
}

/** Candidates each side contributes to fusion (at least k). */
const CANDIDATES = 50;

/** Remembered term frequencies per generation; past this the memo starts over (memory stays bounded). */
const TERM_CACHE_MAX = 10_000;

export class HybridSearch {
  private countCache: { generation: number; count: number } | null = null;
  private termCache: { generation: number; df: Map<string, number> } = { generation: -1, df: new Map() };

  constructor(
    private readonly store: SearchStore,
    /** The committed generation's index (reloaded by the corpus when another process commits). */
    private readonly index: () => Awaitable<VectorIndex>,
    private readonly embedder: () => Promise<Embedder>,
    /** Fixed share of passages above which a term leaves the BM25 query; default `commonTermCap`. */
    private readonly commonTermShare?: number,
  ) {}

  /** Passages of the committed generation; count(*) scans, so it is cached per generation. */
  private async committedPassageCount(gen: number): Promise<number> {
    if (this.countCache?.generation !== gen)
      this.countCache = { generation: gen, count: await this.store.passageCount() };
    return this.countCache.count;
  }

  /**
   * Drops terms that are too common (see `commonTermCap`), keeping at least the rarest one. Frequencies are probed with a capped count and remembered per generation.
   */
  private async selectiveTerms(terms: string[], total: number, gen: number): Promise<string[]> {
    if (this.termCache.generation !== gen || this.termCache.df.size > TERM_CACHE_MAX)
      this.termCache = { generation: gen, df: new Map() };
    const cap =
      (this.commonTermShare === undefined
        ? commonTermCap(total)
        : Math.max(1, Math.floor(total * this.commonTermShare))) + 1;
    const unknown = terms.filter((t) => !this.termCache.df.has(t));
    if (unknown.length > 1 && this.store.termFrequenciesUpTo) {
      const counts = await this.store.termFrequenciesUpTo(unknown, cap);
      unknown.forEach((t, i) => this.termCache.df.set(t, counts[i]!));
    }
    const df: number[] = [];
    for (const t of terms) {
      let n = this.termCache.df.get(t);
      if (n === undefined) this.termCache.df.set(t, (n = await this.store.termFrequencyUpTo(t, cap)));
      df.push(n);
    }
    const kept = terms.filter((_, i) => df[i]! < cap);
    if (kept.length) return kept;
    const rarest = df.indexOf(Math.min(...df));
    return rarest >= 0 ? [terms[rarest]!] : [];
  }

  async search(rawQuery: string, opts: SearchOptions): Promise<SearchResult> {
    // Cut first: every later stage (term probes, FTS5, the embedder's tokenizer) scales with it.
    const query = typeof rawQuery === 'string' ? boundedQuery(rawQuery) : rawQuery;
    const method = opts.method ?? 'hybrid';
    if (!Number.isInteger(opts.k) || opts.k <= 0) {
      throw new RagspecError(`k must be a whole number of at least 1 (got ${opts.k})`, {
        code: 'bad_k',
        kind: 'bad_input',
        hint: 'pass -k 5, for example',
      });
    }
    if (!['hybrid', 'dense', 'bm25'].includes(method)) {
      throw new RagspecError(`unknown search method "${method}"`, {
        code: 'bad_method',
        kind: 'bad_input',
        hint: 'use hybrid, dense or bm25',
      });
    }
    if (typeof query !== 'string' || query.trim() === '') {
      throw new RagspecError('the query is empty', {
        code: 'bad_query',
        kind: 'bad_input',
        hint: 'pass the question to search for',
      });
    }
    const prefix = opts.pathPrefix || undefined;
    const gen = await this.store.generation();
    const allowed = prefix ? await this.store.idsUnderPrefix(prefix) : null;
    const total = await this.committedPassageCount(gen);
    const available = allowed ? allowed.size : total;
    let notice: string | undefined;
    let k = opts.k;
    if (k > available) {
      notice = `k=${k} is more than the ${available} passages${prefix ? ` under "${prefix}"` : ''}; returning ${available}`;
      k = available;
    }
    const timings = { embedMs: 0, denseMs: 0, bm25Ms: 0, fuseMs: 0 };
    if (k === 0) return { passages: [], notice, timings };
    const want = Math.max(k, CANDIDATES);

    let bm25: Ranked[] = [];
    if (method !== 'dense') {
      const t = performance.now();
      const terms = await this.selectiveTerms(ftsTerms(query), total, gen);
      if (terms.length) bm25 = await this.store.bm25(terms, want, prefix);
      timings.bm25Ms = performance.now() - t;
    }
    // onnxruntime-node runs the forward on this thread, so the stages run one after the other.
    let dense: Ranked[] = [];
    if (method !== 'bm25') {
      let t = performance.now();
      const [qv] = await (await this.embedder()).embed([query]);
      timings.embedMs = performance.now() - t;
      t = performance.now();
      // Embedding awaited: take the index only now, so a commit in between is seen whole.
      const index = await this.index();
      const hits = index.search(qv!, want, total, allowed ? (l) => allowed.has(l) : undefined);
      dense = hits.map((h) => ({ id: h.label, score: h.score }));
      timings.denseMs = performance.now() - t;
    }
    const tFuse = performance.now();
    const fused = reciprocalRankFusion(dense, bm25);
    // Join with committed rows (drops labels another process has just removed), then cut to k.
    const rows = await this.store.passages(fused.slice(0, k + 20).map((f) => f.id));
    const byId = new Map(fused.map((f) => [f.id, f]));
    const passages = rows.slice(0, k).map((p) => {
      const f = byId.get(p.id)!;
      return { ...p, scores: { dense: f.dense, bm25: f.bm25, fused: f.fused } };
    });
    timings.fuseMs = performance.now() - tFuse;
    return { passages, notice, timings };
  }
}
