/** Shared pieces of the retrieval tests: one embedder per test file, temp folders, the CLI as a child. */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { embedderDir } from '../helpers/assets.ts';
import { Embedder } from '../../src/retrieval/embedder.ts';
import { repoRoot } from '../../src/util/paths.ts';

let shared: Promise<Embedder> | null = null;

/** The real embedding model, loaded once per test file (fails with `run npx ragspec setup` when missing). */
export function sharedEmbedder(): Promise<Embedder> {
  shared ??= Embedder.load({ dir: embedderDir() });
  return shared;
}

export function tempDir(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `ragspec-${tag}-`));
}

export function writeFiles(dir: string, files: Record<string, string | Buffer>): void {
  for (const [name, body] of Object.entries(files)) {
    const f = path.join(dir, name);
    fs.mkdirSync(path.dirname(f), { recursive: true });
    fs.writeFileSync(f, body);
  }
}

export const ragspecBin = path.join(repoRoot, 'bin', 'ragspec.js');

export function runCli(args: string[], env: Record<string, string> = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [ragspecBin, ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 120_000,
  });
}

/**
 * The npm-docs dev set: `../shared/eval` beside the repository (as CI clones it), or
 * RAGSPEC_EVAL_FILE for a checkout that is not beside it (as lossless-real.ts reads it).
 */
export function devSetPath(): string {
  const f =
    process.env.RAGSPEC_EVAL_FILE ?? path.resolve(repoRoot, '..', 'shared', 'eval', 'npm-docs-dev.jsonl');
  if (!fs.existsSync(f)) throw new Error(`${f} not found — clone shared/ beside the repository`);
  return f;
}
