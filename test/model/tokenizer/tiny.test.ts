/** The tiny fixture's byte-level tokenizer: every byte has a token, so everything round-trips. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TextTokenizer } from '../../../src/model/tokenizer/tokenizer.ts';
import { renderChat } from '../../../src/model/tokenizer/chat.ts';
import { tokenizerFromGguf } from '../../../src/model/tokenizer/from-gguf.ts';
import { openGguf } from '../../../src/model/gguf/reader.ts';
import { writeTinyLlamaGguf } from '../../helpers/tiny-gguf.ts';
import { BadFileError } from '../../../src/util/errors.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ragspec-tinytok-'));
let tok: TextTokenizer;
let file: string;
beforeAll(async () => {
  file = writeTinyLlamaGguf(path.join(dir, 'tiny.gguf')).path;
  tok = await TextTokenizer.fromGguf(file);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('tiny GGUF tokenizer', () => {
  it('has the ChatML special tokens at ids 0..2 and 256 byte tokens', () => {
    expect(tok.vocabSize).toBe(3 + 256 + 6);
    expect([tok.bosId, tok.eosId]).toEqual([1, 2]);
    expect(tok.eosIds).toEqual([0, 2]);
    expect(tok.missingBytes.size).toBe(0);
    expect(tok.encode('<|im_start|>x<|im_end|>')).toEqual([1, tok.tokenToId('x'), 2]);
  });

  it('applies merges in rank order', () => {
    // ' the' → Ġ t h e; rank 0 'Ġ t' → Ġt, rank 1 'h e' → he, rank 2 'Ġt he' → Ġthe (id 3+256+2).
    expect(tok.encode(' the')).toEqual([261]);
    // 'the' has no leading space: t + he ('t he' is not a merge).
    expect(tok.encode('the').map((i) => tok.idToToken(i))).toEqual(['t', 'he']);
    // Digits are split one by one before byte-level splitting (smollm pre-tokenizer).
    expect(tok.encode('42').map((i) => tok.idToToken(i))).toEqual(['4', '2']);
  });

  it('round-trips any Unicode string (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 60 }), (s) => {
        fc.pre(!s.includes('<|'));
        expect(tok.decode(tok.encode(s))).toBe(s);
      }),
      { numRuns: 300, seed: 11 },
    );
  });

  it('renders its ChatML template', () => {
    expect(
      renderChat(tok, [
        { role: 'system', content: 's' },
        { role: 'user', content: 'u' },
      ]),
    ).toBe('<|im_start|>system\ns<|im_end|>\n<|im_start|>user\nu<|im_end|>\n<|im_start|>assistant\n');
  });

  it('supports the llama3, qwen2, gpt-2 and default pre-tokenizers, and refuses unknown ones', async () => {
    const g = await openGguf(file);
    for (const pre of ['llama3', 'llama-bpe', 'qwen2', 'gpt-2', 'default', 'smollm']) {
      const t = TextTokenizer.fromGgufMetadata({ ...g.metadata, 'tokenizer.ggml.pre': pre }, file);
      const s = "Hello  world's 12345\n\n ünï 🎉";
      expect(t.decode(t.encode(s))).toBe(s);
    }
    // llama3 groups digits in threes, qwen2 one by one.
    const pieces = (pre: string, s: string): string[] => {
      const t = TextTokenizer.fromGgufMetadata({ ...g.metadata, 'tokenizer.ggml.pre': pre }, file);
      return t.encode(s).map((i) => t.idToToken(i)!);
    };
    expect(pieces('qwen2', '12345')).toEqual(['1', '2', '3', '4', '5']);
    expect(
      tokenizerFromGguf({ ...g.metadata, 'tokenizer.ggml.pre': 'llama3' }, file).tokenizerJson.model,
    ).toMatchObject({ ignore_merges: true });
    expect(() => tokenizerFromGguf({ ...g.metadata, 'tokenizer.ggml.pre': 'klingon' }, file)).toThrow(
      BadFileError,
    );
    try {
      tokenizerFromGguf({ ...g.metadata, 'tokenizer.ggml.pre': 'klingon' }, file);
    } catch (err) {
      expect((err as BadFileError).oneLine()).toMatch(
        /tiny\.gguf: unsupported pre-tokenizer 'klingon' .* supported: .*smollm/,
      );
      expect((err as BadFileError).oneLine()).not.toContain('\n');
    }
  });
});
