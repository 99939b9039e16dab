/**
 * `npm run bench:peer` stays installable and runnable: one question, 8 new tokens, as a
 * child process. Checks the JSON's shape and the greedy identities — never timings. Needs
 * the real model: without it the bench exits non-zero naming `npx ragspec setup`, and this
 * test fails with that message.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../src/util/paths.ts';
import { PEER_ENGINES, type PeerDocument } from '../../bench/peer-report.ts';

/** Runs a command without blocking the worker (vitest's RPC times out on a blocked event loop). */
function run(cmd: string, args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      {
        cwd: repoRoot,
        env: { ...process.env, NODE_LLAMA_CPP_SKIP_DOWNLOAD: 'true' },
        encoding: 'utf8',
        maxBuffer: 64 << 20,
        timeout: 1_200_000,
      },
      (err, stdout, stderr) => {
        const code = (err as { code?: unknown } | null)?.code;
        resolve({ status: err ? (typeof code === 'number' ? code : 1) : 0, stdout, stderr });
      },
    );
  });
}

describe('npm run bench:peer', () => {
  it('runs one question through all five engines and writes the documented JSON', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ragspec-peer-'));
    const out = path.join(dir, 'peer.json');
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const r = await run(npm, ['run', 'bench:peer', '--', '--limit', '1', '--max-tokens', '8', '--json', out]);
    expect(r.status, `bench:peer exited ${r.status}:\n${r.stderr}`).toBe(0);

    const doc = JSON.parse(fs.readFileSync(out, 'utf8')) as PeerDocument;
    expect(Object.keys(doc).sort()).toEqual(['machine', 'questions', 'threads']);
    expect(doc.threads).toBeGreaterThan(0);
    expect(doc.machine.cores).toBeGreaterThan(0);
    expect(doc.questions).toHaveLength(1);
    const q = doc.questions[0]!;
    expect(Object.keys(q).sort()).toEqual(['engines', 'id', 'prompt', 'prompt_tokens']);
    // the full rendered prompt: chat template, numbered passages, then the question
    expect(q.prompt).toContain('<|im_start|>system');
    expect(q.prompt).toContain('[1] ');
    expect(q.prompt.trimEnd().endsWith('<|im_start|>assistant')).toBe(true);
    expect(q.prompt_tokens).toBeGreaterThan(100);
    expect(Object.keys(q.engines).sort()).toEqual([...PEER_ENGINES].sort());
    for (const e of PEER_ENGINES) {
      const run = q.engines[e];
      expect(Object.keys(run).sort(), e).toEqual(
        ['decode_tok_s', 'prefill_tok_s', 'text', 'tokens_per_forward', 'ttft_ms'].sort(),
      );
      expect(run.text.length, `${e} produced no text`).toBeGreaterThan(0);
      for (const k of ['decode_tok_s', 'prefill_tok_s', 'ttft_ms'] as const) {
        expect(Number.isFinite(run[k]) && run[k] > 0, `${e}.${k} = ${run[k]}`).toBe(true);
      }
    }
    // greedy: ragspec's speculative modes reproduce its own plain decoding exactly
    expect(q.engines['ragspec-reference'].text).toBe(q.engines['ragspec-ar'].text);
    expect(q.engines['ragspec-hybrid'].text).toBe(q.engines['ragspec-ar'].text);
    expect(q.engines['ragspec-ar'].tokens_per_forward).toBe(1);
    expect(q.engines['llamacpp-ar'].tokens_per_forward).toBe(1);
    // the markdown summary names every engine
    for (const e of PEER_ENGINES) expect(r.stdout).toContain(`| ${e} |`);
    fs.rmSync(dir, { recursive: true, force: true });
  }, 1_200_000);
});
