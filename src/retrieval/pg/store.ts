/**
 * The PostgreSQL side of a corpus: the same rows as the SQLite store (documents, passages
 * whose id is their HNSW label, the committed generation) plus each passage's embedding, so
 * any replica can rebuild its vector index from the database alone.
 *
 * Full text: a `tsvector` per passage (title weight A, headings B, text D, English stemming,
 * split into plain words as FTS5 does) with its length, ranked by BM25 computed in SQL the way FTS5's bm25() does it (k1 1.2,
 * b 0.75, column weights text 1, title 2, headings 1.5 folded into the term frequency, IDF
 * floored at 1e-6). `ts_rank_cd` was tried first and dropped: it has no IDF, and recall@5
 * of BM25 alone on the dev set fell from 0.900 to 0.625 (hybrid 0.925 → 0.775). The
 * statistics BM25 needs (document frequency, average length) are computed per query over
 * the passages holding a query term, so commits keep no statistics tables.
 *
 * Commits are one transaction each, taken while holding the write advisory lock (see
 * `PgCorpus.write`), so a killed writer leaves the previous generation whole.
 */
import type pg from 'pg';
import type { Ranked } from '../fusion.ts';
import type { SearchStore } from '../hybrid.ts';
import type { IngestStoreView } from '../ingest.ts';
import type { DocumentWrite, StoredDocument } from '../store.ts';
import type { DocumentInfo, Passage } from '../types.ts';

/** Text search configuration of migration 1: English stemming, no stop words (as FTS5 porter). */
const TS_CONFIG = 'ragspec_english';
/** BM25 constants and column weights, as the SQLite store's bm25(passages_fts, 1.0, 2.0, 1.5). */
const K1 = 1.2;
const B = 0.75;
const TITLE_WEIGHT = 2.0;
const HEADING_WEIGHT = 1.5;

/**
 * SQL that splits text into plain words as FTS5's unicode61 tokenizer does. Without it,
 * PostgreSQL's parser keeps `package.json`, `npm-install.md` or URLs as single file/host
 * tokens, which a question's words ("package", "json") never match.
 */
const words = (sqlExpr: string) => `regexp_replace(${sqlExpr}, '[^[:alnum:]]+', ' ', 'g')`;

export type VectorWrite = DocumentWrite & { vectors: Float32Array[] };

interface DocRow {
  id: string;
  path: string;
  title: string;
  origin: 'file' | 'api';
  format: 'markdown' | 'text';
  url: string | null;
  content_hash: string;
  source: string;
}

const docFromRow = (r: DocRow): StoredDocument => ({
  id: r.id,
  path: r.path,
  title: r.title,
  origin: r.origin,
  format: r.format,
  url: r.url,
  contentHash: r.content_hash,
  source: r.source,
});

/** float32 little-endian bytes of a vector, and back. */
export function vectorBytes(v: Float32Array): Buffer {
  const out = Buffer.alloc(v.length * 4);
  for (let i = 0; i < v.length; i++) out.writeFloatLE(v[i]!, i * 4);
  return out;
}

export function bytesVector(b: Buffer): Float32Array {
  const out = new Float32Array(b.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = b.readFloatLE(i * 4);
  return out;
}

export class PgStore implements SearchStore, IngestStoreView {
  constructor(readonly pool: pg.Pool) {}

  async generation(): Promise<number> {
    const r = await this.pool.query<{ generation: string }>('SELECT generation FROM corpus_state');
    return Number(r.rows[0]?.generation ?? 0);
  }

  async meta(key: string): Promise<string | null> {
    const r = await this.pool.query<{ value: string }>('SELECT value FROM corpus_meta WHERE key = $1', [key]);
    return r.rows[0]?.value ?? null;
  }

  async setMeta(entries: Record<string, string>): Promise<void> {
    for (const [k, v] of Object.entries(entries))
      await this.pool.query(
        'INSERT INTO corpus_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
        [k, v],
      );
  }

  async getDocument(id: string): Promise<StoredDocument | null> {
    const r = await this.pool.query<DocRow>('SELECT * FROM documents WHERE id = $1', [id]);
    return r.rows[0] ? docFromRow(r.rows[0]) : null;
  }

  async pendingDocuments(): Promise<StoredDocument[]> {
    const r = await this.pool.query<DocRow>("SELECT * FROM documents WHERE content_hash = '' ORDER BY path");
    return r.rows.map(docFromRow);
  }

  async allDocuments(): Promise<StoredDocument[]> {
    return (await this.pool.query<DocRow>('SELECT * FROM documents ORDER BY path')).rows.map(docFromRow);
  }

  async listDocuments(id?: string): Promise<DocumentInfo[]> {
    const r = await this.pool.query<DocumentInfo & { passages: string; updatedAt: Date }>(
      `SELECT d.id, d.path, d.title, d.content_hash AS "contentHash", d.updated_at AS "updatedAt",
              (SELECT count(*) FROM passages p WHERE p.doc_id = d.id) AS passages
       FROM documents d ${id === undefined ? '' : 'WHERE d.id = $1'} ORDER BY d.path`,
      id === undefined ? [] : [id],
    );
    return r.rows.map((x) => ({ ...x, passages: Number(x.passages), updatedAt: x.updatedAt.toISOString() }));
  }

  async passageIdsOf(docId: string): Promise<number[]> {
    const r = await this.pool.query<{ id: string }>('SELECT id FROM passages WHERE doc_id = $1 ORDER BY id', [
      docId,
    ]);
    return r.rows.map((x) => Number(x.id));
  }

  async allPassageIds(): Promise<number[]> {
    const r = await this.pool.query<{ id: string }>('SELECT id FROM passages ORDER BY id');
    return r.rows.map((x) => Number(x.id));
  }

  async passageCount(): Promise<number> {
    return Number((await this.pool.query<{ n: string }>('SELECT count(*) AS n FROM passages')).rows[0]!.n);
  }

  async documentCount(): Promise<number> {
    return Number((await this.pool.query<{ n: string }>('SELECT count(*) AS n FROM documents')).rows[0]!.n);
  }

  async passages(ids: readonly number[]): Promise<Passage[]> {
    if (!ids.length) return [];
    const r = await this.pool.query<Omit<Passage, 'id'> & { id: string }>(
      `SELECT p.id, p.doc_id AS "docId", d.path, d.title, p.heading_path AS "headingPath", p.text,
              p.start_off AS start, p.end_off AS "end"
       FROM passages p JOIN documents d ON d.id = p.doc_id WHERE p.id = ANY($1::bigint[])`,
      [ids],
    );
    const byId = new Map(r.rows.map((x) => [Number(x.id), { ...x, id: Number(x.id) }]));
    return ids.map((id) => byId.get(id)).filter((p): p is Passage => p !== undefined);
  }

  async idsUnderPrefix(prefix: string): Promise<Set<number>> {
    const r = await this.pool.query<{ id: string }>(
      'SELECT p.id FROM passages p JOIN documents d ON d.id = p.doc_id WHERE starts_with(d.path, $1)',
      [prefix],
    );
    return new Set(r.rows.map((x) => Number(x.id)));
  }

  /** `termFrequencyUpTo` for many terms in one round trip. */
  async termFrequenciesUpTo(terms: readonly string[], cap: number): Promise<number[]> {
    if (!terms.length) return [];
    const r = await this.pool.query<{ n: string }>(
      `SELECT (SELECT count(*) FROM (SELECT 1 FROM passage_terms
                 WHERE lexeme = ANY(tsvector_to_array(to_tsvector('${TS_CONFIG}', ${words('t.term')}))) LIMIT $2) s) AS n
       FROM unnest($1::text[]) WITH ORDINALITY AS t(term, i) ORDER BY t.i`,
      [terms, cap],
    );
    return r.rows.map((x) => Number(x.n));
  }

  async termFrequencyUpTo(term: string, cap: number): Promise<number> {
    return (await this.termFrequenciesUpTo([term], cap))[0]!;
  }

  /**
   * BM25 (as FTS5 computes it) over the passages holding any of `terms` (plain words from
   * `ftsTerms`, stemmed here as the passages were), read from the inverted term table.
   */
  async bm25(terms: readonly string[], limit: number, pathPrefix?: string): Promise<Ranked[]> {
    if (!terms.length) return [];
    const args: unknown[] = [terms.join(' '), limit];
    if (pathPrefix) args.push(pathPrefix);
    const r = await this.pool.query<{ id: string; score: number }>(
      `WITH lex AS (SELECT DISTINCT lexeme FROM unnest(to_tsvector('${TS_CONFIG}', ${words('$1')}))),
       stats AS (SELECT greatest(passages, 1)::float8 AS n,
                        greatest(total_len::float8 / greatest(passages, 1), 1) AS avgdl FROM corpus_state),
       hits AS (SELECT passage_id AS id, lexeme, tf FROM passage_terms WHERE lexeme IN (SELECT lexeme FROM lex)),
       df AS (SELECT lexeme, count(*)::float8 AS df FROM hits GROUP BY lexeme)
       SELECT h.id,
              sum(greatest(ln((s.n - df.df + 0.5) / (df.df + 0.5)), 1e-6)
                  * h.tf * (${K1} + 1) / (h.tf + ${K1} * (1 - ${B} + ${B} * p.len / s.avgdl))) AS score
       FROM hits h JOIN df USING (lexeme) JOIN passages p ON p.id = h.id CROSS JOIN stats s
       ${pathPrefix ? 'JOIN documents d ON d.id = p.doc_id WHERE starts_with(d.path, $3)' : ''}
       GROUP BY h.id ORDER BY score DESC, h.id LIMIT $2`,
      args,
    );
    return r.rows.map((x) => ({ id: Number(x.id), score: Number(x.score) }));
  }

  /**
   * One transaction on `client` (which holds the write lock): clear (rebuild), remove,
   * replace documents, insert passages with labels from `next_label`, bump the generation.
   * Assigns `p.id` on the passages written. Returns the new generation.
   */
  async commit(
    client: pg.PoolClient,
    writes: readonly VectorWrite[],
    removed: readonly string[],
    opts: { clearAll?: boolean } = {},
  ): Promise<number> {
    await client.query('BEGIN');
    try {
      const st = await client.query<{ generation: string; next_label: string }>(
        'SELECT generation, next_label FROM corpus_state WHERE id = 1 FOR UPDATE',
      );
      const gen = Number(st.rows[0]!.generation);
      let nextLabel = Number(st.rows[0]!.next_label);
      if (opts.clearAll) {
        await client.query('DELETE FROM passage_terms');
        await client.query('DELETE FROM passages');
        await client.query("UPDATE documents SET content_hash = ''");
      }
      if (removed.length) await client.query('DELETE FROM documents WHERE id = ANY($1::text[])', [removed]);
      if (writes.length) {
        const docs = writes.map((w) => w.doc);
        await client.query('DELETE FROM passages WHERE doc_id = ANY($1::text[])', [docs.map((d) => d.id)]);
        await client.query(
          `INSERT INTO documents (id, path, title, origin, format, url, content_hash, source, updated_at)
           SELECT *, now() FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                                      $6::text[], $7::text[], $8::text[])
           ON CONFLICT (id) DO UPDATE SET path = excluded.path, title = excluded.title,
             origin = excluded.origin, format = excluded.format, url = excluded.url,
             content_hash = excluded.content_hash, source = excluded.source, updated_at = excluded.updated_at`,
          [
            docs.map((d) => d.id),
            docs.map((d) => d.path),
            docs.map((d) => d.title),
            docs.map((d) => d.origin),
            docs.map((d) => d.format),
            docs.map((d) => d.url),
            docs.map((d) => d.contentHash),
            docs.map((d) => d.source),
          ],
        );
        const cols = {
          id: [] as number[],
          doc: [] as string[],
          ord: [] as number[],
          start: [] as number[],
          end: [] as number[],
          heading: [] as string[],
          text: [] as string[],
          hash: [] as string[],
          tokens: [] as number[],
          title: [] as string[],
          emb: [] as Buffer[],
        };
        for (const w of writes)
          w.passages.forEach((p, i) => {
            p.id = nextLabel++;
            cols.id.push(p.id);
            cols.doc.push(w.doc.id);
            cols.ord.push(p.ord);
            cols.start.push(p.start);
            cols.end.push(p.end);
            cols.heading.push(JSON.stringify(p.headingPath));
            cols.text.push(p.text);
            cols.hash.push(p.contentHash);
            cols.tokens.push(p.tokens);
            cols.title.push(w.doc.title);
            cols.emb.push(vectorBytes(w.vectors[i]!));
          });
        if (cols.id.length)
          await client.query(
            `INSERT INTO passages (id, doc_id, ord, start_off, end_off, heading_path, text, content_hash, tokens, tsv, len, embedding)
             SELECT id, doc, ord, s, e, h::jsonb, t, ch, tok, v,
                    (SELECT coalesce(sum(coalesce(array_length(positions, 1), 0)), 0) FROM unnest(v)), emb
             FROM (SELECT *,
                    setweight(to_tsvector('${TS_CONFIG}', ${words('ti')}), 'A') ||
                    setweight(to_tsvector('${TS_CONFIG}', ${words("array_to_string(ARRAY(SELECT jsonb_array_elements_text(h::jsonb)), ' ')")}), 'B') ||
                    setweight(to_tsvector('${TS_CONFIG}', ${words('t')}), 'D') AS v
             FROM unnest($1::bigint[], $2::text[], $3::int[], $4::int[], $5::int[], $6::text[], $7::text[],
                         $8::text[], $9::int[], $10::text[], $11::bytea[])
                  AS x(id, doc, ord, s, e, h, t, ch, tok, ti, emb)) y`,
            [
              cols.id,
              cols.doc,
              cols.ord,
              cols.start,
              cols.end,
              cols.heading,
              cols.text,
              cols.hash,
              cols.tokens,
              cols.title,
              cols.emb,
            ],
          );
        // The inverted index: each lexeme's weighted frequency (title 2, headings 1.5, text 1).
        if (cols.id.length)
          await client.query(
            `INSERT INTO passage_terms (lexeme, passage_id, tf)
             SELECT u.lexeme, p.id,
                    (SELECT sum(CASE w WHEN 'A' THEN ${TITLE_WEIGHT} WHEN 'B' THEN ${HEADING_WEIGHT} ELSE 1.0 END)
                     FROM unnest(u.weights) w)
             FROM passages p, unnest(p.tsv) u WHERE p.id = ANY($1::bigint[])`,
            [cols.id],
          );
      }
      await client.query(
        `UPDATE corpus_state SET generation = $1, next_label = $2,
           passages = (SELECT count(*) FROM passages), total_len = (SELECT coalesce(sum(len), 0) FROM passages)
         WHERE id = 1`,
        [gen + 1, nextLabel],
      );
      await client.query('COMMIT');
      return gen + 1;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }

  /**
   * What changed since a replica last synced, read in one snapshot: the live passage ids,
   * and the vectors of passages above `afterLabel` (labels only grow, so those are exactly
   * the ones added since).
   */
  async changesSince(afterLabel: number): Promise<{
    generation: number;
    liveIds: number[];
    added: { id: number; vector: Float32Array }[];
  }> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const gen = await client.query<{ generation: string }>('SELECT generation FROM corpus_state');
      const ids = await client.query<{ id: string }>('SELECT id FROM passages');
      const added = await client.query<{ id: string; embedding: Buffer }>(
        'SELECT id, embedding FROM passages WHERE id > $1 ORDER BY id',
        [afterLabel],
      );
      await client.query('COMMIT');
      return {
        generation: Number(gen.rows[0]!.generation),
        liveIds: ids.rows.map((x) => Number(x.id)),
        added: added.rows.map((x) => ({ id: Number(x.id), vector: bytesVector(x.embedding) })),
      };
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }
}
