/**
 * Packs markdown blocks into passages of about `maxTokens` word pieces of the embedding
 * tokenizer. A new passage starts at a heading (once the current one holds at least
 * `minTokens`); a passage closed for size carries up to `overlapTokens` of its tail into
 * the next one. Blocks longer than a passage are split at sentence, line and then word
 * edges. Every passage is an exact slice of the source: `source.slice(start, end) === text`.
 */
import { parseMarkdown, type Block } from './markdown.ts';

export interface ChunkOptions {
  maxTokens: number;
  minTokens: number;
  overlapTokens: number;
}

export const DEFAULT_CHUNKING: ChunkOptions = { maxTokens: 230, minTokens: 150, overlapTokens: 40 };

export interface Chunk {
  start: number;
  end: number;
  text: string;
  headingPath: string[];
  tokens: number;
}

interface Unit {
  start: number;
  end: number;
  tokens: number;
  headingPath: string[];
  heading: boolean;
}

export type TokenCounter = (text: string) => number;

export interface ChunkedDocument {
  title: string | null;
  chunks: Chunk[];
}

export function chunkDocument(
  source: string,
  format: 'markdown' | 'text',
  count: TokenCounter,
  opts: ChunkOptions = DEFAULT_CHUNKING,
): ChunkedDocument {
  const parsed = parseMarkdown(source, { headings: format === 'markdown' });
  const units: Unit[] = [];
  for (const b of parsed.blocks) units.push(...blockUnits(source, b, count, opts.maxTokens));
  return { title: parsed.title, chunks: pack(source, units, opts) };
}

function blockUnits(source: string, b: Block, count: TokenCounter, max: number): Unit[] {
  const tokens = count(source.slice(b.start, b.end));
  const heading = b.kind === 'heading';
  if (tokens <= max) return [{ start: b.start, end: b.end, tokens, headingPath: b.headingPath, heading }];
  // Too long for one passage: sentences (or lines, for code), then words.
  const edge = b.kind === 'code' ? /\n/g : /(?<=[.!?:;])\s+|\n/g;
  const pieces: Unit[] = [];
  for (const [s, e] of splitAt(source, b.start, b.end, edge)) {
    const t = count(source.slice(s, e));
    if (t <= max) pieces.push({ start: s, end: e, tokens: t, headingPath: b.headingPath, heading: false });
    else pieces.push(...wordUnits(source, s, e, count, max, b.headingPath));
  }
  return pieces;
}

/** [start, end) ranges of the non-blank stretches between separator matches. */
function splitAt(source: string, start: number, end: number, sep: RegExp): [number, number][] {
  const text = source.slice(start, end);
  const out: [number, number][] = [];
  let last = 0;
  for (const m of text.matchAll(sep)) {
    if (m.index! > last) out.push([start + last, start + m.index!]);
    last = m.index! + m[0].length;
  }
  if (last < text.length) out.push([start + last, end]);
  return out.filter(([s, e]) => source.slice(s, e).trim() !== '');
}

/**
 * Greedy word packing in linear time: each word is counted once and a piece's count is the
 * sum of its words' counts (exact for a WordPiece tokenizer, which splits on whitespace
 * first), then each finished piece is counted once to confirm. Re-counting the growing
 * piece after every word made a 40k-word block cost seconds.
 */
function wordUnits(
  source: string,
  start: number,
  end: number,
  count: TokenCounter,
  max: number,
  headingPath: string[],
): Unit[] {
  const words = splitAt(source, start, end, /\s+/g);
  const wordTokens = words.map(([s, e]) => count(source.slice(s, e)));
  const out: Unit[] = [];
  let i = 0;
  while (i < words.length) {
    // A single over-long "word" becomes its own piece (truncated when embedded).
    let j = i + 1;
    let sum = wordTokens[i]!;
    while (j < words.length && sum + wordTokens[j]! <= max) sum += wordTokens[j++]!;
    let t = j - i === 1 ? sum : count(source.slice(words[i]![0], words[j - 1]![1]));
    // A tokenizer whose counts are not additive over words: give words back until it fits.
    while (t > max && j - i > 1) {
      j--;
      t = count(source.slice(words[i]![0], words[j - 1]![1]));
    }
    out.push({ start: words[i]![0], end: words[j - 1]![1], tokens: t, headingPath, heading: false });
    i = j;
  }
  return out;
}

function pack(source: string, units: Unit[], opts: ChunkOptions): Chunk[] {
  const chunks: Chunk[] = [];
  let cur: Unit[] = [];
  let curTokens = 0;
  const flush = () => {
    // A passage of headings alone says nothing; it is dropped (its text reappears as the heading path).
    if (cur.length && cur.some((u) => !u.heading)) {
      const first = cur[0]!;
      const last = cur[cur.length - 1]!;
      chunks.push({
        start: first.start,
        end: last.end,
        text: source.slice(first.start, last.end),
        headingPath: first.headingPath,
        tokens: curTokens,
      });
    }
  };
  for (const u of units) {
    if (u.heading && curTokens >= opts.minTokens) {
      flush();
      cur = [];
      curTokens = 0;
    } else if (cur.length && curTokens + u.tokens > opts.maxTokens) {
      flush();
      // Carry the tail of the closed passage (whole units, up to overlapTokens) into the next.
      const carry: Unit[] = [];
      let carried = 0;
      for (let i = cur.length - 1; i >= 1; i--) {
        const c = cur[i]!;
        if (carried + c.tokens > opts.overlapTokens || carried + c.tokens + u.tokens > opts.maxTokens) break;
        carry.unshift(c);
        carried += c.tokens;
      }
      cur = carry;
      curTokens = carried;
    }
    cur.push(u);
    curTokens += u.tokens;
  }
  flush();
  return chunks;
}
