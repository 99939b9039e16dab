/**
 * The corpus step of setup: ingest the default corpus (npm's bundled docs + corpus/) into
 * a data folder when it holds no passages yet. Skipped otherwise, so setup stays cheap on
 * a second run; `ragspec ingest` is the tool for updating a corpus.
 */
import fs from 'node:fs';
import path from 'node:path';
import { defaultCorpusRoots, openCorpus } from '../../retrieval/index.ts';
import { startProgress, type Progress } from '../../util/progress.ts';

async function passageCount(dir: string): Promise<number> {
  if (!fs.existsSync(path.join(dir, 'ragspec.db'))) return 0;
  const corpus = await openCorpus(dir, { readOnly: true });
  try {
    return corpus.stats().passages;
  } finally {
    await corpus.close();
  }
}

export async function ensureDefaultCorpus(dir: string, log: (line: string) => void): Promise<void> {
  const have = await passageCount(dir);
  if (have > 0) {
    log(`✓ corpus in ${dir} already holds ${have} passages`);
    return;
  }
  log(`⇢ ingesting the default corpus (npm's docs + corpus/) into ${dir}`);
  const corpus = await openCorpus(dir);
  let bar: Progress | null = null;
  try {
    const s = await corpus.ingestPaths(defaultCorpusRoots(), {}, (p) => {
      if (!p.passagesTotal) return;
      bar ??= startProgress('ingest', p.passagesTotal, 'passages');
      bar.update(p.passagesDone);
    });
    (bar as Progress | null)?.stop();
    log(`✓ ingested ${s.documentsTotal} documents, ${s.passagesTotal} passages in ${s.seconds.toFixed(1)} s`);
  } finally {
    await corpus.close();
  }
}
