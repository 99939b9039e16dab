/**
 * The SQLite side of a corpus: documents (with their source text), passages (the HNSW
 * label of a passage is its id), an FTS5 table for BM25, and `meta` holding the committed
 * index generation and its file checksum. All writes of one ingest commit happen in one
 * transaction (`commit`), so the rows and the index file of a generation always agree.
 */
import Database from 'better-sqlite3';
import { BadFileError } from '../util/errors.ts';
import { ftsMatch } from './fusion.ts';
import type { SearchStore } from './hybrid.ts';
import type { DocumentInfo, Passage } from './types.ts';

export const STORE_FILE = 'ragspec.db';
const SCHEMA_VERSION = '1';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
  id TEXT PRIMARY KEY,
  path TEXT NOT NULL,
  title TEXT NOT NULL,
  origin TEXT NOT NULL,          -- 'file' (ingested from disk) or 'api' (added through the API)
  format TEXT NOT NULL,          -- 'markdown' | 'text'
  url TEXT,
  content_hash TEXT NOT NULL,
  source TEXT NOT NULL,          -- the text passage offsets point into
  updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_path ON documents(path);
CREATE TABLE IF NOT EXISTS passages (
  id INTEGER PRIMARY KEY,        -- also the HNSW label
  doc_id TEXT NOT NULL,
  ord INTEGER NOT NULL,
  start INTEGER NOT NULL,
  end INTEGER NOT NULL,
  heading_path TEXT NOT NULL,    -- JSON array
  text TEXT NOT NULL,
  content_hash TEXT NOT NULL,
  tokens INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS passages_doc ON passages(doc_id);
CREATE VIRTUAL TABLE IF NOT EXISTS passages_fts USING fts5(text, title, heading, tokenize = 'porter unicode61');
`;

export interface StoredDocument {
  id: string;
  path: string;
  title: string;
  origin: 'file' | 'api';
  format: 'markdown' | 'text';
  url: string | null;
  contentHash: string;
  source: string;
}

export interface NewPassage {
  id: number;
  ord: number;
  start: number;
  end: number;
  headingPath: string[];
  text: string;
  contentHash: string;
  tokens: number;
}

/** One document's new version (passages already embedded and added to the index). */
export interface DocumentWrite {
  doc: StoredDocument;
  passages: NewPassage[];
}

export interface CommitMeta {
  generation: number;
  nextLabel: number;
  indexSha256: string;
  indexBytes: number;
}

export class Store implements SearchStore {
  private constructor(
    readonly db: Database.Database,
    readonly file: string,
  ) {}

  static open(file: string, opts: { readOnly?: boolean } = {}): Store {
    let db: Database.Database;
    try {
      db = new Database(file, { readonly: opts.readOnly ?? false, fileMustExist: opts.readOnly ?? false });
      if (!opts.readOnly) {
        db.pragma('journal_mode = WAL');
        db.pragma('synchronous = FULL');
        db.exec(SCHEMA);
        db.prepare("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema', ?)").run(SCHEMA_VERSION);
      }
      db.pragma('busy_timeout = 5000');
      db.prepare('SELECT count(*) FROM passages').get();
    } catch (err) {
      throw new BadFileError(
        file,
        `cannot open the corpus store (${(err as Error).message})`,
        'delete the data folder and run `npx ragspec ingest` again',
      );
    }
    return new Store(db, file);
  }

  meta(key: string): string | null {
    const row = this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as
      { value: string } | undefined;
    return row?.value ?? null;
  }

  metaNumber(key: string, fallback: number): number {
    const v = this.meta(key);
    return v === null ? fallback : Number(v);
  }

  generation(): number {
    return this.metaNumber('generation', 0);
  }

  getDocument(id: string): StoredDocument | null {
    const r = this.db.prepare('SELECT * FROM documents WHERE id = ?').get(id) as DocRow | undefined;
    return r ? docFromRow(r) : null;
  }

  /** Documents whose passages a rebuild cleared and that still wait to be embedded again. */
  pendingDocuments(): StoredDocument[] {
    return (
      this.db.prepare("SELECT * FROM documents WHERE content_hash = '' ORDER BY path").all() as DocRow[]
    ).map(docFromRow);
  }

  allDocuments(): StoredDocument[] {
    return (this.db.prepare('SELECT * FROM documents ORDER BY path').all() as DocRow[]).map(docFromRow);
  }

  listDocuments(): DocumentInfo[] {
    const rows = this.db
      .prepare(
        `SELECT d.id, d.path, d.title, d.content_hash AS contentHash, d.updated_at AS updatedAt,
                (SELECT count(*) FROM passages p WHERE p.doc_id = d.id) AS passages
         FROM documents d ORDER BY d.path`,
      )
      .all() as DocumentInfo[];
    return rows;
  }

  passageIdsOf(docId: string): number[] {
    return (this.db.prepare('SELECT id FROM passages WHERE doc_id = ?').pluck().all(docId) as number[]).map(
      Number,
    );
  }

  /** A document's passages as written (ord order), for copying a corpus to another store. */
  passageRowsOf(docId: string): NewPassage[] {
    const rows = this.db
      .prepare(
        `SELECT id, ord, start, end, heading_path AS headingPath, text, content_hash AS contentHash, tokens
         FROM passages WHERE doc_id = ? ORDER BY ord`,
      )
      .all(docId) as (Omit<NewPassage, 'headingPath'> & { headingPath: string })[];
    return rows.map((r) => ({ ...r, id: Number(r.id), headingPath: JSON.parse(r.headingPath) as string[] }));
  }

  allPassageIds(): number[] {
    return (this.db.prepare('SELECT id FROM passages ORDER BY id').pluck().all() as number[]).map(Number);
  }

  passageCount(): number {
    return Number(this.db.prepare('SELECT count(*) FROM passages').pluck().get());
  }

  documentCount(): number {
    return Number(this.db.prepare('SELECT count(*) FROM documents').pluck().get());
  }

  /** Passages by id, in the order asked; ids no longer committed are left out. */
  passages(ids: readonly number[]): Passage[] {
    if (!ids.length) return [];
    const rows = this.db
      .prepare(
        `SELECT p.id, p.doc_id AS docId, d.path, d.title, p.heading_path AS headingPath, p.text, p.start, p.end
         FROM passages p JOIN documents d ON d.id = p.doc_id
         WHERE p.id IN (SELECT value FROM json_each(?))`,
      )
      .all(JSON.stringify(ids)) as (Omit<Passage, 'headingPath'> & { headingPath: string })[];
    const byId = new Map(
      rows.map((r) => [
        Number(r.id),
        { ...r, id: Number(r.id), headingPath: JSON.parse(r.headingPath) as string[] },
      ]),
    );
    return ids.map((id) => byId.get(id)).filter((p): p is Passage => p !== undefined);
  }

  /** Passage ids whose document path starts with `prefix`. */
  idsUnderPrefix(prefix: string): Set<number> {
    const ids = this.db
      .prepare(
        'SELECT p.id FROM passages p JOIN documents d ON d.id = p.doc_id WHERE substr(d.path, 1, ?) = ?',
      )
      .pluck()
      .all(prefix.length, prefix) as number[];
    return new Set(ids.map(Number));
  }

  /** Passages matching one term, counting at most `cap` (so a very common term costs little to probe). */
  termFrequencyUpTo(term: string, cap: number): number {
    // One statement for every probe: preparing one per distinct term is what made a long query slow.
    this.termProbe ??= this.db
      .prepare('SELECT count(*) FROM (SELECT rowid FROM passages_fts WHERE passages_fts MATCH ? LIMIT ?)')
      .pluck();
    return Number(this.termProbe.get(`"${term.replace(/"/g, '""')}"`, cap));
  }
  private termProbe: Database.Statement | null = null;

  /** BM25 over text, title and headings (terms OR-ed); scores sign-flipped so higher is better. */
  bm25(terms: readonly string[], limit: number, pathPrefix?: string): { id: number; score: number }[] {
    const match = ftsMatch(terms);
    if (!match) return [];
    const sql = `SELECT f.rowid AS id, -bm25(passages_fts, 1.0, 2.0, 1.5) AS score
       FROM passages_fts f ${pathPrefix ? 'JOIN passages p ON p.id = f.rowid JOIN documents d ON d.id = p.doc_id' : ''}
       WHERE passages_fts MATCH ? ${pathPrefix ? 'AND substr(d.path, 1, ?) = ?' : ''}
       ORDER BY bm25(passages_fts, 1.0, 2.0, 1.5) LIMIT ?`;
    const args: unknown[] = pathPrefix ? [match, pathPrefix.length, pathPrefix, limit] : [match, limit];
    return (this.db.prepare(sql).all(...args) as { id: number; score: number }[]).map((r) => ({
      id: Number(r.id),
      score: r.score,
    }));
  }

  /**
   * One transaction: remove the passages of replaced/removed documents, write the new
   * versions, and move the committed generation to the index file just written.
   */
  commit(
    writes: readonly DocumentWrite[],
    removedDocIds: readonly string[],
    meta: CommitMeta,
    opts: { clearAll?: boolean } = {},
  ): void {
    const db = this.db;
    const delFts = db.prepare(
      'DELETE FROM passages_fts WHERE rowid IN (SELECT id FROM passages WHERE doc_id = ?)',
    );
    const delPassages = db.prepare('DELETE FROM passages WHERE doc_id = ?');
    const delDoc = db.prepare('DELETE FROM documents WHERE id = ?');
    const upsertDoc = db.prepare(
      `INSERT INTO documents(id, path, title, origin, format, url, content_hash, source, updated_at)
       VALUES (@id, @path, @title, @origin, @format, @url, @contentHash, @source, @updatedAt)
       ON CONFLICT(id) DO UPDATE SET path = excluded.path, title = excluded.title, origin = excluded.origin,
         format = excluded.format, url = excluded.url, content_hash = excluded.content_hash,
         source = excluded.source, updated_at = excluded.updated_at`,
    );
    const insPassage = db.prepare(
      `INSERT INTO passages(id, doc_id, ord, start, end, heading_path, text, content_hash, tokens)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const insFts = db.prepare('INSERT INTO passages_fts(rowid, text, title, heading) VALUES (?, ?, ?, ?)');
    const setMeta = db.prepare(
      'INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
    );
    const now = new Date().toISOString();
    db.transaction(() => {
      if (opts.clearAll) {
        // Rebuild: every document loses its passages and is marked pending (content_hash '').
        db.exec("DELETE FROM passages_fts; DELETE FROM passages; UPDATE documents SET content_hash = ''");
      }
      for (const id of removedDocIds) {
        delFts.run(id);
        delPassages.run(id);
        delDoc.run(id);
      }
      for (const { doc, passages } of writes) {
        delFts.run(doc.id);
        delPassages.run(doc.id);
        upsertDoc.run({ ...doc, updatedAt: now });
        for (const p of passages) {
          insPassage.run(
            p.id,
            doc.id,
            p.ord,
            p.start,
            p.end,
            JSON.stringify(p.headingPath),
            p.text,
            p.contentHash,
            p.tokens,
          );
          insFts.run(p.id, p.text, doc.title, p.headingPath.join(' '));
        }
      }
      setMeta.run('generation', String(meta.generation));
      setMeta.run('next_label', String(meta.nextLabel));
      setMeta.run('index_sha256', meta.indexSha256);
      setMeta.run('index_bytes', String(meta.indexBytes));
    })();
  }

  setMeta(entries: Record<string, string>): void {
    const st = this.db.prepare(
      'INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
    );
    this.db.transaction(() => {
      for (const [k, v] of Object.entries(entries)) st.run(k, v);
    })();
  }

  close(): void {
    this.db.close();
  }
}

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

function docFromRow(r: DocRow): StoredDocument {
  return {
    id: r.id,
    path: r.path,
    title: r.title,
    origin: r.origin,
    format: r.format,
    url: r.url,
    contentHash: r.content_hash,
    source: r.source,
  };
}
