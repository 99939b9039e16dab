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
import { InputLookupTokenPredictor } from 'node-llama-cpp';
import { LOOKUP } from '../../bench/peer-llamacpp.ts';
import {
  median,
  PEER_ENGINES,
  summaryMarkdown,
  type EngineRun,
  type PeerDocument,
  type QuestionResult,
} from '../../bench/peer-report.ts';

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

describe('peer report', () => {
  const run = (decode: number, tpf: number | null = 1): EngineRun => ({
    decode_tok_s: decode,
    prefill_tok_s: 100,
    ttft_ms: 1000,
    tokens_per_forward: tpf,
    text: 'x',
  });
  const question = (id: string, scale: number): QuestionResult => ({
    id,
    prompt: 'p',
    prompt_tokens: 900,
    engines: {
      'ragspec-ar': run(10 * scale),
      'ragspec-reference': run(20 * scale, 2),
      'ragspec-hybrid': run(30 * scale, 3),
      'llamacpp-ar': run(40),
      'llamacpp-lookup': run(20, null),
    },
  });
  const doc = (load: number): PeerDocument => ({
    machine: { cpu: 'test CPU', cores: 2, node: 'v20', load_start: [load, 0, 0], load_end: [load, 0, 0] },
    threads: 2,
    questions: [question('a', 1), question('b', 2), question('c', 3)],
  });

  it('takes medians of finite values only', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([NaN, 5])).toBe(5);
    expect(median([])).toBeNaN();
  });

  it('prints median per-question ratios against llama.cpp plain and the identity counts', () => {
    const md = summaryMarkdown(doc(0.5), {
      identical: { 'ragspec-hybrid': 3 },
      tokenCountsMatch: 3,
      maxTokens: 8,
    });
    // ragspec-ar decodes 10, 20, 30 tok/s against 40: ratios 0.25, 0.5, 0.75, median 0.5
    expect(md).toContain('| ragspec-ar | 20.0 | 100 | 1000 | 1.00 | — | 0.50 |');
    expect(md).toContain('| ragspec-hybrid | 60.0 | 100 | 1000 | 3.00 | 3/3 | 1.50 |');
    // reference was identical on none of the questions; lookup has no forward count
    expect(md).toContain('| ragspec-reference | 40.0 | 100 | 1000 | 2.00 | 0/3 |');
    expect(md).toContain('| llamacpp-lookup | 20.0 | 100 | 1000 | n/a | 0/3 | 0.50 |');
    expect(md).toContain('| llamacpp-ar | 40.0 | 100 | 1000 | 1.00 | — | 1.00 |');
    expect(md).not.toContain('not a fair comparison');
  });

  it('says so when the machine was oversubscribed', () => {
    const md = summaryMarkdown(doc(7), { identical: {}, tokenCountsMatch: 3, maxTokens: 8 });
    expect(md).toContain('not a fair comparison');
  });
});

describe('llama.cpp prompt lookup settings', () => {
  it('sets the maximum pattern length explicitly (the default clamps it to the minimum)', () => {
    expect(new InputLookupTokenPredictor().patternMaxLength).toBe(1);
    const p = new InputLookupTokenPredictor(LOOKUP);
    expect([p.patternMinLength, p.patternMaxLength]).toEqual([1, 64]);
    expect(p.predictionMaxLength).toBeLessThanOrEqual(8);
  });
});
