/**
 * Copies a SQLite corpus (documents, passages and the vectors in its HNSW index) into a
 * PostgreSQL corpus without embedding anything again: moving a single-machine deployment
 * to replicas, and the recall test's way of reusing embeddings already computed. Documents
 * the target already holds with the same content hash are skipped, so it can be re-run.
 */
import type { Corpus } from '../corpus.ts';
import type { ProgressFn } from '../ingest.ts';
import type { PgCorpus } from './corpus.ts';
import type { VectorWrite } from './store.ts';

/** Passages per commit (one generation each), as in ingest. */
const COMMIT_EVERY = 256;

export async function copySqliteCorpus(
  source: Corpus,
  target: PgCorpus,
  onProgress?: ProgressFn,
): Promise<{ documents: number; passages: number; skipped: number }> {
  const index = source.currentIndex();
  const docs = source.store.allDocuments().filter((d) => d.contentHash !== '');
  return target.write(async (writer) => {
    let group: VectorWrite[] = [];
    let n = 0;
    let copied = 0;
    let passages = 0;
    let skipped = 0;
    let docsDone = 0;
    const total = source.store.passageCount();
    const flush = async () => {
      if (!group.length) return;
      const generation = await writer.commit(group, []);
      copied += group.length;
      docsDone += group.length;
      onProgress?.({
        phase: 'committed',
        docsDone,
        docsTotal: docs.length,
        passagesDone: passages,
        passagesTotal: total,
        generation,
      });
      group = [];
      n = 0;
    };
    for (const doc of docs) {
      const have = await target.store.getDocument(doc.id);
      if (have && have.contentHash === doc.contentHash && have.path === doc.path) {
        skipped++;
        docsDone++;
        continue;
      }
      const rows = source.store.passageRowsOf(doc.id);
      const vectors = rows.map((p) => index.vector(p.id));
      if (vectors.some((v) => v === null)) continue; // not in the committed index: leave it to ingest
      group.push({ doc, passages: rows, vectors: vectors as Float32Array[] });
      n += rows.length;
      passages += rows.length;
      if (n >= COMMIT_EVERY) await flush();
    }
    await flush();
    return { documents: copied, passages, skipped };
  });
}
