/**
 * A corpus in a shared PostgreSQL database, for stateless replicas. Every replica holds
 * only an in-memory hnswlib index, built from the embeddings in the database at start and
 * kept current by the generation counter: each search reads the committed generation (one
 * tiny query) and, when it moved, applies the additions and removals since (see
 * `PgStore.changesSince`). So a commit made through any replica is seen by every replica on
 * its next search. Nothing is written to local disk.
 *
 * Writers are serialised across processes by a PostgreSQL advisory lock held on one
 * connection for the whole write section; a killed writer's connection drops, which rolls
 * back its open transaction and releases the lock.
 *
 * pgvector would replace only `denseIndex()`: keep the dense side behind it.
 */
import type pg from 'pg';
import { RagspecError } from '../../util/errors.ts';
import { Embedder, EMBEDDING_DIM, EMBEDDER_NAME } from '../embedder.ts';
import type { CorpusHandle, CorpusStats, StoredDocumentView } from '../handle.ts';
import { HybridSearch, type SearchResult } from '../hybrid.ts';
import {
  ingestDocuments,
  ingestPaths,
  type CorpusWriter,
  type IngestOptions,
  type IngestSummary,
  type NewDocument,
  type ProgressFn,
  type WritableCorpus,
} from '../ingest.ts';
import type { IngestRoot } from '../loaders.ts';
import type { DocumentInfo, ScoredPassage, SearchOptions } from '../types.ts';
import { VectorIndex } from '../vector-index.ts';
import { connectPool, describePgError, redactUrl } from './connect.ts';
import { checkSchema, LOCK_KEYS, migrate } from './migrations.ts';
import { PgStore, type VectorWrite } from './store.ts';

export interface OpenPgCorpusOptions {
  readOnly?: boolean;
  embedder?: Embedder;
  embedderDir?: string;
  embedBatch?: number;
  commonTermShare?: number;
  /** How long a writer waits for another replica's write section before `store_busy`. */
  lockWaitMs?: number;
  /** Passages per commit (one generation each) for uploads; default as in ingest (256). */
  commitEvery?: number;
}

/** Lock waits longer than this become a `store_busy` conflict (default). */
const LOCK_WAIT_MS = 30_000;

export class PgCorpus implements CorpusHandle, WritableCorpus {
  readonly kind = 'postgres' as const;
  readonly store: PgStore;
  private index = VectorIndex.empty(EMBEDDING_DIM);
  /** Labels in `index` that are live, the highest label added, and the generation synced. */
  private live = new Set<number>();
  private maxLabel = 0;
  private syncedGeneration = -1;
  private syncing: Promise<void> | null = null;
  private embedderPromise: Promise<Embedder> | null = null;
  private writeChain: Promise<unknown> = Promise.resolve();
  private readonly searcher: HybridSearch;
  /** Build time of the last full index build from the database, ms (bench and logs). */
  lastBuildMs = 0;

  constructor(
    readonly url: string,
    readonly pool: pg.Pool,
    private readonly opts: OpenPgCorpusOptions,
  ) {
    this.store = new PgStore(pool);
    if (opts.embedder) this.embedderPromise = Promise.resolve(opts.embedder);
    this.searcher = new HybridSearch(
      this.store,
      () => this.denseIndex(),
      () => this.embedder(),
      opts.commonTermShare,
    );
  }

  get readOnly(): boolean {
    return this.opts.readOnly ?? false;
  }

  embedder(): Promise<Embedder> {
    this.embedderPromise ??= Embedder.load({
      dir: this.opts.embedderDir,
      batchSize: this.opts.embedBatch,
    }).catch((err: unknown) => {
      this.embedderPromise = null;
      throw err;
    });
    return this.embedderPromise;
  }

  async warm(): Promise<void> {
    await this.denseIndex();
  }

  /** The index of the committed generation, brought up to date first when another replica committed. */
  async denseIndex(): Promise<VectorIndex> {
    for (;;) {
      const gen = await this.pgCall(() => this.store.generation());
      if (gen === this.syncedGeneration) return this.index;
      this.syncing ??= this.sync().finally(() => (this.syncing = null));
      await this.syncing;
      if (this.syncedGeneration >= gen) return this.index;
    }
  }

  /** Apply the database's changes since the last sync to the in-memory index. */
  private async sync(): Promise<void> {
    const t0 = performance.now();
    const fresh = this.syncedGeneration < 0;
    const c = await this.pgCall(() => this.store.changesSince(this.maxLabel));
    const liveNow = new Set(c.liveIds);
    for (const id of this.live) if (!liveNow.has(id)) this.index.markDeleted(id);
    for (const a of c.added) {
      this.index.add(a.id, a.vector);
      if (a.id > this.maxLabel) this.maxLabel = a.id;
    }
    this.live = liveNow;
    this.syncedGeneration = c.generation;
    if (fresh) this.lastBuildMs = performance.now() - t0;
  }

  async search(query: string, opts: SearchOptions): Promise<ScoredPassage[]> {
    return (await this.searchWithInfo(query, opts)).passages;
  }

  searchWithInfo(query: string, opts: SearchOptions): Promise<SearchResult> {
    return this.pgCall(() => this.searcher.search(query, opts));
  }

  ingestPaths(
    roots: readonly (string | IngestRoot)[],
    opts: IngestOptions = {},
    onProgress?: ProgressFn,
  ): Promise<IngestSummary> {
    return ingestPaths(this, roots, opts, onProgress);
  }

  ingestDocuments(
    docs: readonly NewDocument[],
    onProgress?: ProgressFn,
  ): Promise<IngestSummary & { ids: string[] }> {
    return ingestDocuments(this, docs, onProgress, { commitEvery: this.opts.commitEvery });
  }

  rebuild(onProgress?: ProgressFn): Promise<IngestSummary> {
    return ingestPaths(this, [], { rebuild: true }, onProgress);
  }

  listDocuments(): Promise<DocumentInfo[]> {
    return this.pgCall(() => this.store.listDocuments());
  }

  async getDocument(id: string): Promise<StoredDocumentView | null> {
    return this.pgCall(async () => {
      const d = await this.store.getDocument(id);
      if (!d) return null;
      const info = (await this.store.listDocuments(id))[0];
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
    });
  }

  async deleteDocument(id: string): Promise<boolean> {
    return this.write(async (writer) => {
      if (!(await this.store.getDocument(id))) return false;
      await writer.commit([], [id]);
      return true;
    });
  }

  async stats(): Promise<CorpusStats> {
    return this.pgCall(async () => ({
      dir: redactUrl(this.url),
      documents: await this.store.documentCount(),
      passages: await this.store.passageCount(),
      generation: await this.store.generation(),
      indexFile: null,
      indexBytes: 0,
      embedder: (await this.store.meta('embedder')) ?? EMBEDDER_NAME,
      dim: Number((await this.store.meta('dim')) ?? EMBEDDING_DIM),
    }));
  }

  /**
   * Runs `fn` as the only writer of the database: one at a time in this process, and
   * holding the write advisory lock against every other replica and ingest.
   */
  write<T>(fn: (writer: CorpusWriter) => Promise<T>): Promise<T> {
    if (this.readOnly)
      return Promise.reject(
        new RagspecError(`${redactUrl(this.url)} was opened read-only`, {
          code: 'read_only',
          kind: 'conflict',
        }),
      );
    const run = async () => {
      const client = await this.pgCall(() => this.pool.connect());
      try {
        await this.lock(client);
        let open = true;
        const writer: CorpusWriter = {
          store: this.store,
          embedder: () => this.embedder(),
          commit: (writes, removed, o) => {
            if (!open) throw new Error('corpus writer used after its write section ended');
            return this.pgCall(() => this.store.commit(client, writes as readonly VectorWrite[], removed, o));
          },
        };
        try {
          const out = await fn(writer);
          // Fresh statistics, so the planner reads the term table by its index at once
          // instead of waiting for autovacuum.
          await client.query('ANALYZE passages, passage_terms');
          if ((await this.store.meta('embedder')) === null)
            await this.store.setMeta({ embedder: EMBEDDER_NAME, dim: String(EMBEDDING_DIM) });
          return out;
        } finally {
          open = false;
          await client.query('SELECT pg_advisory_unlock($1)', [LOCK_KEYS.write]).catch(() => undefined);
        }
      } finally {
        client.release();
      }
    };
    const p = this.writeChain.then(run, run);
    this.writeChain = p.catch(() => undefined);
    return p;
  }

  private async lock(client: pg.PoolClient): Promise<void> {
    const ms = this.opts.lockWaitMs ?? LOCK_WAIT_MS;
    try {
      await client.query(`SET lock_timeout = ${Math.max(1, Math.floor(ms))}`);
      await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEYS.write]);
      await client.query('SET lock_timeout = 0');
    } catch (err) {
      if ((err as { code?: string }).code === '55P03')
        throw new RagspecError(`${redactUrl(this.url)} is being written by another ragspec process`, {
          code: 'store_busy',
          kind: 'conflict',
          hint: 'wait for that ingest to finish, or stop it',
        });
      throw describePgError(err, this.url);
    }
  }

  /** Runs a database call, turning connection failures into one-line errors. */
  private async pgCall<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof RagspecError || !(err as { code?: string }).code) throw err;
      throw describePgError(err, this.url);
    }
  }

  async close(): Promise<void> {
    await this.writeChain;
    if (this.embedderPromise && !this.opts.embedder) await (await this.embedderPromise).close();
    await this.pool.end();
  }
}

/**
 * Connects, applies pending migrations (writers) or checks the schema is there (read-only),
 * and checks the stored vectors' dimension against the embedder's.
 */
export async function openPgCorpus(url: string, opts: OpenPgCorpusOptions = {}): Promise<PgCorpus> {
  const pool = await connectPool(url);
  try {
    if (opts.readOnly) await checkSchema(pool, redactUrl(url));
    else await migrate(pool);
    const corpus = new PgCorpus(url, pool, opts);
    const dim = Number((await corpus.store.meta('dim')) ?? EMBEDDING_DIM);
    if (dim !== EMBEDDING_DIM)
      throw new RagspecError(
        `${redactUrl(url)}: the corpus was embedded with ${dim}-dimension vectors, the embedding model gives ${EMBEDDING_DIM}`,
        { code: 'bad_dimension', hint: 'run `npx ragspec ingest --store URL --rebuild`' },
      );
    return corpus;
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw describePgError(err, url);
  }
}
