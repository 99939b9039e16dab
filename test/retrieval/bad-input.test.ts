/**
 * Item 9 of the issue, one test each: unreadable, binary, empty, over-size files; invalid
 * JSONL lines; corrupt, truncated and wrong-dimension index files; k out of range.
 */
import fs from 'node:fs';
import path from 'node:path';
import hnswlib from 'hnswlib-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCorpus, type Corpus } from '../../src/retrieval/index.ts';
import { indexFileName } from '../../src/retrieval/vector-index.ts';
import { BadFileError, RagspecError } from '../../src/util/errors.ts';
import { runCli, sharedEmbedder, tempDir, writeFiles } from './helpers.ts';

const GOOD = {
  'alpha.md': '---\ntitle: Alpha\n---\n\n# Alpha\n\nThe alpha document explains zebra-striped lockfiles.\n',
  'beta.txt': 'Beta is a plain text note about caching tarballs offline.\n',
};

async function freshCorpus(
  tag: string,
  files: Record<string, string | Buffer> = GOOD,
): Promise<{ dir: string; data: string; corpus: Corpus }> {
  const dir = tempDir(tag);
  writeFiles(path.join(dir, 'docs'), files);
  const data = path.join(dir, 'data');
  const corpus = await openCorpus(data, { embedder: await sharedEmbedder() });
  return { dir, data, corpus };
}

describe('bad files are skipped with a warning and counted', () => {
  let res: Awaited<ReturnType<Corpus['ingestPaths']>>;
  let docs: string;
  let corpus: Corpus;

  beforeAll(async () => {
    const f = await freshCorpus('bad', {
      ...GOOD,
      'binary.md': Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x00, 0x1a, 0x0a, 0xff, 0x00]),
      'latin1.txt': Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x20, 0xe9, 0x74, 0xe9]), // "café été" in Latin-1: not UTF-8
      'empty.md': '   \n\n  \n',
      'front-matter-only.md': '---\ntitle: Nothing here\n---\n\n',
      'big.txt': 'x'.repeat(5000),
      'page.html':
        '<html><head><title>Page Title</title><style>p{color:red}</style></head><body><h2>Install</h2><p>Run <b>npm install</b> to fetch <a href="/x">deps</a>.</p><script>alert(1)</script></body></html>',
      'lines.jsonl': [
        '{"id": "j1", "title": "First", "text": "A valid JSONL document about workspaces."}',
        '{"id": "j2", "text": "unterminated',
        '{"id": "j3", "title": "no text field"}',
        '',
        '["an", "array"]',
        '{"title": "Untitled", "text": "Another valid line about npm audit."}',
      ].join('\n'),
    });
    docs = path.join(f.dir, 'docs');
    fs.symlinkSync(path.join(f.dir, 'does-not-exist.md'), path.join(docs, 'dangling.md'));
    corpus = f.corpus;
    res = await corpus.ingestPaths([docs], { maxFileSize: 4000 });
  });

  afterAll(async () => corpus?.close());

  it('unreadable files (a dangling link) are skipped and counted', () => {
    expect(res.issueCounts.unreadable).toBe(1);
    expect(res.issues.find((i) => i.kind === 'unreadable')!.message).toMatch(
      /dangling\.md: skipped: cannot read \(ENOENT\)/,
    );
  });

  it('binary and non-UTF-8 files are skipped and counted', () => {
    expect(res.issueCounts.binary).toBe(2);
    const names = res.issues.filter((i) => i.kind === 'binary').map((i) => path.basename(i.file));
    expect(names.sort()).toEqual(['binary.md', 'latin1.txt']);
  });

  it('empty documents are skipped', () => {
    expect(res.issueCounts.empty).toBe(2);
    expect(corpus.listDocuments().map((d) => d.path)).not.toContain('empty.md');
  });

  it('files over the size limit are refused by name', () => {
    const big = res.issues.filter((i) => i.kind === 'too_large');
    expect(big).toHaveLength(1);
    expect(big[0]!.message).toContain('big.txt');
    expect(big[0]!.message).toMatch(/5000 bytes is over the size limit of 4000 \(raise --max-file-size\)/);
  });

  it('invalid JSONL lines are reported with file and line number; valid lines are ingested', () => {
    const bad = res.issues.filter((i) => i.kind === 'invalid_jsonl');
    expect(bad.map((i) => i.line)).toEqual([2, 3, 5]);
    expect(bad[0]!.message).toContain(`${path.join(docs, 'lines.jsonl')}:2: invalid JSON`);
    const paths = corpus.listDocuments().map((d) => d.path);
    expect(paths).toContain('lines.jsonl#j1');
    expect(paths).toContain('lines.jsonl#L6');
  });

  it('HTML is converted to text by html-to-text (no markup, no script/style)', () => {
    const doc = corpus.listDocuments().find((d) => d.path === 'page.html')!;
    expect(doc.title).toBe('Page Title');
    const src = corpus.getDocument(doc.id)!.source;
    expect(src).toContain('Run npm install to fetch deps.');
    expect(src).not.toMatch(/<|alert|color:red/);
  });

  it('the good documents are all in, and the counts add up', () => {
    expect(corpus.listDocuments().map((d) => d.path)).toEqual([
      'alpha.md',
      'beta.txt',
      'lines.jsonl#L6',
      'lines.jsonl#j1',
      'page.html',
    ]);
    expect(res.docsAdded).toBe(5);
    expect(res.docsFailed).toBe(res.issues.length);
  });
});

describe('a damaged index file gives a one-line error naming the fix, never a crash', () => {
  let data: string;
  let indexFile: string;
  let pristine: Buffer;

  beforeAll(async () => {
    const f = await freshCorpus('idx');
    data = f.data;
    await f.corpus.ingestPaths([path.join(f.dir, 'docs')]);
    indexFile = path.join(data, indexFileName(f.corpus.store.generation()));
    pristine = fs.readFileSync(indexFile);
    await f.corpus.close();
  });

  async function searchError(): Promise<unknown> {
    const c = await openCorpus(data, { embedder: await sharedEmbedder() });
    try {
      await c.search('lockfiles', { k: 2 });
      return null;
    } catch (err) {
      return err;
    } finally {
      await c.close();
    }
  }

  it('corrupt bytes (same size): checksum mismatch, via the CLI as one line without a stack', async () => {
    const buf = Buffer.from(pristine);
    for (let i = 200; i < 260; i++) buf[i] = 0xab;
    fs.writeFileSync(indexFile, buf);
    const err = await searchError();
    expect(err).toBeInstanceOf(BadFileError);
    expect((err as BadFileError).oneLine()).toMatch(
      /checksum does not match .* — run `npx ragspec ingest --rebuild`/,
    );
    const cli = runCli(['search', 'lockfiles', '--data', data]);
    expect(cli.status).toBe(1);
    const lines = cli.stderr.split('\n').filter((l) => l.trim() && !l.startsWith('npm warn'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^ragspec: error: .*index-\d+\.hnsw: index file checksum does not match .*--rebuild/,
    );
  });

  it('a truncated file', async () => {
    fs.writeFileSync(indexFile, pristine.subarray(0, pristine.length - 100));
    expect(((await searchError()) as RagspecError).oneLine()).toMatch(/truncated.*--rebuild/);
    fs.writeFileSync(indexFile, pristine.subarray(0, 40));
    expect(((await searchError()) as RagspecError).oneLine()).toMatch(/truncated \(40 bytes\).*--rebuild/);
  });

  it('garbage that is not an hnswlib file at all', async () => {
    fs.writeFileSync(indexFile, Buffer.alloc(pristine.length, 0x41));
    expect(((await searchError()) as RagspecError).oneLine()).toMatch(/not an hnswlib index.*--rebuild/);
  });

  it('a valid hnswlib file of the wrong dimension', async () => {
    const h = new hnswlib.HierarchicalNSW('cosine', 8);
    h.initIndex(10);
    h.addPoint([1, 0, 0, 0, 0, 0, 0, 0], 1);
    h.writeIndexSync(indexFile);
    expect(((await searchError()) as RagspecError).oneLine()).toMatch(
      /index has dimension 8, the embedding model gives 384.*--rebuild/,
    );
  });

  it('`ingest --rebuild` repairs it from the stored documents', async () => {
    const cli = runCli(['ingest', '--rebuild', '--data', data, '--json']);
    expect(cli.stderr).not.toMatch(/error/);
    expect(cli.status).toBe(0);
    const summary = JSON.parse(cli.stdout) as { passagesEmbedded: number; passagesTotal: number };
    expect(summary.passagesEmbedded).toBe(summary.passagesTotal);
    expect(await searchError()).toBeNull();
  });
});

describe('k out of range', () => {
  let corpus: Corpus;
  let data: string;
  beforeAll(async () => {
    const f = await freshCorpus('k');
    corpus = f.corpus;
    data = f.data;
    await corpus.ingestPaths([path.join(f.dir, 'docs')]);
  });
  afterAll(async () => corpus?.close());

  it('k <= 0 or not a whole number is refused with a message', async () => {
    for (const k of [0, -3, 1.5, Number.NaN]) {
      await expect(corpus.search('lockfiles', { k })).rejects.toThrow(
        /k must be a whole number of at least 1/,
      );
    }
    const cli = runCli(['search', 'lockfiles', '-k', '0', '--data', data]);
    expect(cli.status).toBe(1);
    expect(cli.stderr).toMatch(/ragspec: error: k must be a whole number of at least 1 \(got 0\)/);
  });

  it('k above the passage count is clamped, with a notice', async () => {
    const total = corpus.stats().passages;
    const res = await corpus.searchWithInfo('lockfiles', { k: 1000 });
    expect(res.passages).toHaveLength(total);
    expect(res.notice).toBe(`k=1000 is more than the ${total} passages; returning ${total}`);
  });
});
