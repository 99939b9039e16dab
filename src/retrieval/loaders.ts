/**
 * Finds and reads the files an ingest names: `.md`, `.txt`, `.html` and `.jsonl`. Bad input
 * never stops an ingest: unreadable, binary, empty and over-size files and invalid JSONL
 * lines become `LoadIssue`s (named, counted, printed as warnings) and the rest goes on.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import picomatch from 'picomatch';
import { convert as htmlToText } from 'html-to-text';

export type DocFormat = 'markdown' | 'text';

/** A document ready to chunk: `source` is the text that passage offsets point into. */
export interface SourceDocument {
  id: string;
  path: string;
  title: string | null;
  format: DocFormat;
  url: string | null;
  source: string;
  origin: 'file' | 'api';
}

export type IssueKind = 'unreadable' | 'binary' | 'too_large' | 'empty' | 'invalid_jsonl' | 'unsupported';

export interface LoadIssue {
  kind: IssueKind;
  file: string;
  line?: number;
  message: string;
}

/** A folder (or file) to ingest; document paths are relative to it, after `prefix`. */
export interface IngestRoot {
  path: string;
  prefix?: string;
}

export interface DiscoverOptions {
  include?: string[];
  exclude?: string[];
  /** Files larger than this many bytes are refused by name. Default 10 MB. */
  maxFileSize?: number;
}

export const DEFAULT_MAX_FILE_SIZE = 10 * 1024 * 1024;
const EXTENSIONS = new Set(['.md', '.markdown', '.txt', '.html', '.htm', '.jsonl']);

export interface FoundFile {
  abs: string;
  /** Document path: prefix + path relative to the root, with forward slashes. */
  rel: string;
}

export function discoverFiles(
  roots: readonly IngestRoot[],
  opts: DiscoverOptions = {},
): { files: FoundFile[]; issues: LoadIssue[] } {
  const include = opts.include?.length ? picomatch(opts.include, { dot: true }) : null;
  const exclude = opts.exclude?.length ? picomatch(opts.exclude, { dot: true }) : null;
  const files: FoundFile[] = [];
  const issues: LoadIssue[] = [];
  const keep = (rel: string) => (!include || include(rel)) && !(exclude && exclude(rel));
  for (const root of roots) {
    const abs = path.resolve(root.path);
    const prefix = root.prefix ?? '';
    let st: fs.Stats;
    try {
      st = fs.statSync(abs);
    } catch (err) {
      issues.push({
        kind: 'unreadable',
        file: root.path,
        message: `${root.path}: cannot read (${(err as NodeJS.ErrnoException).code})`,
      });
      continue;
    }
    if (st.isFile()) {
      if (!EXTENSIONS.has(path.extname(abs).toLowerCase())) {
        issues.push({
          kind: 'unsupported',
          file: root.path,
          message: `${root.path}: unsupported file type (use .md, .txt, .html or .jsonl)`,
        });
      } else {
        files.push({ abs, rel: prefix + path.basename(abs) });
      }
      continue;
    }
    const walk = (dir: string, relDir: string) => {
      let entries: fs.Dirent[];
      try {
        entries = fs.readdirSync(dir, { withFileTypes: true });
      } catch (err) {
        issues.push({
          kind: 'unreadable',
          file: dir,
          message: `${dir}: cannot list folder (${(err as NodeJS.ErrnoException).code})`,
        });
        return;
      }
      entries.sort((a, b) => (a.name < b.name ? -1 : 1));
      for (const e of entries) {
        if (e.name.startsWith('.') || e.name === 'node_modules') continue;
        const rel = relDir ? `${relDir}/${e.name}` : e.name;
        const full = path.join(dir, e.name);
        if (e.isDirectory()) {
          walk(full, rel);
          continue;
        }
        if (!EXTENSIONS.has(path.extname(e.name).toLowerCase()) || !keep(rel)) continue;
        if (e.isSymbolicLink()) {
          // Followed when it points at a file; a dangling link is reported, a link to a folder ignored (no cycles).
          let target: fs.Stats;
          try {
            target = fs.statSync(full);
          } catch (err) {
            issues.push({
              kind: 'unreadable',
              file: full,
              message: `${full}: skipped: cannot read (${(err as NodeJS.ErrnoException).code})`,
            });
            continue;
          }
          if (!target.isFile()) continue;
        } else if (!e.isFile()) continue;
        files.push({ abs: full, rel: prefix + rel });
      }
    };
    walk(abs, '');
  }
  return { files, issues };
}

/** Stable id of a file-backed document: derived from its path. */
export function fileDocId(docPath: string): string {
  return `f-${crypto.createHash('sha256').update(docPath).digest('hex').slice(0, 16)}`;
}

export function loadFile(
  file: FoundFile,
  opts: DiscoverOptions = {},
): { docs: SourceDocument[]; issues: LoadIssue[] } {
  const maxSize = opts.maxFileSize ?? DEFAULT_MAX_FILE_SIZE;
  const fail = (kind: IssueKind, message: string) => ({
    docs: [],
    issues: [{ kind, file: file.abs, message: `${file.abs}: ${message}` }],
  });
  let buf: Buffer;
  try {
    const size = fs.statSync(file.abs).size;
    if (size > maxSize)
      return fail(
        'too_large',
        `refused: ${size} bytes is over the size limit of ${maxSize} (raise --max-file-size)`,
      );
    buf = fs.readFileSync(file.abs);
  } catch (err) {
    return fail(
      'unreadable',
      `skipped: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
  const text = decodeText(buf);
  if (text === null) return fail('binary', 'skipped: binary or not UTF-8 text');
  const ext = path.extname(file.abs).toLowerCase();
  if (ext === '.jsonl') return loadJsonl(file, text);
  const doc: SourceDocument = {
    id: fileDocId(file.rel),
    path: file.rel,
    title: null,
    format: 'markdown',
    url: null,
    source: text,
    origin: 'file',
  };
  if (ext === '.txt') doc.format = 'text';
  if (ext === '.html' || ext === '.htm') {
    doc.format = 'text';
    doc.source = htmlToText(text, {
      wordwrap: false,
      selectors: [
        { selector: 'a', options: { ignoreHref: true } },
        { selector: 'img', format: 'skip' },
        ...['h1', 'h2', 'h3', 'h4', 'h5', 'h6'].map((h) => ({ selector: h, options: { uppercase: false } })),
      ],
    });
    const title = htmlToText(text, { baseElements: { selectors: ['title'] }, wordwrap: false }).trim();
    doc.title = title || null;
  }
  if (isEmptyText(doc.source, doc.format)) return fail('empty', 'skipped: empty document');
  return { docs: [doc], issues: [] };
}

function loadJsonl(file: FoundFile, text: string): { docs: SourceDocument[]; issues: LoadIssue[] } {
  const docs: SourceDocument[] = [];
  const issues: LoadIssue[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (!line) return;
    const where = `${file.abs}:${i + 1}`;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (err) {
      issues.push({
        kind: 'invalid_jsonl',
        file: file.abs,
        line: i + 1,
        message: `${where}: invalid JSON (${(err as Error).message})`,
      });
      return;
    }
    const o = obj as Record<string, unknown>;
    if (typeof o !== 'object' || o === null || Array.isArray(o) || typeof o.text !== 'string') {
      issues.push({
        kind: 'invalid_jsonl',
        file: file.abs,
        line: i + 1,
        message: `${where}: expected an object {id?, title?, url?, text} with a string "text"`,
      });
      return;
    }
    for (const k of ['id', 'title', 'url'] as const) {
      if (o[k] !== undefined && o[k] !== null && typeof o[k] !== 'string' && typeof o[k] !== 'number') {
        issues.push({
          kind: 'invalid_jsonl',
          file: file.abs,
          line: i + 1,
          message: `${where}: "${k}" must be a string`,
        });
        return;
      }
    }
    if (o.text.trim() === '') {
      issues.push({ kind: 'empty', file: file.abs, line: i + 1, message: `${where}: skipped: empty "text"` });
      return;
    }
    const key = o.id !== undefined && o.id !== null ? String(o.id) : `L${i + 1}`;
    const docPath = `${file.rel}#${key}`;
    docs.push({
      id: o.id !== undefined && o.id !== null ? String(o.id) : fileDocId(docPath),
      path: docPath,
      title: typeof o.title === 'string' ? o.title : null,
      format: 'text',
      url: typeof o.url === 'string' ? o.url : null,
      source: o.text,
      origin: 'file',
    });
  });
  return { docs, issues };
}

/** UTF-8 text, or null for binary data (NUL bytes or invalid UTF-8). */
export function decodeText(buf: Buffer): string | null {
  if (buf.subarray(0, 8192).includes(0)) return null;
  try {
    const s = new TextDecoder('utf-8', { fatal: true }).decode(buf);
    return s.charCodeAt(0) === 0xfeff ? s.slice(1) : s;
  } catch {
    return null;
  }
}

/** Whitespace only (for markdown: once front matter is set aside). */
export function isEmptyText(source: string, format: DocFormat): boolean {
  const body =
    format === 'markdown' ? source.replace(/^---\r?\n[\s\S]*?\r?\n---[ \t]*(\r?\n|$)/, '') : source;
  return body.trim() === '';
}
