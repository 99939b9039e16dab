/**
 * Versioned schema migrations, applied at start by every writer (ingest, serve) under an
 * advisory lock, so two replicas starting together apply each migration once. Invariant:
 * migrations are only ever APPENDED; a shipped one is never edited (its version is recorded
 * in `ragspec_migrations` and will not run again).
 */
import type pg from 'pg';
import { RagspecError } from '../../util/errors.ts';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Advisory lock keys (one namespace, arbitrary but fixed numbers). */
export const LOCK_KEYS = { migrate: 72_657_001, write: 72_657_002 } as const;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'corpus: documents, passages (tsvector, length, embedding), inverted term table, generation',
    sql: `
      -- English stemming without a stop-word list, as FTS5's porter tokenizer indexes every word
      -- (the query side drops function words itself, see fusion.ts).
      CREATE TEXT SEARCH DICTIONARY ragspec_stem (TEMPLATE = snowball, LANGUAGE = english);
      CREATE TEXT SEARCH CONFIGURATION ragspec_english (COPY = english);
      ALTER TEXT SEARCH CONFIGURATION ragspec_english
        ALTER MAPPING FOR asciiword, asciihword, hword_asciipart, word, hword, hword_part WITH ragspec_stem;
      CREATE TABLE corpus_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        generation BIGINT NOT NULL,      -- bumped by every commit; replicas poll it
        next_label BIGINT NOT NULL,      -- passage ids (= HNSW labels) only grow, never reused
        passages BIGINT NOT NULL,        -- BM25's N and total length, kept by each commit
        total_len BIGINT NOT NULL
      );
      INSERT INTO corpus_state VALUES (1, 0, 1, 0, 0);
      CREATE TABLE corpus_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE documents (
        id TEXT PRIMARY KEY,
        path TEXT NOT NULL,
        title TEXT NOT NULL,
        origin TEXT NOT NULL,            -- 'file' | 'api'
        format TEXT NOT NULL,            -- 'markdown' | 'text'
        url TEXT,
        content_hash TEXT NOT NULL,      -- '' while a rebuild waits to re-embed it
        source TEXT NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL
      );
      CREATE INDEX documents_path ON documents (path text_pattern_ops);
      CREATE TABLE passages (
        id BIGINT PRIMARY KEY,           -- also the HNSW label
        doc_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
        ord INTEGER NOT NULL,
        start_off INTEGER NOT NULL,
        end_off INTEGER NOT NULL,
        heading_path JSONB NOT NULL,
        text TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        tokens INTEGER NOT NULL,
        tsv TSVECTOR NOT NULL,           -- title A, headings B, text D
        len INTEGER NOT NULL,            -- token positions in tsv (BM25's document length)
        embedding BYTEA NOT NULL         -- float32 little-endian [dim]
      );
      CREATE INDEX passages_doc ON passages (doc_id);
      -- The inverted index BM25 reads: one row per (lexeme, passage), tf weighted by column.
      CREATE TABLE passage_terms (
        lexeme TEXT NOT NULL,
        passage_id BIGINT NOT NULL REFERENCES passages(id) ON DELETE CASCADE,
        tf DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (lexeme, passage_id)
      );
      CREATE INDEX passage_terms_passage ON passage_terms (passage_id);
    `,
  },
  {
    version: 2,
    name: 'analytics: generation records from every replica',
    sql: `
      CREATE TABLE generations (
        id TEXT PRIMARY KEY,
        created_at BIGINT NOT NULL,      -- ms since epoch
        replica TEXT NOT NULL,
        route TEXT NOT NULL,
        mode TEXT NOT NULL,
        finish_reason TEXT NOT NULL,
        question TEXT NOT NULL,
        passages INTEGER NOT NULL,
        latency_ms DOUBLE PRECISION NOT NULL,
        ttft_ms DOUBLE PRECISION,
        stats_json TEXT NOT NULL
      );
      CREATE INDEX generations_created ON generations (created_at, id);
    `,
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** Applies the migrations not yet recorded, each in its own transaction. Returns versions applied. */
export async function migrate(pool: pg.Pool): Promise<number[]> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEYS.migrate]);
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS ragspec_migrations (
        version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`);
      const done = new Set(
        (await client.query<{ version: number }>('SELECT version FROM ragspec_migrations')).rows.map(
          (r) => r.version,
        ),
      );
      const newest = Math.max(0, ...done);
      if (newest > SCHEMA_VERSION) throw tooNew(newest);
      const applied: number[] = [];
      for (const m of MIGRATIONS) {
        if (done.has(m.version)) continue;
        await client.query('BEGIN');
        try {
          await client.query(m.sql);
          await client.query('INSERT INTO ragspec_migrations (version, name) VALUES ($1, $2)', [
            m.version,
            m.name,
          ]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw err;
        }
        applied.push(m.version);
      }
      return applied;
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [LOCK_KEYS.migrate]).catch(() => undefined);
    }
  } finally {
    client.release();
  }
}

/** For read-only openers: the schema must be there and not newer than this ragspec. */
export async function checkSchema(pool: pg.Pool, where: string): Promise<void> {
  const r = await pool.query<{ t: string | null }>("SELECT to_regclass('ragspec_migrations')::text AS t");
  if (!r.rows[0]?.t) throw missingSchema(where);
  const v = await pool.query<{ v: number | null }>('SELECT max(version) AS v FROM ragspec_migrations');
  const newest = Number(v.rows[0]?.v ?? 0);
  if (newest > SCHEMA_VERSION) throw tooNew(newest);
  if (newest < 1) throw missingSchema(where);
}

export function missingSchema(where: string): RagspecError {
  return new RagspecError(`${where} holds no ragspec schema (no ragspec_migrations table)`, {
    code: 'schema_missing',
    kind: 'unavailable',
    hint: `run \`npx ragspec ingest --store ${where}\` once (it applies the migrations), or fix the URL`,
  });
}

function tooNew(version: number): RagspecError {
  return new RagspecError(
    `the database schema is at version ${version}, this ragspec knows up to ${SCHEMA_VERSION}`,
    { code: 'schema_newer', kind: 'conflict', hint: 'upgrade ragspec on this replica' },
  );
}
