/**
 * GPT-2's byte-level alphabet: every byte maps to one printable unicode char, so any byte
 * string is a string of "visible" chars. Bytes that are already printable Latin-1 map to
 * themselves; the rest (controls, space, 0x7f-0xa0, 0xad) get 256, 257, ... in byte order.
 */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const out: string[] = new Array(256);
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    out[b] = String.fromCodePoint(printable ? b : next++);
  }
  return out;
})();

export const CHAR_TO_BYTE: ReadonlyMap<string, number> = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]));
