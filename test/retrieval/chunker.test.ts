import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { chunkDocument, DEFAULT_CHUNKING } from '../../src/retrieval/chunker.ts';
import { loadEmbedderTokenizer } from '../../src/retrieval/embedder.ts';
import { parseMarkdown } from '../../src/retrieval/markdown.ts';
import { npmDocsDir } from '../../src/retrieval/default-corpus.ts';
import { embedderDir } from '../helpers/assets.ts';

const tok = loadEmbedderTokenizer(embedderDir());
const count = (t: string) => tok.encode(t, { add_special_tokens: false }).ids.length;

describe('parseMarkdown', () => {
  it('takes the title from front matter and tracks heading paths outside code fences', () => {
    const src =
      '---\ntitle: npm-demo\nsection: 1\n---\n\n# Top\n\nIntro text.\n\n## Sub\n\n```bash\n# not a heading\n\nstill code\n```\n\n### Deeper\n\nBody.\n';
    const p = parseMarkdown(src);
    expect(p.title).toBe('npm-demo');
    const kinds = p.blocks.map((b) => [b.kind, src.slice(b.start, b.end), b.headingPath.join(' > ')]);
    expect(kinds).toEqual([
      ['heading', '# Top', 'Top'],
      ['paragraph', 'Intro text.', 'Top'],
      ['heading', '## Sub', 'Top > Sub'],
      ['code', '```bash\n# not a heading\n\nstill code\n```', 'Top > Sub'],
      ['heading', '### Deeper', 'Top > Sub > Deeper'],
      ['paragraph', 'Body.', 'Top > Sub > Deeper'],
    ]);
  });

  it('falls back to the first level-1 heading for the title', () => {
    expect(parseMarkdown('intro\n\n# Real Title\n\ntext').title).toBe('Real Title');
    expect(parseMarkdown('no headings at all').title).toBeNull();
  });
});

describe('chunkDocument', () => {
  it('every passage of the npm docs is an exact slice of its source, within the token budget', () => {
    const root = npmDocsDir();
    let passages = 0;
    for (const f of ['commands/npm-ci.md', 'using-npm/config.md', 'configuring-npm/package-json.md']) {
      const src = fs.readFileSync(path.join(root, f), 'utf8');
      const { title, chunks } = chunkDocument(src, 'markdown', count);
      expect(title).toBeTruthy();
      for (const c of chunks) {
        expect(src.slice(c.start, c.end)).toBe(c.text);
        expect(c.tokens).toBeLessThanOrEqual(DEFAULT_CHUNKING.maxTokens);
        expect(c.text.trim()).not.toBe('');
      }
      // Passages move forward through the document; overlap means a start may precede the previous end.
      for (let i = 1; i < chunks.length; i++) expect(chunks[i]!.start).toBeGreaterThan(chunks[i - 1]!.start);
      passages += chunks.length;
    }
    expect(passages).toBeGreaterThan(20);
  });

  it('splits an over-long paragraph at sentence edges with overlap, and a huge word-run by words', () => {
    const sentences = Array.from(
      { length: 80 },
      (_, i) => `Sentence number ${i} talks about packages and registries.`,
    ).join(' ');
    const words = Array.from({ length: 700 }, (_, i) => `w${i}`).join(' ');
    const src = `# Long\n\n${sentences}\n\n${words}\n`;
    const { chunks } = chunkDocument(src, 'markdown', count, {
      maxTokens: 100,
      minTokens: 30,
      overlapTokens: 20,
    });
    expect(chunks.length).toBeGreaterThan(10);
    for (const c of chunks) {
      expect(src.slice(c.start, c.end)).toBe(c.text);
      expect(c.tokens).toBeLessThanOrEqual(100);
      expect(c.headingPath).toEqual(['Long']);
    }
    // Overlap: some passage starts before the previous one ends.
    expect(chunks.some((c, i) => i > 0 && c.start < chunks[i - 1]!.end)).toBe(true);
  });

  it('starts a new passage at a heading once the current one is big enough', () => {
    const para = 'npm installs packages into node_modules and records them in package-lock.json. '.repeat(7);
    const src = `## One\n\n${para}\n\n## Two\n\n${para}\n`;
    const { chunks } = chunkDocument(src, 'markdown', count, {
      maxTokens: 230,
      minTokens: 100,
      overlapTokens: 40,
    });
    expect(chunks.map((c) => c.headingPath)).toEqual([['One'], ['Two']]);
    expect(chunks[1]!.text.startsWith('## Two')).toBe(true);
  });

  it('plain text has no headings: "# x" lines are text', () => {
    const { title, chunks } = chunkDocument('# not a heading\n\nbody', 'text', count);
    expect(title).toBeNull();
    expect(chunks).toHaveLength(1);
    expect(chunks[0]!.headingPath).toEqual([]);
  });
});

describe('chunkDocument work (finding 3: one upload can hang ingest)', () => {
  /** The real tokenizer, counting how many characters it is handed in total. */
  function countingTokenizer() {
    const c = {
      chars: 0,
      count: (t: string) => {
        c.chars += t.length;
        return count(t);
      },
    };
    return c;
  }
  const wordRun = (n: number) => Array.from({ length: n }, (_, i) => `w${i.toString(36)}`).join(' ');

  it('tokenizes a 40k-word block a bounded number of times per character', () => {
    const src = `# Run\n\n${wordRun(40_000)}\n`;
    const c = countingTokenizer();
    const { chunks } = chunkDocument(src, 'markdown', c.count);
    expect(chunks.length).toBeGreaterThan(100);
    for (const ch of chunks) expect(ch.tokens).toBeLessThanOrEqual(DEFAULT_CHUNKING.maxTokens);
    // block once, each word once, each piece once: about 4x; re-counting the growing piece was ~100x.
    expect(c.chars).toBeLessThanOrEqual(5 * src.length);
  });

  it('tokenizer work grows linearly with input size', () => {
    const small = countingTokenizer();
    const big = countingTokenizer();
    chunkDocument(wordRun(5_000), 'text', small.count);
    chunkDocument(wordRun(20_000), 'text', big.count);
    expect(big.chars / small.chars).toBeLessThan(4 * 1.2);
  });
});
