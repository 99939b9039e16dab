/**
 * The retrieval contract the engine and the HTTP layer build on. Implementations live in
 * this folder (SQLite + FTS5 store, hnswlib index); keep callers on these types so the
 * store can later move behind a PostgreSQL/pgvector adapter.
 */

/** One retrieved passage with where it came from. Offsets are character offsets into the source text. */
export interface Passage {
  /** Stable passage id (SQLite rowid). */
  id: number;
  /** Document id (stable per source path or JSONL id). */
  docId: string;
  /** Document path relative to the ingest root (e.g. `commands/npm-ci.md`). */
  path: string;
  title: string;
  /** Headings above the passage, outermost first. */
  headingPath: string[];
  text: string;
  /** [start, end) character offsets of `text` in the document's source text. */
  start: number;
  end: number;
}

export interface ScoredPassage extends Passage {
  scores: {
    /** Cosine similarity from the HNSW index, or null when the passage came only from BM25. */
    dense: number | null;
    /** FTS5 bm25 score (higher is better here: sign flipped), or null when only dense found it. */
    bm25: number | null;
    /** Reciprocal-rank fusion score. */
    fused: number;
  };
}

export interface SearchOptions {
  /** Number of passages to return (clamped to the passage count; must be >= 1). */
  k: number;
  /** Only passages whose document path starts with this prefix. */
  pathPrefix?: string;
  /** 'hybrid' (default), or one side alone for evaluation. */
  method?: 'hybrid' | 'dense' | 'bm25';
}

export interface Retriever {
  search(query: string, opts: SearchOptions): Promise<ScoredPassage[]>;
}

/** A document as the HTTP API and the CLI see it. */
export interface DocumentInfo {
  id: string;
  path: string;
  title: string;
  passages: number;
  contentHash: string;
  updatedAt: string;
}
