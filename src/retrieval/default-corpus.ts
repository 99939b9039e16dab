/**
 * The default corpus: npm's documentation as shipped with the global npm install
 * (`npm root -g` → npm/docs/content, paths like `commands/npm-ci.md`), plus ragspec's own
 * documents in `corpus/` (paths under `ragspec/`).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { MissingAssetError } from '../util/errors.ts';
import { repoRoot } from '../util/paths.ts';
import type { IngestRoot } from './loaders.ts';

export function npmDocsDir(): string {
  const candidates: string[] = [];
  // The npm running us (npx / npm run) knows where it lives.
  if (process.env.npm_execpath)
    candidates.push(path.resolve(path.dirname(process.env.npm_execpath), '..', 'docs', 'content'));
  try {
    const root = execFileSync('npm', ['root', '-g'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    candidates.push(path.join(root, 'npm', 'docs', 'content'));
  } catch {
    /* npm not on PATH */
  }
  candidates.push(
    path.resolve(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'docs', 'content'),
  );
  const found = candidates.find((c) => fs.existsSync(path.join(c, 'commands')));
  if (!found) {
    throw new MissingAssetError(
      "npm's documentation (npm root -g → npm/docs/content)",
      'install Node.js with its bundled npm, or name the folders to ingest',
    );
  }
  return found;
}

export function defaultCorpusRoots(): IngestRoot[] {
  return [
    { path: npmDocsDir(), prefix: '' },
    { path: path.join(repoRoot, 'corpus'), prefix: 'ragspec/' },
  ];
}
