/**
 * Opens a corpus in whichever store is named: a data folder (SQLite, the default) or a
 * PostgreSQL URL (shared by replicas). The one place that chooses between the two.
 */
import { openCorpus, type OpenCorpusOptions } from './corpus.ts';
import type { CorpusHandle } from './handle.ts';
import { openPgCorpus } from './pg/corpus.ts';

export type StoreTarget = { kind: 'sqlite'; dir: string } | { kind: 'postgres'; url: string };

export function openCorpusAt(target: StoreTarget, opts: OpenCorpusOptions = {}): Promise<CorpusHandle> {
  return target.kind === 'postgres' ? openPgCorpus(target.url, opts) : openCorpus(target.dir, opts);
}
