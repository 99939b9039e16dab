/**
 * The ingest pipeline: load → compare content hashes → chunk → embed → commit, in groups
 * of whole documents (`commitEvery` passages), each group one generation. A killed ingest
 * loses at most the group in flight; the next ingest finds those documents unchanged or
 * changed by hash and does the rest.
 */
import crypto from 'node:crypto';
import path from 'node:path';
import { chunkDocument, DEFAULT_CHUNKING, type Chunk } from './chunker.ts';
import type { Embedder } from './embedder.ts';
import {
  discoverFiles,
  loadFile,
  fileDocId,
  type DiscoverOptions,
  type IngestRoot,
  type IssueKind,
  type LoadIssue,
  type SourceDocument,
} from './loaders.ts';
import type { Awaitable } from './hybrid.ts';
import type { DocumentWrite, NewPassage, StoredDocument } from './store.ts';

/** Bump when chunking changes, so re-ingest re-embeds everything. */
const CHUNKER_VERSION = 'c1';

export interface IngestOptions extends DiscoverOptions {
  /** Remove file documents that this ingest did not see. */
  prune?: boolean;
  /** Re-embed every stored document into a fresh index (fixes a damaged index file). */
  rebuild?: boolean;
  /** Passages per commit (one index generation each). Default 256. */
  commitEvery?: number;
}

export interface IngestProgress {
  /** `commit` is sent just before a commit starts, `committed` right after it. */
  phase: 'load' | 'embed' | 'commit' | 'committed' | 'done';
  docsDone: number;
  docsTotal: number;
  passagesDone: number;
  passagesTotal: number;
  generation?: number;
}

export interface IngestSummary {
  docsAdded: number;
  docsChanged: number;
  docsSkipped: number;
  docsRemoved: number;
  /** Files and JSONL lines skipped or refused (see `issues`). */
  docsFailed: number;
  passagesEmbedded: number;
  passagesTotal: number;
  documentsTotal: number;
  generation: number;
  seconds: number;
  passagesPerSecond: number;
  issueCounts: Partial<Record<IssueKind, number>>;
  issues: LoadIssue[];
}

export type ProgressFn = (p: IngestProgress) => void;

/** A document added through the API (`POST /v1/documents`). */
export interface NewDocument {
  id?: string;
  title?: string;
  path?: string;
  url?: string;
  text: string;
  format?: 'markdown' | 'text';
}

/**
 * What ingest needs from a corpus: one exclusive write section at a time. The writer it is
 * handed can commit only while that section runs (the corpus closes it afterwards), so no
 * commit can happen outside the write lock.
 */
export interface WritableCorpus {
  write<T>(fn: (writer: CorpusWriter) => Promise<T>): Promise<T>;
}

/** What planning an ingest reads from a store (SQLite answers at once, PostgreSQL with promises). */
export interface IngestStoreView {
  generation(): Awaitable<number>;
  getDocument(id: string): Awaitable<StoredDocument | null>;
  pendingDocuments(): Awaitable<StoredDocument[]>;
  allDocuments(): Awaitable<StoredDocument[]>;
  passageCount(): Awaitable<number>;
  documentCount(): Awaitable<number>;
}

/** The corpus as seen from inside its exclusive write section. */
export interface CorpusWriter {
  /** Read access to the store, for planning what changed. */
  readonly store: IngestStoreView;
  embedder(): Promise<Embedder>;
  /** Commits new document versions (vectors computed) and removals as the next generation. */
  commit(
    writes: readonly (DocumentWrite & { vectors: Float32Array[] })[],
    removed: readonly string[],
    opts?: { clearAll?: boolean },
  ): Awaitable<number>;
}

export async function ingestPaths(
  corpus: WritableCorpus,
  roots: readonly (string | IngestRoot)[],
  opts: IngestOptions = {},
  onProgress?: ProgressFn,
): Promise<IngestSummary> {
  const t0 = performance.now();
  const { files, issues } = discoverFiles(
    roots.map((r) => (typeof r === 'string' ? { path: r } : r)),
    opts,
  );
  const docs: SourceDocument[] = [];
  files.forEach((f, i) => {
    const r = loadFile(f, opts);
    docs.push(...r.docs);
    issues.push(...r.issues);
    onProgress?.({
      phase: 'load',
      docsDone: i + 1,
      docsTotal: files.length,
      passagesDone: 0,
      passagesTotal: 0,
    });
  });
  return ingestSources(corpus, docs, issues, { ...opts, t0 }, onProgress);
}

export async function ingestDocuments(
  corpus: WritableCorpus,
  input: readonly NewDocument[],
  onProgress?: ProgressFn,
  opts: Pick<IngestOptions, 'commitEvery'> = {},
): Promise<IngestSummary & { ids: string[] }> {
  const docs: SourceDocument[] = [];
  const issues: LoadIssue[] = [];
  const ids: string[] = [];
  input.forEach((d, i) => {
    const id = d.id ?? `a-${crypto.createHash('sha256').update(d.text).digest('hex').slice(0, 16)}`;
    ids.push(id);
    if (typeof d.text !== 'string' || d.text.trim() === '') {
      issues.push({
        kind: 'empty',
        file: d.path ?? id,
        line: i + 1,
        message: `document ${i + 1} (${id}): skipped: empty text`,
      });
      return;
    }
    docs.push({
      id,
      path: d.path ?? `api/${id}`,
      title: d.title ?? null,
      format: d.format ?? 'markdown',
      url: d.url ?? null,
      source: d.text,
      origin: 'api',
    });
  });
  const summary = await ingestSources(corpus, docs, issues, { ...opts, t0: performance.now() }, onProgress);
  return { ...summary, ids };
}

interface Planned {
  doc: StoredDocument;
  chunks: Chunk[];
  isNew: boolean;
}

async function ingestSources(
  corpus: WritableCorpus,
  incoming: readonly SourceDocument[],
  issues: LoadIssue[],
  opts: IngestOptions & { t0: number },
  onProgress?: ProgressFn,
): Promise<IngestSummary> {
  const commitEvery = Math.max(1, opts.commitEvery ?? 256);
  return corpus.write(async (writer) => {
    const embedder = await writer.embedder();
    const count = (t: string) => embedder.tokenizer.encode(t, { add_special_tokens: false }).ids.length;
    const store = writer.store;
    let generation = await store.generation();
    if (opts.rebuild) generation = await writer.commit([], [], { clearAll: true });

    // 1. Which documents are new, changed, unchanged; which are gone.
    const seen = new Map<string, SourceDocument>();
    for (const d of incoming) seen.set(d.id, d);
    const plans: Planned[] = [];
    let skipped = 0;
    const consider = async (d: SourceDocument | StoredDocument, fromStore: boolean) => {
      const chunked = chunkDocument(d.source, d.format, count, DEFAULT_CHUNKING);
      const title = d.title || chunked.title || titleFromPath(d.path);
      const hash = contentHash(d.format, title, d.source);
      const old = fromStore ? (d as StoredDocument) : await store.getDocument(d.id);
      if (old && old.contentHash === hash && old.path === d.path) {
        skipped++;
        return;
      }
      if (!chunked.chunks.length) {
        issues.push({ kind: 'empty', file: d.path, message: `${d.path}: skipped: no text to index` });
        return;
      }
      plans.push({
        doc: {
          id: d.id,
          path: d.path,
          title,
          origin: d.origin,
          format: d.format,
          url: d.url,
          contentHash: hash,
          source: d.source,
        },
        chunks: chunked.chunks,
        isNew: !old || old.contentHash === '',
      });
    };
    for (const d of seen.values()) await consider(d, false);
    // Documents a killed or running rebuild left without passages are embedded again from their stored text.
    for (const d of await store.pendingDocuments())
      if (!seen.has(d.id)) await consider({ ...d, title: d.title }, true);
    const removed = opts.prune
      ? (await store.allDocuments()).filter((d) => d.origin === 'file' && !seen.has(d.id)).map((d) => d.id)
      : [];

    // 2. Embed and commit in groups of whole documents.
    const passagesTotal = plans.reduce((n, p) => n + p.chunks.length, 0);
    let passagesDone = 0;
    let docsDone = 0;
    const progress = (phase: IngestProgress['phase']) =>
      onProgress?.({ phase, docsDone, docsTotal: plans.length, passagesDone, passagesTotal, generation });
    progress('embed');
    for (let i = 0; i < plans.length;) {
      const group: Planned[] = [];
      let n = 0;
      while (i < plans.length && (n === 0 || n + plans[i]!.chunks.length <= commitEvery)) {
        n += plans[i]!.chunks.length;
        group.push(plans[i++]!);
      }
      const texts = group.flatMap((p) => p.chunks.map((c) => embedText(p.doc.title, c)));
      const base = passagesDone;
      const vectors = await embedder.embed(texts, (done) => {
        passagesDone = base + done;
        progress('embed');
      });
      let v = 0;
      const writes = group.map((p) => ({
        doc: p.doc,
        passages: p.chunks.map((c, ord): NewPassage => ({
          id: 0,
          ord,
          start: c.start,
          end: c.end,
          headingPath: c.headingPath,
          text: c.text,
          contentHash: crypto.createHash('sha256').update(c.text).digest('hex').slice(0, 16),
          tokens: c.tokens,
        })),
        vectors: p.chunks.map(() => vectors[v++]!),
      }));
      progress('commit');
      generation = await writer.commit(writes, i >= plans.length ? removed : []);
      docsDone += group.length;
      progress('committed');
    }
    if (!plans.length && removed.length) generation = await writer.commit([], removed);
    progress('done');

    const seconds = (performance.now() - opts.t0) / 1000;
    const issueCounts: Partial<Record<IssueKind, number>> = {};
    for (const x of issues) issueCounts[x.kind] = (issueCounts[x.kind] ?? 0) + 1;
    return {
      docsAdded: plans.filter((p) => p.isNew).length,
      docsChanged: plans.filter((p) => !p.isNew).length,
      docsSkipped: skipped,
      docsRemoved: removed.length,
      docsFailed: issues.length,
      passagesEmbedded: passagesTotal,
      passagesTotal: await store.passageCount(),
      documentsTotal: await store.documentCount(),
      generation,
      seconds,
      passagesPerSecond: seconds > 0 ? passagesTotal / seconds : 0,
      issueCounts,
      issues,
    };
  });
}

/** What the embedder sees: the passage with its document title and headings in front. */
export function embedText(title: string, c: Chunk): string {
  const where = [title, ...c.headingPath].filter(Boolean).join(' > ');
  return where ? `${where}\n\n${c.text}` : c.text;
}

function contentHash(format: string, title: string, source: string): string {
  return crypto
    .createHash('sha256')
    .update(`${CHUNKER_VERSION}\0${format}\0${title}\0${source}`)
    .digest('hex');
}

function titleFromPath(p: string): string {
  return path.basename(p.replace(/#.*$/, '')).replace(/\.[^.]+$/, '');
}

export { fileDocId };
