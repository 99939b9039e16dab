/**
 * `npm run bench:drafting` — speed of the reference drafter's `propose` on this machine: mean
 * ms per step over a 5k-token reference (word-level toy tokenizer, no model needed).
 * Prints only. (Moved here from test/drafting/reference.test.ts, which only logged it.)
 * Flags: --tokens N (reference length, default 5000), --steps N (default 200).
 */
import { ReferenceDrafter } from '../src/drafting/sources/reference.ts';

const argv = process.argv.slice(2);
const flag = (name: string, dflt: number): number => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : dflt;
};
const tokens = flag('tokens', 5000);
const steps = flag('steps', 200);

const words = ['<eos>', ' the', ' cat', ' sat', ' on', ' mat', ' dog', ' ran', ' far', ' a', ' big'];
const tok = {
  encode: (text: string): number[] =>
    text
      .split(/(?= )/)
      .filter(Boolean)
      .map((w) => words.indexOf(w)),
  decode: (ids: readonly number[]): string => ids.map((i) => words[i]).join(''),
};
const budget = { maxTokens: 32, maxDepth: 4, maxBranches: 4 };

const text = Array.from({ length: tokens }, (_, i) => words[1 + ((i * 7919) % 10)]).join('');
const drafter = new ReferenceDrafter([{ id: 1, text }], tok);
const ctx = tok.encode(text.slice(0, 200));
const t0 = performance.now();
for (let i = 0; i < steps; i++)
  drafter.propose({ tokens: ctx, promptLength: ctx.length, sampling: { temperature: 0 } }, budget);
const ms = (performance.now() - t0) / steps;
console.log(`reference propose: ${ms.toFixed(3)} ms/step over ${drafter.referenceTokens} reference tokens`);
