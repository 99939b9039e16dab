/**
 * The real SmolLM2-135M-Instruct tokenizer, built from its GGUF. Fails (never skips) when the
 * model is missing: run `npx ragspec setup`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TextTokenizer } from '../../../src/model/tokenizer/tokenizer.ts';
import { renderChat } from '../../../src/model/tokenizer/chat.ts';
import { targetGguf } from '../../helpers/assets.ts';

let tok: TextTokenizer;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ragspec-tok-'));
beforeAll(async () => {
  tok = await TextTokenizer.fromGguf(targetGguf());
}, 60_000);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Text that does not spell out a special token (those encode as the special id by design). */
const noSpecials = (s: string): boolean =>
  !/<\||<repo_name>|<reponame>|<file_sep>|<filename>|<gh_stars>|<issue_|<jupyter_|<empty_output>|<commit_/.test(
    s,
  );

describe('SmolLM2 tokenizer from GGUF', () => {
  it('has the special ids the model card states', () => {
    expect(tok.vocabSize).toBe(49152);
    expect(tok.bosId).toBe(1);
    expect(tok.eosId).toBe(2);
    expect(tok.eosIds).toEqual([0, 2]); // <|endoftext|> and <|im_end|> both end generation
    expect(tok.encode('<|im_end|>')).toEqual([2]);
    expect(tok.encode('<|im_start|>')).toEqual([1]);
    expect(tok.encode('<|endoftext|>')).toEqual([0]);
    expect(tok.tokenToId('<|im_end|>')).toBe(2);
    expect(tok.decode([2])).toBe('<|im_end|>');
    expect(tok.decode([1, 2, 0], { skipSpecial: true })).toBe('');
    expect(tok.isSpecial(2)).toBe(true);
    expect(tok.isEos(2)).toBe(true);
    // add_bos_token is false in this GGUF, so addSpecial adds nothing.
    expect(tok.encode('Hi', { addSpecial: true })).toEqual(tok.encode('Hi'));
  });

  it('splits digits one by one and keeps a leading space on words (smollm pre-tokenizer)', () => {
    const pieces = (s: string): string[] => tok.encode(s).map((i) => tok.idToToken(i)!);
    expect(pieces('2024')).toEqual(['2', '0', '2', '4']);
    expect(pieces('The capital of France is')).toEqual(['The', 'Ġcapital', 'Ġof', 'ĠFrance', 'Ġis']);
    // GPT-2's \s+(?!\S) leaves the last newline before a word on its own.
    expect(pieces('a\n\nb')).toEqual(['a', 'Ċ', 'Ċ', 'b']);
  });

  it('gives the ids the reference Rust tokenizer gives for the same tokenizer.json', () => {
    // Golden ids from Hugging Face `tokenizers` 0.23.3 (the Rust implementation, through its
    // Python binding) loading the tokenizer.json this code builds from the GGUF: it checks that
    // @huggingface/tokenizers applies our Digits + ByteLevel pre-tokenizer and the 48,900
    // merges exactly as the reference engine does. (Cross-checked on 55 strings, npm docs
    // paragraphs included, with zero mismatches.)
    const golden: [string, number[]][] = [
      ['Hello, world!', [19556, 28, 905, 17]],
      ["I'm   here\n\n  ok", [57, 5248, 256, 1535, 8866, 10907]],
      [
        'Ünïcödé — “quotes” €100',
        [142, 246, 94, 25972, 83, 7466, 84, 2756, 1841, 619, 385, 2346, 573, 24927, 33, 32, 32],
      ],
      [
        'npm install <package>@<version> --save-dev',
        [4413, 93, 3397, 2067, 18491, 46, 48, 44, 5903, 46, 3009, 7806, 29, 6301],
      ],
      ['x = [1, 2, 3]; // comment', [104, 446, 933, 33, 28, 216, 34, 28, 216, 35, 26695, 13241, 5189]],
    ];
    for (const [text, ids] of golden) expect(tok.encode(text), text).toEqual(ids);
  });

  it('can treat control-token text in untrusted input as plain text', () => {
    const ids = tok.encode('a <|im_end|> b', { parseSpecial: false });
    expect(ids).not.toContain(2);
    expect(tok.decode(ids)).toBe('a <|im_end|> b');
    expect(tok.encode('a <|im_end|> b')).toContain(2);
  });

  it('encodes a chat turn with special tokens in place', () => {
    const ids = tok.encode('<|im_start|>user\nHi<|im_end|>\n');
    expect(ids[0]).toBe(1);
    expect(ids.at(-2)).toBe(2);
    expect(tok.decode(ids)).toBe('<|im_start|>user\nHi<|im_end|>\n');
  });

  it('knows which bytes its vocabulary lacks', () => {
    // SmolLM2's byte-level vocabulary has no piece for these bytes: six rare C0 controls
    // (EOT, ACK, DC3, DC4, SYN, GS), 0xC0/0xC1/0xF5-0xFF which never occur in UTF-8, and
    // 0xF1/0xF2 which only lead code points of the unassigned planes 4-11.
    const expected = [
      0x04, 0x06, 0x13, 0x14, 0x16, 0x1d, 0xc0, 0xc1, 0xf1, 0xf2, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb,
      0xfc, 0xfd, 0xfe, 0xff,
    ];
    expect([...tok.missingBytes].sort((a, b) => a - b)).toEqual(expected);
    expect(tok.canEncode('plain text, ünïcödé, 日本語, 🎉')).toBe(true);
    expect(tok.canEncode('a\u0004b')).toBe(false);
  });

  it('round-trips arbitrary Unicode (property)', () => {
    // Any code point (all planes, controls included): the token bytes are exactly the UTF-8
    // bytes minus those the vocabulary lacks, and when none is lacking the text round-trips.
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }).filter(noSpecials), (s) => {
        const ids = tok.encode(s);
        const got = Buffer.concat(ids.map((i) => tok.tokenBytes(i)));
        const want = Buffer.from([...Buffer.from(s, 'utf8')].filter((b) => !tok.missingBytes.has(b)));
        expect(got.equals(want)).toBe(true);
        if (tok.canEncode(s)) expect(tok.decode(ids)).toBe(s);
      }),
      { numRuns: 300, seed: 20261127 },
    );
    // Assigned characters, whitespace runs, contractions, digits, emoji sequences: exact round trip.
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.string({ unit: 'grapheme' }),
            fc.constantFrom(' ', '  ', '\n', '\t', "'s", '123', 'ÿ', '👩‍👩‍👧'),
          ),
          { maxLength: 12 },
        ),
        (parts) => {
          const s = parts.join('');
          fc.pre(noSpecials(s) && tok.canEncode(s));
          expect(tok.decode(tok.encode(s))).toBe(s);
        },
      ),
      { numRuns: 200, seed: 7 },
    );
  });

  it('token bytes concatenate to the UTF-8 of the text, also when a character spans tokens', () => {
    const s = 'héllo 日本語 🎉 ok';
    const ids = tok.encode(s);
    const bytes = Buffer.concat(ids.map((i) => tok.tokenBytes(i)));
    expect(bytes.toString('utf8')).toBe(s);
    expect(
      ids.some((i) => {
        try {
          new TextDecoder('utf-8', { fatal: true }).decode(tok.tokenBytes(i));
          return false;
        } catch {
          return true;
        }
      }),
    ).toBe(true);
  });

  it('writes tokenizer.json + tokenizer_config.json that load back identically', () => {
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tok.toJSON()));
    fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(tok.tokenizerConfig()));
    const back = TextTokenizer.fromFile(path.join(dir, 'tokenizer.json'));
    const s = '<|im_start|>user\nWhat is 2+2? Ünïcödé 42<|im_end|>\n';
    expect(back.encode(s)).toEqual(tok.encode(s));
    expect(back.eosIds).toEqual(tok.eosIds);
    expect(back.bosId).toBe(1);
    expect(back.chatTemplate).toBe(tok.chatTemplate);
  });
});

describe('SmolLM2 chat template', () => {
  it('renders system + user with a generation prompt as exact ChatML', () => {
    const text = renderChat(tok, [
      { role: 'system', content: 'You answer from the passages.' },
      { role: 'user', content: 'What is 2+2?' },
    ]);
    expect(text).toBe(
      '<|im_start|>system\nYou answer from the passages.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n',
    );
  });

  it('inserts the default system prompt when none is given', () => {
    const text = renderChat(tok, [{ role: 'user', content: 'Hi' }]);
    expect(text).toBe(
      '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n',
    );
  });

  it('omits the assistant header without add_generation_prompt, and keeps multi-turn order', () => {
    const text = renderChat(
      tok,
      [
        { role: 'system', content: 'S' },
        { role: 'user', content: 'U1' },
        { role: 'assistant', content: 'A1' },
        { role: 'user', content: 'U2' },
      ],
      { addGenerationPrompt: false },
    );
    expect(text).toBe(
      '<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU1<|im_end|>\n<|im_start|>assistant\nA1<|im_end|>\n<|im_start|>user\nU2<|im_end|>\n',
    );
  });
});
