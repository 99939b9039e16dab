/**
 * Per-request generation records in their own SQLite file (`analytics.sqlite` under the
 * data folder), so the acceptance analytics survive restarts and never touch the corpus DB.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { DraftSourceKind, FinishReason, GenerationStats } from '../../engine/types.ts';

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
CREATE INDEX IF NOT EXISTS generations_created ON generations(created_at);
`;

export class AnalyticsStore {
  private readonly db: Database.Database;
  private readonly insertStmt: Database.Statement;
  private readonly selectStmt: Database.Statement;

  constructor(readonly file: string) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.exec(SCHEMA);
    this.insertStmt = this.db.prepare(
      `INSERT INTO generations (id, created_at, route, mode, finish_reason, question, passages, latency_ms, ttft_ms, stats_json)
       VALUES (@id, @createdAt, @route, @mode, @finishReason, @question, @passages, @latencyMs, @ttftMs, @statsJson)`,
    );
    this.selectStmt = this.db.prepare(
      'SELECT * FROM generations WHERE created_at >= ? ORDER BY created_at ASC',
    );
  }

  record(r: GenerationRecord): void {
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
  }

  /** Records created at or after `since` (ms since epoch), oldest first. */
  since(since: number): GenerationRecord[] {
    const rows = this.selectStmt.all(since) as {
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
    }[];
    return rows.map((r) => ({
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
    }));
  }

  close(): void {
    this.db.close();
  }
}

export type { DraftSourceKind };
