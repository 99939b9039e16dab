/**
 * Generation records in the shared PostgreSQL database (table `generations`, migration 2),
 * so `GET /v1/analytics` on any replica aggregates the requests every replica served. Same
 * rules as the SQLite file: a side channel that never fails an answer — writes are queued
 * fire-and-forget, a failed one is logged and dropped; retention by age and row count.
 */
import os from 'node:os';
import type pg from 'pg';
import type { GenerationStats } from '../../engine/types.ts';
import { connectPool } from '../../retrieval/pg/connect.ts';
import { migrate } from '../../retrieval/pg/migrations.ts';
import { errorMessage } from '../../util/errors.ts';
import {
  ANALYTICS_DEFAULTS,
  type AnalyticsOptions,
  type GenerationRecord,
  type GenerationRecords,
} from './store.ts';

const PRUNE_EVERY = 100;

interface Row {
  id: string;
  created_at: string;
  route: string;
  mode: string;
  finish_reason: GenerationRecord['finishReason'];
  question: string;
  passages: number;
  latency_ms: number;
  ttft_ms: number | null;
  stats_json: string;
}

export class PgAnalyticsStore implements GenerationRecords {
  private readonly opts: Required<Omit<AnalyticsOptions, 'log'>> & Pick<AnalyticsOptions, 'log'>;
  private readonly pending = new Set<Promise<void>>();
  private writes = 0;
  /** Which process wrote a record (host:pid), for looking at one replica alone. */
  readonly replica = `${os.hostname()}:${process.pid}`;

  private constructor(
    readonly pool: pg.Pool,
    options: AnalyticsOptions,
  ) {
    this.opts = { ...ANALYTICS_DEFAULTS, now: Date.now, ...options };
  }

  /** Connects (small pool), applies migrations, prunes once. */
  static async open(url: string, options: AnalyticsOptions = {}): Promise<PgAnalyticsStore> {
    const pool = await connectPool(url, { max: 2 });
    try {
      await migrate(pool);
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw err;
    }
    const s = new PgAnalyticsStore(pool, options);
    await s.prune();
    return s;
  }

  record(r: GenerationRecord): void {
    const p = this.pool
      .query(
        `INSERT INTO generations (id, created_at, replica, route, mode, finish_reason, question, passages,
                                  latency_ms, ttft_ms, stats_json)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (id) DO NOTHING`,
        [
          r.id,
          r.createdAt,
          this.replica,
          r.route,
          r.mode,
          r.finishReason,
          r.question.slice(0, 200),
          r.passages,
          r.latencyMs,
          r.ttftMs,
          JSON.stringify(r.stats),
        ],
      )
      .then(async () => {
        if (++this.writes % PRUNE_EVERY === 0) await this.prune();
      })
      .catch((err: unknown) =>
        this.opts.log?.warn({ err: errorMessage(err), id: r.id }, 'analytics write failed; record dropped'),
      )
      .finally(() => this.pending.delete(p));
    this.pending.add(p);
  }

  /** Writes still in flight (tests wait on this before reading). */
  async flush(): Promise<void> {
    await Promise.all([...this.pending]);
  }

  async prune(): Promise<void> {
    await this.pool.query('DELETE FROM generations WHERE created_at < $1', [
      this.opts.now() - this.opts.maxAgeMs,
    ]);
    await this.pool.query(
      `DELETE FROM generations WHERE id IN (
         SELECT id FROM generations ORDER BY created_at DESC, id DESC OFFSET $1)`,
      [this.opts.maxRows],
    );
  }

  async count(): Promise<number> {
    return Number((await this.pool.query<{ n: string }>('SELECT count(*) AS n FROM generations')).rows[0]!.n);
  }

  /** Keyset pages on (created_at, id), as the SQLite store reads them. */
  async since(since: number): Promise<GenerationRecord[]> {
    await this.flush(); // this replica's own latest records are in the answer
    const out: GenerationRecord[] = [];
    let after: [number, string] = [since - 1, '\uffff'];
    for (;;) {
      const { rows } = await this.pool.query<Row>(
        `SELECT * FROM generations WHERE (created_at, id) > ($1, $2) ORDER BY created_at, id LIMIT $3`,
        [after[0], after[1], this.opts.pageSize],
      );
      out.push(...rows.map(fromRow));
      if (rows.length < this.opts.pageSize) return out;
      const last = rows[rows.length - 1]!;
      after = [Number(last.created_at), last.id];
    }
  }

  async close(): Promise<void> {
    await this.flush();
    await this.pool.end();
  }
}

function fromRow(r: Row): GenerationRecord {
  return {
    id: r.id,
    createdAt: Number(r.created_at),
    route: r.route,
    mode: r.mode,
    finishReason: r.finish_reason,
    question: r.question,
    passages: r.passages,
    latencyMs: r.latency_ms,
    ttftMs: r.ttft_ms,
    stats: JSON.parse(r.stats_json) as GenerationStats,
  };
}
