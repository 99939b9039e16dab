/**
 * The retrieval package's corpus (SQLite or PostgreSQL) seen through the HTTP layer's `CorpusService`.
 * Uploads go through `ingestDocuments`, the same pipeline as `ragspec ingest`. An uploaded
 * document's id is derived from its path, so posting the same path again replaces it.
 */
import crypto from 'node:crypto';
import type { CorpusHandle, SearchOptions } from '../retrieval/index.ts';
import type { CorpusService, DocumentDetail, DocumentUpload, IngestOutcome } from './deps.ts';
import { BadFileError } from '../util/errors.ts';
import { BadRequestError, ServiceUnavailableError } from './errors.ts';

export function uploadDocId(docPath: string): string {
  return `a-${crypto.createHash('sha256').update(`api:${docPath}`).digest('hex').slice(0, 16)}`;
}

export class CorpusAdapter implements CorpusService {
  constructor(readonly corpus: CorpusHandle) {}

  /** Load the committed index and the embedder now rather than on the first query. */
  async open(): Promise<void> {
    await this.corpus.warm();
    await this.corpus.embedder();
  }

  async search(query: string, opts: SearchOptions) {
    try {
      return await this.corpus.search(query, opts);
    } catch (err) {
      // A file of ours went bad after startup: the server's fault, not the query's (was a 400).
      if (err instanceof BadFileError)
        throw new ServiceUnavailableError(
          'the search index is damaged — the operator must rebuild it (`ragspec ingest --rebuild`)',
          'index_damaged',
          30,
        );
      throw err;
    }
  }

  async ingest(docs: DocumentUpload[]): Promise<IngestOutcome> {
    const summary = await this.corpus.ingestDocuments(
      docs.map((d) => ({
        id: uploadDocId(d.path),
        path: d.path,
        title: d.title,
        text: d.text,
        format: d.format === 'text' ? 'text' : 'markdown',
      })),
    );
    if (summary.docsFailed > 0) {
      const first = summary.issues[0];
      throw new BadRequestError(
        `${summary.docsFailed} document(s) refused: ${first?.message ?? 'unreadable'}`,
        'documents',
        'document_refused',
      );
    }
    const wanted = new Set(summary.ids);
    const documents = (await this.corpus.listDocuments()).filter((d) => wanted.has(d.id));
    return {
      documents,
      added: summary.docsAdded,
      updated: summary.docsChanged,
      unchanged: summary.docsSkipped,
      passages: summary.passagesEmbedded,
    };
  }

  async list(opts: { limit: number; offset: number; prefix?: string }) {
    const all = (await this.corpus.listDocuments()).filter(
      (d) => !opts.prefix || d.path.startsWith(opts.prefix),
    );
    return { documents: all.slice(opts.offset, opts.offset + opts.limit), total: all.length };
  }

  async get(id: string): Promise<DocumentDetail | null> {
    const d = await this.corpus.getDocument(id);
    if (!d) return null;
    return {
      id: d.id,
      path: d.path,
      title: d.title,
      passages: d.passages,
      contentHash: d.contentHash,
      updatedAt: d.updatedAt,
      text: d.source,
    };
  }

  remove(id: string): Promise<boolean> {
    return this.corpus.deleteDocument(id);
  }

  async stats() {
    const s = await this.corpus.stats();
    return { documents: s.documents, passages: s.passages };
  }

  close(): Promise<void> {
    return this.corpus.close();
  }
}
