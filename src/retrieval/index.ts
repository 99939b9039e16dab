/** Public surface of retrieval: open a corpus, ingest into it, search it. */
export {
  openCorpus,
  Corpus,
  type OpenCorpusOptions,
  type SearchResult,
  type CorpusStats,
  type StoredDocumentView,
} from './corpus.ts';
export type { IngestOptions, IngestProgress, IngestSummary, NewDocument, ProgressFn } from './ingest.ts';
export type { IngestRoot, LoadIssue, IssueKind } from './loaders.ts';
export { defaultCorpusRoots, npmDocsDir } from './default-corpus.ts';
export { Embedder, EMBEDDING_DIM, EMBEDDER_NAME } from './embedder.ts';
export * from './types.ts';
export type { CorpusHandle } from './handle.ts';
export { openCorpusAt, type StoreTarget } from './open.ts';
export { PgCorpus, openPgCorpus } from './pg/corpus.ts';
export { isPostgresUrl, redactUrl } from './pg/connect.ts';
