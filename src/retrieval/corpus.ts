/**
 * A corpus on disk: the SQLite store plus the hnswlib index of its committed generation.
 * `openCorpus` is the entry point for the CLI, the engine and the HTTP service.
 *
 * Consistency model. Every commit runs synchronously from the first index change to the
 * SQLite commit (no await in between), so queries in this process see either the old or
 * the new generation, never a mix. Other processes detect a new generation on their next
 * query and swap in a freshly loaded index object. Dense hits are always joined against
 * committed passage rows, so a label the store does not know never reaches a caller.
 */
import fs from 'node:fs';
import path from 'node:path';
import { RagspecError } from '../util/errors.ts';
import { paths } from '../util/paths.ts';
import { Embedder, EMBEDDING_DIM, EMBEDDER_NAME } from './embedder.ts';
import { COMMON_TERM_SHARE, ftsMatch, ftsTerms, reciprocalRankFusion, type Ranked } from './fusion.ts';
import { acquireWriteLock } from './lock.ts';
import { Store, STORE_FILE, type DocumentWrite } from './store.ts';
import type { DocumentInfo, Retriever, ScoredPassage, SearchOptions } from './types.ts';
import { VectorIndex, indexFileName, REBUILD_HINT } from './vector-index.ts';
import {
  ingestDocuments,
  ingestPaths,
  type IngestOptions,
  type IngestSummary,
  type NewDocument,
  type ProgressFn,
} from './ingest.ts';
import type { IngestRoot } from './loaders.ts';

export interface OpenCorpusOptions {
  readOnly?: boolean;
  /** Share one loaded embedder between corpora (tests, server). Not closed by `close()`. */
  embedder?: Embedder;
  /** Folder of the embedding model; default `paths.embedder()`. */
  embedderDir?: string;
  /** Passages per embedding forward. */
  embedBatch?: number;
  /** BM25 leaves out terms found in more than this share of passages (default COMMON_TERM_SHARE, 0.5). */
  commonTermShare?: number;
}

export interface SearchResult {
  passages: ScoredPassage[];
  /** Set when `k` was clamped to the passages available. */
  notice?: string;
  /** Milliseconds spent in each stage (0 for a stage the method skips). */
  timings: { embedMs: number; denseMs: number; bm25Ms: number; fuseMs: number };
}

export interface CorpusStats {
  dir: string;
  documents: number;
  passages: number;
  generation: number;
  indexFile: string | null;
  indexBytes: number;
  embedder: string;
  dim: number;
}

export interface StoredDocumentView extends DocumentInfo {
  url: string | null;
  format: 'markdown' | 'text';
  origin: 'file' | 'api';
  /** The text passage offsets point into. */
  source: string;
}

/** Candidates each side contributes to fusion (at least k). */
const CANDIDATES = 50;

export class Corpus implements Retriever {
  /** The `Retriever` view of this corpus (the corpus itself). */
  readonly retriever: Retriever = this;
  private index: VectorIndex | null = null;
  private indexGeneration = -1;
  private embedderPromise: Promise<Embedder> | null = null;
  private writeChain: Promise<unknown> = Promise.resolve();
  private countCache: { generation: number; count: number } | null = null;
  private termCache: { generation: number; df: Map<string, number> } = { generation: -1, df: new Map() };

  constructor(
    readonly dir: string,
    readonly store: Store,
    private readonly opts: OpenCorpusOptions,
  ) {
    if (opts.embedder) this.embedderPromise = Promise.resolve(opts.embedder);
  }

  get readOnly(): boolean {
    return this.opts.readOnly ?? false;
  }

  embedder(): Promise<Embedder> {
    this.embedderPromise ??= Embedder.load({ dir: this.opts.embedderDir, batchSize: this.opts.embedBatch });
    return this.embedderPromise;
  }

  /**
   * The index of the committed generation, (re)loaded when the store moved on (another
   * process committed). Loading validates the file first; a bad file throws BadFileError.
   */
  currentIndex(): VectorIndex {
    for (let attempt = 0; ; attempt++) {
      const gen = this.store.generation();
      if (this.index && gen === this.indexGeneration) return this.index;
      try {
        this.index =
          gen === 0
            ? VectorIndex.empty(EMBEDDING_DIM)
            : VectorIndex.load(path.join(this.dir, indexFileName(gen)), EMBEDDING_DIM, {
                sha256: this.store.meta('index_sha256') ?? undefined,
                bytes: this.store.metaNumber('index_bytes', NaN) || undefined,
              });
        this.indexGeneration = gen;
        return this.index;
      } catch (err) {
        // A writer may have committed (and removed this file) between our two reads: retry once.
        if (attempt === 0 && this.store.generation() !== gen) continue;
        throw err;
      }
    }
  }

  /** Passages of the committed generation; count(*) scans, so it is cached per generation. */
  private committedPassageCount(): number {
    const gen = this.store.generation();
    if (this.countCache?.generation !== gen) this.countCache = { generation: gen, count: this.store.passageCount() };
    return this.countCache.count;
  }

  /**
   * Drops terms found in more than COMMON_TERM_SHARE of the passages, keeping at least the
   * rarest one. Frequencies are probed with a capped count and remembered per generation.
   */
  private selectiveTerms(terms: string[], total: number): string[] {
    const gen = this.store.generation();
    if (this.termCache.generation !== gen) this.termCache = { generation: gen, df: new Map() };
    const cap = Math.max(1, Math.floor(total * (this.opts.commonTermShare ?? COMMON_TERM_SHARE))) + 1;
    const df = terms.map((t) => {
      let n = this.termCache.df.get(t);
      if (n === undefined) this.termCache.df.set(t, (n = this.store.termFrequencyUpTo(t, cap)));
      return n;
    });
    const kept = terms.filter((_, i) => df[i]! < cap);
    if (kept.length) return kept;
    const rarest = df.indexOf(Math.min(...df));
    return rarest >= 0 ? [terms[rarest]!] : [];
  }

  /** Forget the in-memory index (after a failed commit it may hold uncommitted points). */
  dropIndex(): void {
    this.index = null;
    this.indexGeneration = -1;
  }

  async search(query: string, opts: SearchOptions): Promise<ScoredPassage[]> {
    return (await this.searchWithInfo(query, opts)).passages;
  }

  async searchWithInfo(query: string, opts: SearchOptions): Promise<SearchResult> {
    const method = opts.method ?? 'hybrid';
    if (!Number.isInteger(opts.k) || opts.k <= 0) {
      throw new RagspecError(`k must be a whole number of at least 1 (got ${opts.k})`, {
        code: 'bad_k',
        status: 400,
        hint: 'pass -k 5, for example',
      });
    }
    if (!['hybrid', 'dense', 'bm25'].includes(method)) {
      throw new RagspecError(`unknown search method "${method}"`, {
        code: 'bad_method',
        status: 400,
        hint: 'use hybrid, dense or bm25',
      });
    }
    if (typeof query !== 'string' || query.trim() === '') {
      throw new RagspecError('the query is empty', {
        code: 'bad_query',
        status: 400,
        hint: 'pass the question to search for',
      });
    }
    const prefix = opts.pathPrefix || undefined;
    const allowed = prefix ? this.store.idsUnderPrefix(prefix) : null;
    const total = this.committedPassageCount();
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
      const match = ftsMatch(this.selectiveTerms(ftsTerms(query), total));
      if (match) bm25 = this.store.bm25(match, want, prefix);
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
      const index = this.currentIndex();
      const hits = index.search(qv!, want, total, allowed ? (l) => allowed.has(l) : undefined);
      dense = hits.map((h) => ({ id: h.label, score: h.score }));
      timings.denseMs = performance.now() - t;
    }
    const tFuse = performance.now();
    const fused = reciprocalRankFusion(dense, bm25);
    // Join with committed rows (drops labels another process has just removed), then cut to k.
    const rows = this.store.passages(fused.slice(0, k + 20).map((f) => f.id));
    const byId = new Map(fused.map((f) => [f.id, f]));
    const passages = rows.slice(0, k).map((p) => {
      const f = byId.get(p.id)!;
      return { ...p, scores: { dense: f.dense, bm25: f.bm25, fused: f.fused } };
    });
    timings.fuseMs = performance.now() - tFuse;
    return { passages, notice, timings };
  }

  /** Ingests files and folders (see `IngestOptions`); unchanged documents are skipped by content hash. */
  ingestPaths(
    roots: readonly (string | IngestRoot)[],
    opts: IngestOptions = {},
    onProgress?: ProgressFn,
  ): Promise<IngestSummary> {
    return ingestPaths(this, roots, opts, onProgress);
  }

  /** Adds or replaces documents given as text (the HTTP API). Returns their ids in input order. */
  ingestDocuments(
    docs: readonly NewDocument[],
    onProgress?: ProgressFn,
  ): Promise<IngestSummary & { ids: string[] }> {
    return ingestDocuments(this, docs, onProgress);
  }

  /** Re-embeds every stored document into a fresh index. */
  rebuild(onProgress?: ProgressFn): Promise<IngestSummary> {
    return ingestPaths(this, [], { rebuild: true }, onProgress);
  }

  listDocuments(): DocumentInfo[] {
    return this.store.listDocuments();
  }

  getDocument(id: string): StoredDocumentView | null {
    const d = this.store.getDocument(id);
    if (!d) return null;
    const info = this.store.listDocuments().find((x) => x.id === id);
    return {
      id: d.id,
      path: d.path,
      title: d.title,
      passages: info?.passages ?? 0,
      contentHash: d.contentHash,
      updatedAt: info?.updatedAt ?? '',
      url: d.url,
      format: d.format,
      origin: d.origin,
      source: d.source,
    };
  }

  /** Removes a document and its passages (one commit). False when there is no such document. */
  async deleteDocument(id: string): Promise<boolean> {
    return this.exclusive(async () => {
      if (!this.store.getDocument(id)) return false;
      this.commit([], [id]);
      return true;
    });
  }

  stats(): CorpusStats {
    const gen = this.store.generation();
    return {
      dir: this.dir,
      documents: this.store.documentCount(),
      passages: this.store.passageCount(),
      generation: gen,
      indexFile: gen ? path.join(this.dir, indexFileName(gen)) : null,
      indexBytes: this.store.metaNumber('index_bytes', 0),
      embedder: this.store.meta('embedder') ?? EMBEDDER_NAME,
      dim: this.store.metaNumber('dim', EMBEDDING_DIM),
    };
  }

  /**
   * Runs `fn` as the only writer: one at a time in this process, and holding the data
   * folder's write lock against other processes. Leftover files of crashed writers are
   * removed first.
   */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.readOnly)
      throw new RagspecError(`${this.dir} was opened read-only`, { code: 'read_only', status: 409 });
    const run = async () => {
      const release = acquireWriteLock(this.dir);
      try {
        this.removeStrayIndexFiles();
        return await fn();
      } finally {
        release();
      }
    };
    const p = this.writeChain.then(run, run);
    this.writeChain = p.catch(() => undefined);
    return p;
  }

  private removeStrayIndexFiles(): void {
    const keep = indexFileName(this.store.generation());
    for (const name of fs.readdirSync(this.dir)) {
      if (/^index-\d+\.hnsw(\.tmp)?$/.test(name) && name !== keep)
        fs.rmSync(path.join(this.dir, name), { force: true });
    }
  }

  /**
   * Commits new document versions (vectors already computed) and removals as generation
   * gen+1. Synchronous on purpose; see the file comment. Call inside `exclusive`.
   */
  commit(
    writes: readonly (DocumentWrite & { vectors: Float32Array[] })[],
    removed: readonly string[],
    opts: { clearAll?: boolean } = {},
  ): number {
    if (opts.clearAll) {
      // Rebuild: start from an empty index (the old file may be the damaged one).
      this.index = VectorIndex.empty(EMBEDDING_DIM);
      this.indexGeneration = this.store.generation();
    }
    const index = this.currentIndex();
    const gen = this.store.generation();
    let nextLabel = this.store.metaNumber('next_label', 1);
    try {
      for (const w of writes) {
        for (const old of this.store.passageIdsOf(w.doc.id)) index.markDeleted(old);
        w.passages.forEach((p, i) => {
          p.id = nextLabel++;
          index.add(p.id, w.vectors[i]!);
        });
      }
      for (const id of removed) for (const old of this.store.passageIdsOf(id)) index.markDeleted(old);
      const info = index.writeGeneration(this.dir, gen + 1);
      testPause('after-index-write');
      this.store.commit(
        writes,
        removed,
        { generation: gen + 1, nextLabel, indexSha256: info.sha256, indexBytes: info.bytes },
        opts,
      );
      this.indexGeneration = gen + 1;
    } catch (err) {
      this.dropIndex();
      throw err;
    }
    if (gen > 0) fs.rmSync(path.join(this.dir, indexFileName(gen)), { force: true });
    if (this.store.meta('embedder') === null)
      this.store.setMeta({ embedder: EMBEDDER_NAME, dim: String(EMBEDDING_DIM) });
    return gen + 1;
  }

  async close(): Promise<void> {
    await this.writeChain;
    if (this.embedderPromise && !this.opts.embedder) await (await this.embedderPromise).close();
    this.store.close();
  }
}

/**
 * Opens (creating when writable) the corpus in `dir`. The index file is loaded lazily, on
 * the first dense search or write, so `stats()`, listing and `--rebuild` work even when it
 * is damaged.
 */
export async function openCorpus(dir: string = paths.data(), opts: OpenCorpusOptions = {}): Promise<Corpus> {
  const file = path.join(dir, STORE_FILE);
  if (opts.readOnly) {
    if (!fs.existsSync(file)) {
      throw new RagspecError(`no corpus in ${dir}`, {
        code: 'no_corpus',
        status: 503,
        hint: 'run `npx ragspec ingest` first',
      });
    }
  } else {
    fs.mkdirSync(dir, { recursive: true });
  }
  const store = Store.open(file, { readOnly: opts.readOnly });
  const dim = store.metaNumber('dim', EMBEDDING_DIM);
  if (dim !== EMBEDDING_DIM) {
    store.close();
    throw new RagspecError(
      `${file}: the corpus was embedded with ${dim}-dimension vectors, the embedding model gives ${EMBEDDING_DIM}`,
      {
        code: 'bad_dimension',
        hint: REBUILD_HINT,
      },
    );
  }
  return new Corpus(dir, store, opts);
}

/**
 * Test hook for the crash test: RAGSPEC_TEST_COMMIT_PAUSE_MS=<ms> blocks inside each commit
 * (index file renamed, SQLite not yet committed), widening the window a SIGKILL can hit.
 */
function testPause(_where: string): void {
  const ms = Number(process.env.RAGSPEC_TEST_COMMIT_PAUSE_MS ?? 0);
  if (ms > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
