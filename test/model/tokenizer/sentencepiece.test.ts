/**
 * SentencePiece-style ('llama') GGUF vocabularies: pieces with scores, byte fallback tokens,
 * a leading ▁. Expected pieces are derived by hand from SentencePiece's BPE rule: merge the
 * adjacent pair whose joined piece has the highest score, until none is in the vocabulary.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeGguf } from '../../../src/model/gguf/writer.ts';
import { TextTokenizer } from '../../../src/model/tokenizer/tokenizer.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ragspec-spm-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

// ids 0..2 specials, 3..258 byte tokens <0x00>..<0xFF>, then pieces from 259.
const PIECES: [string, number][] = [
  ['▁', -50],
  ['h', -60],
  ['e', -61],
  ['l', -62],
  ['o', -63],
  ['w', -64],
  ['r', -65],
  ['d', -66],
  ['▁h', -1],
  ['ll', -2],
  ['▁he', -3],
  ['llo', -4],
  ['▁hello', -5],
  ['▁w', -6],
  ['or', -7],
  ['▁wor', -8],
  ['ld', -9],
  ['▁world', -10],
];
let tok: TextTokenizer;

beforeAll(async () => {
  const tokens = [
    '<unk>',
    '<s>',
    '</s>',
    ...Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`),
    ...PIECES.map((p) => p[0]),
  ];
  const types = tokens.map((_, i) => (i === 0 ? 2 : i < 3 ? 3 : i < 259 ? 6 : 1));
  const scores = tokens.map((_, i) => (i < 259 ? 0 : PIECES[i - 259]![1]));
  const file = path.join(dir, 'spm.gguf');
  writeGguf(file, {
    metadata: {
      'general.architecture': 'llama',
      'tokenizer.ggml.model': 'llama',
      'tokenizer.ggml.tokens': tokens,
      'tokenizer.ggml.scores': { type: 'FLOAT32', value: scores },
      'tokenizer.ggml.token_type': { type: 'INT32', value: types },
      'tokenizer.ggml.bos_token_id': 1,
      'tokenizer.ggml.eos_token_id': 2,
      'tokenizer.ggml.unknown_token_id': 0,
      'tokenizer.chat_template':
        "{{ bos_token }}{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}{{ eos_token }}{% endfor %}",
    },
    tensors: [],
  });
  tok = await TextTokenizer.fromGguf(file);
});

describe('SentencePiece vocabulary from GGUF', () => {
  it('merges by score: ▁hello ▁world', () => {
    // ▁ h e l l o ▁ w o r l d → ▁h(-1) → ll(-2) → ▁he(-3) → llo(-4) → ▁hello(-5) → ▁w(-6) → or(-7)
    // → ▁wor(-8) → ld(-9) → ▁world(-10)
    const ids = tok.encode('hello world');
    expect(ids.map((i) => tok.idToToken(i))).toEqual(['▁hello', '▁world']);
    expect(tok.decode(ids)).toBe('hello world');
  });

  it('falls back to byte tokens for pieces it lacks, and decodes them back', () => {
    // z is not a piece → <0x7A>; € is E2 82 AC.
    const ids = tok.encode('hello z€');
    expect(ids.map((i) => tok.idToToken(i))).toEqual(['▁hello', '▁', '<0x7A>', '<0xE2>', '<0x82>', '<0xAC>']);
    expect(tok.decode(ids)).toBe('hello z€');
    expect(Buffer.concat(ids.map((i) => tok.tokenBytes(i))).toString()).toBe(' hello z€');
  });

  it('adds BOS when asked (llama default) and renders its template with bos/eos', () => {
    expect(tok.encode('hello', { addSpecial: true })).toEqual([1, tok.tokenToId('▁hello')]);
    expect(tok.missingBytes.size).toBe(0);
    expect(tok.chatTemplate).toContain('bos_token');
  });

  it('round-trips arbitrary Unicode without leading spaces (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 30 }), (s) => {
        fc.pre(!s.startsWith(' ') && !s.includes('<s>') && !s.includes('</s>') && !s.includes('<unk>'));
        expect(tok.decode(tok.encode(s))).toBe(s);
      }),
      { numRuns: 200, seed: 3 },
    );
  });
});
