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
import { HybridSearch, type SearchResult } from './hybrid.ts';
import { acquireWriteLock } from './lock.ts';
import { Store, STORE_FILE, type DocumentWrite } from './store.ts';
import type { CorpusHandle, CorpusStats, StoredDocumentView } from './handle.ts';
import type { DocumentInfo, ScoredPassage, SearchOptions } from './types.ts';
import { VectorIndex, indexFileName, REBUILD_HINT } from './vector-index.ts';
import {
  ingestDocuments,
  ingestPaths,
  type CorpusWriter,
  type WritableCorpus,
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
  /** BM25 leaves out terms found in more than this share of passages (default: `commonTermCap` in fusion.ts). */
  commonTermShare?: number;
}

export type { SearchResult, CorpusStats, StoredDocumentView };

export class Corpus implements CorpusHandle, WritableCorpus {
  readonly kind = 'sqlite' as const;
  private index: VectorIndex | null = null;
  private indexGeneration = -1;
  private embedderPromise: Promise<Embedder> | null = null;
  private writeChain: Promise<unknown> = Promise.resolve();
  private readonly searcher: HybridSearch;

  constructor(
    readonly dir: string,
    readonly store: Store,
    private readonly opts: OpenCorpusOptions,
  ) {
    if (opts.embedder) this.embedderPromise = Promise.resolve(opts.embedder);
    this.searcher = new HybridSearch(
      store,
      () => this.currentIndex(),
      () => this.embedder(),
      opts.commonTermShare,
    );
  }

  get readOnly(): boolean {
    return this.opts.readOnly ?? false;
  }

  embedder(): Promise<Embedder> {
    // A failed load is forgotten, so the next call tries again instead of failing until restart.
    this.embedderPromise ??= Embedder.load({
      dir: this.opts.embedderDir,
      batchSize: this.opts.embedBatch,
    }).catch((err: unknown) => {
      this.embedderPromise = null;
      throw err;
    });
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

  async warm(): Promise<void> {
    this.currentIndex();
  }

  /** Forget the in-memory index (after a failed commit it may hold uncommitted points). */
  dropIndex(): void {
    this.index = null;
    this.indexGeneration = -1;
  }

  async search(query: string, opts: SearchOptions): Promise<ScoredPassage[]> {
    return (await this.searchWithInfo(query, opts)).passages;
  }

  searchWithInfo(query: string, opts: SearchOptions): Promise<SearchResult> {
    return this.searcher.search(query, opts);
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
    return this.write(async (writer) => {
      if (!this.store.getDocument(id)) return false;
      writer.commit([], [id]);
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
   * Runs `fn` as the only writer, with a writer that can commit only until `fn` settles.
   * See `exclusive`.
   */
  write<T>(fn: (writer: CorpusWriter) => Promise<T>): Promise<T> {
    return this.exclusive(async () => {
      let open = true;
      const writer: CorpusWriter = {
        store: this.store,
        embedder: () => this.embedder(),
        commit: (writes, removed, opts) => {
          if (!open) throw new Error('corpus writer used after its write section ended');
          return this.commit(writes, removed, opts);
        },
      };
      try {
        return await fn(writer);
      } finally {
        open = false;
      }
    });
  }

  /**
   * Runs `fn` as the only writer: one at a time in this process, and holding the data
   * folder's write lock against other processes. Leftover files of crashed writers are
   * removed first.
   */
  private async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.readOnly)
      throw new RagspecError(`${this.dir} was opened read-only`, { code: 'read_only', kind: 'conflict' });
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
   * gen+1. Synchronous on purpose; see the file comment. Reached only through a writer.
   */
  private commit(
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
        kind: 'unavailable',
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
