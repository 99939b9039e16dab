/** Answer-quality measures of bench/prompts.ts, pure functions of token ids and text. */

/** A copied run is at least this many tokens (shorter matches happen by chance: "the", "npm"). */
export const COPY_RUN = 4;

/** Share of `answer` tokens [T] covered by a window of COPY_RUN tokens that occurs in one of `sources`. */
export function copyRate(answer: readonly number[], sources: readonly (readonly number[])[]): number {
  if (answer.length === 0) return 0;
  const grams = new Set<string>();
  for (const p of sources)
    for (let i = 0; i + COPY_RUN <= p.length; i++) grams.add(p.slice(i, i + COPY_RUN).join(','));
  const covered = new Uint8Array(answer.length);
  for (let i = 0; i + COPY_RUN <= answer.length; i++)
    if (grams.has(answer.slice(i, i + COPY_RUN).join(','))) covered.fill(1, i, i + COPY_RUN);
  return covered.reduce((a, b) => a + b, 0) / answer.length;
}

/** The dev set's hit rule: every must_contain string is in the answer, case-insensitive. */
export function mustContainHit(answer: string, mustContain: readonly string[]): boolean {
  const text = answer.toLowerCase();
  return mustContain.every((s) => text.includes(s.toLowerCase()));
}

/** An answer that loops: some non-empty line occurs at least `times` times. */
export function loops(answer: string, times = 3): boolean {
  const count = new Map<string, number>();
  for (const raw of answer.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const n = (count.get(line) ?? 0) + 1;
    if (n >= times) return true;
    count.set(line, n);
  }
  return false;
}
