/**
 * Per-request generation records in their own SQLite file (`analytics.sqlite` under the
 * data folder), so the acceptance analytics survive restarts and never touch the corpus DB.
 *
 * Analytics is a side channel, never a reason for an answer to fail or the server not to start:
 * - a failing write is logged and dropped;
 * - a file that is not a readable SQLite database is moved aside (`.corrupt-<time>`) with one
 *   warning, and a fresh one is started;
 * - rows are kept for `maxAgeMs` and at most `maxRows` (pruned on open and every
 *   PRUNE_EVERY writes);
 * - reads are async and paged, yielding to the event loop between pages.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { DraftSourceKind, FinishReason, GenerationStats } from '../../engine/types.ts';
import { errorMessage } from '../../util/errors.ts';

export interface GenerationRecord {
  id: string;
  /** ms since epoch */
  createdAt: number;
  route: string;
  mode: string;
  finishReason: FinishReason;
  /** First 200 chars of the question / last user message. */
  question: string;
  passages: number;
  stats: GenerationStats;
  /** Wall time from request to end, ms. */
  latencyMs: number;
  /** Time to first emitted text, ms (null if nothing was emitted). */
  ttftMs: number | null;
}

/**
 * Where generation records go and are read back: this SQLite file per process, or the shared
 * PostgreSQL table (`PgAnalyticsStore`) that aggregates every replica's records.
 */
export interface GenerationRecords {
  /** Store one record; never throws (a failed write is logged and dropped). */
  record(r: GenerationRecord): void;
  /** All records since `since` (ms since epoch), oldest first. */
  since(since: number): Promise<GenerationRecord[]>;
  close(): void | Promise<void>;
}

/** Where the store reports what it dropped or moved (pino's `warn` fits). */
export interface AnalyticsLog {
  warn(obj: object, msg: string): void;
}

export interface AnalyticsOptions {
  /** Rows older than this are deleted; default 30 days. */
  maxAgeMs?: number;
  /** At most this many rows are kept (the newest); default 100,000. */
  maxRows?: number;
  /** Rows per read page; default 1000. */
  pageSize?: number;
  log?: AnalyticsLog;
  /** Clock, for tests. */
  now?: () => number;
}

export const ANALYTICS_DEFAULTS = { maxAgeMs: 30 * 86_400_000, maxRows: 100_000, pageSize: 1000 };
const PRUNE_EVERY = 100;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS generations (
  id TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL,
  route TEXT NOT NULL,
  mode TEXT NOT NULL,
  finish_reason TEXT NOT NULL,
  question TEXT NOT NULL,
  passages INTEGER NOT NULL,
  latency_ms REAL NOT NULL,
  ttft_ms REAL,
  stats_json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS generations_created ON generations(created_at, id);
`;

interface Row {
  id: string;
  created_at: number;
  route: string;
  mode: string;
  finish_reason: string;
  question: string;
  passages: number;
  latency_ms: number;
  ttft_ms: number | null;
  stats_json: string;
}

/** SQLite's answers for "this file is not a database I can use". */
const CORRUPT_CODES = new Set(['SQLITE_NOTADB', 'SQLITE_CORRUPT']);

export class AnalyticsStore implements GenerationRecords {
  private readonly db: Database.Database;
  private readonly insertStmt: Database.Statement;
  private readonly pageStmt: Database.Statement;
  private readonly opts: Required<Omit<AnalyticsOptions, 'log'>> & { log?: AnalyticsLog };
  private writes = 0;

  constructor(
    readonly file: string,
    options: AnalyticsOptions = {},
  ) {
    this.opts = { ...ANALYTICS_DEFAULTS, now: Date.now, ...options };
    fs.mkdirSync(path.dirname(file), { recursive: true });
    this.db = this.open();
    this.insertStmt = this.db.prepare(
      `INSERT INTO generations (id, created_at, route, mode, finish_reason, question, passages, latency_ms, ttft_ms, stats_json)
       VALUES (@id, @createdAt, @route, @mode, @finishReason, @question, @passages, @latencyMs, @ttftMs, @statsJson)`,
    );
    // Keyset paging on (created_at, id): each page starts after the last row of the one before.
    this.pageStmt = this.db.prepare(
      `SELECT * FROM generations WHERE (created_at, id) > (?, ?) ORDER BY created_at, id LIMIT ?`,
    );
    this.prune();
  }

  private open(): Database.Database {
    try {
      return openDb(this.file);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (!code || !CORRUPT_CODES.has(code)) throw err;
      const aside = `${this.file}.corrupt-${new Date(this.opts.now()).toISOString().replace(/[:.]/g, '-')}`;
      fs.renameSync(this.file, aside);
      for (const ext of ['-wal', '-shm']) fs.rmSync(this.file + ext, { force: true });
      this.opts.log?.warn(
        { file: this.file, movedTo: aside },
        `analytics database was unreadable (${code}); moved aside, starting a new one`,
      );
      return openDb(this.file);
    }
  }

  /** Store one record. Never throws: a failed write is logged and dropped. */
  record(r: GenerationRecord): void {
    try {
      this.insertStmt.run({
        id: r.id,
        createdAt: r.createdAt,
        route: r.route,
        mode: r.mode,
        finishReason: r.finishReason,
        question: r.question.slice(0, 200),
        passages: r.passages,
        latencyMs: r.latencyMs,
        ttftMs: r.ttftMs,
        statsJson: JSON.stringify(r.stats),
      });
      if (++this.writes % PRUNE_EVERY === 0) this.prune();
    } catch (err) {
      this.opts.log?.warn({ err: errorMessage(err), id: r.id }, 'analytics write failed; record dropped');
    }
  }

  /** Delete rows past the age limit, then the oldest beyond the row limit. */
  prune(): void {
    this.db.prepare('DELETE FROM generations WHERE created_at < ?').run(this.opts.now() - this.opts.maxAgeMs);
    this.db
      .prepare(
        `DELETE FROM generations WHERE id IN (
           SELECT id FROM generations ORDER BY created_at DESC, id DESC LIMIT -1 OFFSET ?)`,
      )
      .run(this.opts.maxRows);
  }

  count(): number {
    return Number(this.db.prepare('SELECT count(*) FROM generations').pluck().get());
  }

  /** Records created at or after `since` (ms since epoch), oldest first, one page at a time. */
  async *pages(since: number): AsyncGenerator<GenerationRecord[]> {
    let after: [number, string] = [since - 1, '\uffff'];
    for (;;) {
      const rows = this.pageStmt.all(after[0], after[1], this.opts.pageSize) as Row[];
      if (rows.length === 0) return;
      yield rows.map(fromRow);
      const last = rows[rows.length - 1]!;
      after = [last.created_at, last.id];
      if (rows.length < this.opts.pageSize) return;
      await new Promise((r) => setImmediate(r)); // let other requests run between pages
    }
  }

  /** All records since `since`, read page by page (bounded by the retention limits). */
  async since(since: number): Promise<GenerationRecord[]> {
    const out: GenerationRecord[] = [];
    for await (const page of this.pages(since)) out.push(...page);
    return out;
  }

  close(): void {
    this.db.close();
  }
}

function openDb(file: string): Database.Database {
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    db.exec(SCHEMA);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

function fromRow(r: Row): GenerationRecord {
  return {
    id: r.id,
    createdAt: r.created_at,
    route: r.route,
    mode: r.mode,
    finishReason: r.finish_reason as FinishReason,
    question: r.question,
    passages: r.passages,
    latencyMs: r.latency_ms,
    ttftMs: r.ttft_ms,
    stats: JSON.parse(r.stats_json) as GenerationStats,
  };
}

export type { DraftSourceKind };
