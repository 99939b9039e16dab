/**
 * `ragspec ingest --store postgres://…` works like the SQLite ingest: progress lines, a
 * summary, `--prune`; `ragspec search --store` reads the same database, and
 * RAGSPEC_DATABASE_URL alone selects it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.ts';
import { runCli, tempDir, writeFiles } from '../retrieval/helpers.ts';

let pgs: TestPostgres;
let url: string;
let dir: string;

beforeAll(async () => {
  pgs = await startTestPostgres();
  url = await pgs.createDatabase('cli');
  dir = tempDir('pg-cli');
  writeFiles(dir, {
    'wombat.md': '# Wombat\n\nThe wombat command burrows into the package cache.\n',
    'numbat.md': '# Numbat\n\nThe numbat flag counts termites in the lockfile.\n',
  });
}, 120_000);

afterAll(async () => pgs?.stop(), 60_000);

describe('ragspec ingest --store postgres://…', () => {
  it('ingests with progress lines and a summary, and --prune removes a deleted file', () => {
    const first = runCli(['ingest', dir, '--store', url, '--json']);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/ingest: committed \d+\/\d+ passages, 2\/2 docs, generation 1/);
    expect(JSON.parse(first.stdout)).toMatchObject({ docsAdded: 2, documentsTotal: 2 });
    expect(JSON.parse(first.stdout).dir).toMatch(/^postgres:\/\//);

    fs.rmSync(path.join(dir, 'numbat.md'));
    const pruned = runCli(['ingest', dir, '--prune', '--json'], { RAGSPEC_DATABASE_URL: url });
    expect(pruned.status, pruned.stderr).toBe(0);
    expect(JSON.parse(pruned.stdout)).toMatchObject({ docsRemoved: 1, docsSkipped: 1, documentsTotal: 1 });
  });

  it('search --store reads the same database', () => {
    const r = runCli(['search', 'wombat burrows', '--store', url, '--json', '-k', '1']);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)[0]).toMatchObject({ path: 'wombat.md' });
    const stats = runCli(['ingest', '--stats', '--store', url]);
    expect(stats.stdout).toMatch(/documents: 1/);
    expect(stats.stdout).not.toMatch(/:\/\/[^@\s]*:[^@\s]*@/); // no password printed
  });
});
