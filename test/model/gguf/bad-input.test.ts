/**
 * Bad GGUF input: each case is a BadFileError whose one-line message names the file, the
 * problem and a fix — through the library and through `ragspec convert`.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadWeights, openGguf } from '../../../src/model/gguf/reader.ts';
import { TextTokenizer } from '../../../src/model/tokenizer/tokenizer.ts';
import { BadFileError, errorMessage } from '../../../src/util/errors.ts';
import { repoRoot } from '../../../src/util/paths.ts';
import { writeTinyLlamaGguf } from '../../helpers/tiny-gguf.ts';
import { targetGguf } from '../../helpers/assets.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ragspec-bad-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const files: Record<string, string> = {};
beforeAll(() => {
  const good = writeTinyLlamaGguf(path.join(dir, 'good.gguf')).path;
  const bytes = fs.readFileSync(good);
  const g = (name: string, data: Uint8Array | string): string => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, data);
    return p;
  };
  files.truncatedData = g('truncated-data.gguf', bytes.subarray(0, bytes.length - 100));
  files.truncatedHeader = g('truncated-header.gguf', bytes.subarray(0, 1000));
  files.tiny = g('tiny.gguf', bytes.subarray(0, 10));
  files.text = g('notes.gguf', 'These are my notes, not a model.\n');
  files.empty = g('empty.gguf', '');
  files.mamba = writeTinyLlamaGguf(path.join(dir, 'mamba.gguf'), { architectureName: 'mamba' }).path;
  // IQ2_XXS (ggml type 16): 66-byte blocks of 256; Q2_K (type 10): 84-byte blocks of 256.
  files.iq2 = writeTinyLlamaGguf(path.join(dir, 'iq2.gguf'), {
    extraTensors: [{ name: 'blk.0.extra.weight', ne: [256], type: 16, raw: new Uint8Array(66) }],
  }).path;
  files.q2k = writeTinyLlamaGguf(path.join(dir, 'q2k.gguf'), {
    extraTensors: [{ name: 'blk.1.extra.weight', ne: [256], type: 10, raw: new Uint8Array(84) }],
  }).path;
});

async function failure(fn: () => Promise<unknown>): Promise<BadFileError> {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(BadFileError);
    const line = errorMessage(err);
    expect(line).not.toMatch(/\n/);
    expect(line).not.toMatch(/\bat .*\.ts:\d+/); // no stack frames
    return err as BadFileError;
  }
  throw new Error('expected a BadFileError');
}

describe('bad GGUF input (library)', () => {
  it('truncated tensor data', async () => {
    const e = await failure(() => loadWeights(files.truncatedData!));
    expect(e.oneLine()).toMatch(
      /truncated-data\.gguf: truncated GGUF: tensor output_norm\.weight ends at byte \d+ but the file has only \d+ bytes — .*fetch or convert it again/,
    );
  });

  it('truncated header', async () => {
    for (const f of [files.truncatedHeader!, files.tiny!]) {
      const e = await failure(() => openGguf(f));
      expect(e.oneLine()).toMatch(
        /\.gguf: truncated GGUF: the header ends past the end of the file \(\d+ bytes\) — /,
      );
    }
  });

  it('truncated copies of the real model (header cut, data cut)', async () => {
    const real = fs.readFileSync(targetGguf()).subarray(0, 2_000_000); // header is ~1.8 MB (49k tokens)
    const cutHeader = path.join(dir, 'real-header.gguf');
    const cutData = path.join(dir, 'real-data.gguf');
    fs.writeFileSync(cutHeader, real.subarray(0, 1_000_000));
    fs.writeFileSync(cutData, real);
    expect((await failure(() => loadWeights(cutHeader))).oneLine()).toMatch(
      /real-header\.gguf: truncated GGUF: the header ends/,
    );
    expect((await failure(() => loadWeights(cutData))).oneLine()).toMatch(
      /real-data\.gguf: truncated GGUF: tensor \S+ ends at byte/,
    );
    expect((await failure(() => TextTokenizer.fromGguf(cutHeader))).oneLine()).toMatch(/truncated GGUF/);
  });

  it('not a GGUF file, an empty file, a missing file', async () => {
    expect((await failure(() => loadWeights(files.text!))).oneLine()).toMatch(
      /notes\.gguf: not a GGUF file \(it does not start with the GGUF magic bytes\) — pass a \.gguf model file/,
    );
    expect((await failure(() => loadWeights(files.empty!))).oneLine()).toMatch(/empty\.gguf: empty file — /);
    expect((await failure(() => loadWeights(path.join(dir, 'nope.gguf')))).oneLine()).toMatch(
      /nope\.gguf: file not found — /,
    );
  });

  it('unsupported architecture names the supported ones', async () => {
    const e = await failure(() => loadWeights(files.mamba!));
    expect(e.oneLine()).toMatch(
      /mamba\.gguf: unsupported architecture 'mamba' — ragspec runs llama and qwen2 GGUF models/,
    );
  });

  it('unsupported quant type names the type and the supported list', async () => {
    const e1 = await failure(() => loadWeights(files.iq2!));
    expect(e1.oneLine()).toMatch(
      /iq2\.gguf: tensor blk\.0\.extra\.weight uses quantisation type IQ2_XXS, which ragspec cannot read — supported types are F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q5_K, Q6_K/,
    );
    const e2 = await failure(() => loadWeights(files.q2k!));
    expect(e2.oneLine()).toMatch(/q2k\.gguf: tensor blk\.1\.extra\.weight uses quantisation type Q2_K/);
    // The tokenizer alone still loads: only the weights are unreadable.
    expect((await TextTokenizer.fromGguf(files.q2k!)).vocabSize).toBeGreaterThan(256);
  });
});

describe('bad GGUF input (ragspec convert)', () => {
  it('prints one line naming the file and problem, exit code 1, no stack trace', () => {
    const cases: [string, RegExp][] = [
      [files.truncatedData!, /truncated GGUF: tensor/],
      [files.text!, /not a GGUF file/],
      [files.mamba!, /unsupported architecture 'mamba'/],
      [files.iq2!, /quantisation type IQ2_XXS/],
    ];
    for (const [file, problem] of cases) {
      const r = spawnSync(
        process.execPath,
        [path.join(repoRoot, 'bin', 'ragspec.js'), 'convert', file, '--out', path.join(dir, 'out')],
        {
          encoding: 'utf8',
          timeout: 60_000,
          env: { ...process.env, RAGSPEC_DEBUG: '' },
        },
      );
      expect(r.status, r.stderr).toBe(1);
      const lines = r.stderr
        .trim()
        .split('\n')
        .filter((l) => !l.startsWith('npm warn'));
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toContain(path.basename(file));
      expect(lines[0]).toMatch(problem);
    }
  }, 120_000);
});
