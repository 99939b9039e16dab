/**
 * The store kinds the shared retrieval contract tests run against: the SQLite folder and a
 * real PostgreSQL (test/helpers/postgres.ts). Each kind opens a corpus and exposes the two
 * internals the contract checks: a document's passage ids, and "the live vector-index
 * labels equal the stored passage ids".
 */
import path from 'node:path';
import { afterAll } from 'vitest';
import { Corpus, openCorpus } from '../../src/retrieval/corpus.ts';
import type { CorpusHandle } from '../../src/retrieval/handle.ts';
import { openPgCorpus, PgCorpus } from '../../src/retrieval/pg/corpus.ts';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.ts';
import { sharedEmbedder, tempDir } from './helpers.ts';

export const STORE_KINDS = ['sqlite', 'postgres'] as const;
export type StoreKind = (typeof STORE_KINDS)[number];

export interface StoreFixture {
  kind: StoreKind;
  /** A new, empty location (a folder or a database). */
  location(): Promise<string>;
  open(location: string, opts?: { readOnly?: boolean }): Promise<CorpusHandle>;
  passageIdsOf(c: CorpusHandle, docId: string): Promise<number[]>;
  allPassageIds(c: CorpusHandle): Promise<number[]>;
  liveLabels(c: CorpusHandle): Promise<number[]>;
}

let server: Promise<TestPostgres> | null = null;

/** One PostgreSQL per test file, started on first use and stopped after the file. */
export function testPostgres(): Promise<TestPostgres> {
  if (!server) {
    server = startTestPostgres();
    afterAll(async () => (await server!).stop(), 60_000);
  }
  return server;
}

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);

export function storeFixture(kind: StoreKind): StoreFixture {
  if (kind === 'sqlite')
    return {
      kind,
      location: async () => path.join(tempDir('kind'), '.data'),
      open: async (dir, opts) => openCorpus(dir, { embedder: await sharedEmbedder(), ...opts }),
      passageIdsOf: async (c, id) => sorted((c as Corpus).store.passageIdsOf(id)),
      allPassageIds: async (c) => (c as Corpus).store.allPassageIds(),
      liveLabels: async (c) => sorted((c as Corpus).currentIndex().liveLabels()),
    };
  return {
    kind,
    location: async () => (await testPostgres()).createDatabase('kind'),
    open: async (url, opts) => openPgCorpus(url, { embedder: await sharedEmbedder(), ...opts }),
    passageIdsOf: async (c, id) => (c as PgCorpus).store.passageIdsOf(id),
    allPassageIds: async (c) => (c as PgCorpus).store.allPassageIds(),
    liveLabels: async (c) => sorted((await (c as PgCorpus).denseIndex()).liveLabels()),
  };
}
