/**
 * What a killed ingest must leave behind, checked against what the test itself knows (not
 * against the store's own word): every document committed before the kill is still there,
 * with passages and a live vector per passage. A document the ingest was rewriting is at
 * its old or its new version; nothing else appears.
 */
import type { Corpus } from '../../src/retrieval/index.ts';

/**
 * Problems found, one line each (empty when the store is as it must be).
 * @param committed path → source of the store before the kill (the state the test verified)
 * @param onDisk    path → source of the files the killed ingest was working on
 */
export function survivorProblems(
  corpus: Corpus,
  committed: ReadonlyMap<string, string>,
  onDisk: ReadonlyMap<string, string>,
): string[] {
  const problems: string[] = [];
  const stored = new Map(corpus.listDocuments().map((d) => [d.path, d]));
  const index = corpus.store.generation() > 0 ? corpus.currentIndex() : null;
  for (const [p, source] of committed) {
    const d = stored.get(p);
    const next = onDisk.get(p);
    if (!d) {
      // only a removal of a file deleted on disk may take a committed document away
      if (next !== undefined) problems.push(`${p}: committed before the kill, missing after it`);
      continue;
    }
    const now = corpus.getDocument(d.id)!.source;
    if (now !== source && now !== next) problems.push(`${p}: neither its committed nor its new version`);
  }
  for (const [p, d] of stored) {
    const now = corpus.getDocument(d.id)!.source;
    if (!committed.has(p) && now !== onDisk.get(p))
      problems.push(`${p}: appeared with content never written`);
    const ids = corpus.store.passageIdsOf(d.id);
    if (ids.length === 0) problems.push(`${p}: no passages`);
    const lost = ids.filter((id) => !index?.has(id));
    if (lost.length) problems.push(`${p}: passages ${lost.join(', ')} have no vector`);
  }
  return problems;
}

/**
 * Index files a kill may not leave: anything beside the committed generation's file other
 * than the interrupted commit's (`index-<gen+1>.hnsw`, renamed but not recorded, or its
 * `.tmp`), and a missing committed file.
 */
export function unexpectedIndexFiles(names: readonly string[], generation: number): string[] {
  const committed = `index-${generation}.hnsw`;
  const bad = names.filter((n) => n !== committed && !n.startsWith(`index-${generation + 1}.hnsw`));
  if (generation > 0 && !names.includes(committed)) bad.push(`${committed} (missing)`);
  return bad;
}
