/**
 * One open corpus as its users (the CLI, the HTTP service, tests) see it, whichever store
 * holds it: the SQLite folder (`Corpus`) or a shared PostgreSQL database (`PgCorpus`).
 * Reads may answer at once (SQLite) or with a promise (PostgreSQL): callers `await` them.
 */
import type { Embedder } from './embedder.ts';
import type { Awaitable, SearchResult } from './hybrid.ts';
import type { IngestOptions, IngestSummary, NewDocument, ProgressFn } from './ingest.ts';
import type { IngestRoot } from './loaders.ts';
import type { DocumentInfo, Retriever, SearchOptions } from './types.ts';

export interface CorpusStats {
  /** The data folder, or the database URL without its password. */
  dir: string;
  documents: number;
  passages: number;
  generation: number;
  /** The index file of this generation (SQLite); null when empty or kept in memory (PostgreSQL). */
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

export interface CorpusHandle extends Retriever {
  readonly readOnly: boolean;
  /** 'sqlite' or 'postgres', for logs and stats. */
  readonly kind: 'sqlite' | 'postgres';
  embedder(): Promise<Embedder>;
  /** Load what the first query needs now (the vector index), so a broken store shows at start. */
  warm(): Promise<void>;
  searchWithInfo(query: string, opts: SearchOptions): Promise<SearchResult>;
  ingestPaths(
    roots: readonly (string | IngestRoot)[],
    opts?: IngestOptions,
    onProgress?: ProgressFn,
  ): Promise<IngestSummary>;
  ingestDocuments(
    docs: readonly NewDocument[],
    onProgress?: ProgressFn,
  ): Promise<IngestSummary & { ids: string[] }>;
  rebuild(onProgress?: ProgressFn): Promise<IngestSummary>;
  listDocuments(): Awaitable<DocumentInfo[]>;
  getDocument(id: string): Awaitable<StoredDocumentView | null>;
  deleteDocument(id: string): Promise<boolean>;
  stats(): Awaitable<CorpusStats>;
  close(): Promise<void>;
}
