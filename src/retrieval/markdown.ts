/**
 * Markdown (and plain text) split into blocks: headings, paragraphs and fenced code, each
 * with [start, end) character offsets into the source and the heading path above it. The
 * chunker packs these blocks into passages, so passage boundaries fall on block edges.
 */

export interface Block {
  start: number;
  end: number;
  kind: 'heading' | 'paragraph' | 'code';
  /** Headings above (and including, for a heading block) this block, outermost first. */
  headingPath: string[];
}

export interface ParsedMarkdown {
  /** From front matter `title:`, else the first `#` heading, else null. */
  title: string | null;
  /** Where the body starts (after front matter). */
  bodyStart: number;
  blocks: Block[];
}

const FRONT_MATTER = /^---\r?\n([\s\S]*?)\r?\n---[ \t]*(\r?\n|$)/;

/** What `headingOf` reads: a string, or (in tests) anything that counts its reads. */
export interface CharSource {
  readonly length: number;
  charCodeAt(i: number): number;
  slice(start: number, end: number): string;
}

const HASH = 0x23;
const SPACE = 0x20;
const TAB = 0x09;

/**
 * An ATX heading line → its level and text, else null: 1-6 `#`, at least one space or tab,
 * then the text without trailing spaces, tabs and `#`. One pass from each end, so linear in
 * the line (the regex it replaces, `^(#{1,6})[ \t]+(.*?)[ \t#]*$`, was quadratic on
 * `# a # # # …`).
 */
export function headingOf(line: CharSource): { level: number; text: string } | null {
  let level = 0;
  while (level < line.length && line.charCodeAt(level) === HASH) level++;
  if (level === 0 || level > 6 || level === line.length) return null;
  const c = line.charCodeAt(level);
  if (c !== SPACE && c !== TAB) return null;
  let start = level + 1;
  let end = line.length;
  while (end > start) {
    const e = line.charCodeAt(end - 1);
    if (e !== SPACE && e !== TAB && e !== HASH) break;
    end--;
  }
  while (start < end) {
    const b = line.charCodeAt(start);
    if (b !== SPACE && b !== TAB) break;
    start++;
  }
  return { level, text: line.slice(start, end).trim() };
}
const FENCE = /^[ \t]{0,3}(```|~~~)/;

export function parseMarkdown(source: string, opts: { headings?: boolean } = {}): ParsedMarkdown {
  const headings = opts.headings ?? true;
  let title: string | null = null;
  let bodyStart = 0;
  const fm = headings ? FRONT_MATTER.exec(source) : null;
  if (fm) {
    bodyStart = fm[0].length;
    const t = /^title:[ \t]*(.+)$/m.exec(fm[1]!);
    if (t) title = unquote(t[1]!.trim());
  }

  const blocks: Block[] = [];
  const stack: { level: number; text: string }[] = [];
  const pathNow = () => stack.map((h) => h.text);
  let para: { start: number; end: number } | null = null;
  let fence: { start: number; marker: string } | null = null;
  const closePara = () => {
    if (para) blocks.push({ ...para, kind: 'paragraph', headingPath: pathNow() });
    para = null;
  };

  let pos = bodyStart;
  let heading: ReturnType<typeof headingOf> = null;
  while (pos < source.length) {
    const nl = source.indexOf('\n', pos);
    const lineEnd = nl === -1 ? source.length : nl;
    const next = nl === -1 ? source.length : nl + 1;
    const line = source.slice(pos, lineEnd).replace(/\r$/, '');
    const contentEnd = pos + line.length;

    if (fence) {
      if (line.trimStart().startsWith(fence.marker)) {
        blocks.push({ start: fence.start, end: contentEnd, kind: 'code', headingPath: pathNow() });
        fence = null;
      }
    } else if (headings && FENCE.test(line)) {
      closePara();
      fence = { start: pos, marker: FENCE.exec(line)![1]! };
    } else if (line.trim() === '') {
      closePara();
    } else if ((heading = headings ? headingOf(line) : null)) {
      closePara();
      const { level, text } = heading;
      while (stack.length && stack[stack.length - 1]!.level >= level) stack.pop();
      stack.push({ level, text });
      if (title === null && level === 1) title = text;
      blocks.push({ start: pos, end: contentEnd, kind: 'heading', headingPath: pathNow() });
    } else if (para) {
      para.end = contentEnd;
    } else {
      para = { start: pos + (line.length - line.trimStart().length), end: contentEnd };
    }
    pos = next;
  }
  // An unclosed fence runs to the end of the file.
  if (fence)
    blocks.push({
      start: fence.start,
      end: trimEnd(source, source.length),
      kind: 'code',
      headingPath: pathNow(),
    });
  closePara();
  return { title, bodyStart, blocks };
}

function trimEnd(s: string, end: number): number {
  while (end > 0 && /\s/.test(s[end - 1]!)) end--;
  return end;
}

function unquote(s: string): string {
  return /^(['"]).*\1$/.test(s) ? s.slice(1, -1) : s;
}
