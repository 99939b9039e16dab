/**
 * Token → character offsets of a token sequence in the text it decodes to, so accepted
 * passage tokens can be attributed to the passage's characters.
 *
 * Byte-level BPE decodes by concatenation except where a character's UTF-8 bytes are split
 * across tokens (the partial decode ends in U+FFFD). So we decode short slices from the last
 * clean boundary instead of whole prefixes: O(n) small decodes, exact at clean boundaries.
 * A token that ends inside a character gets the offset of the character's start.
 */
export function tokenCharOffsets(
  tokens: readonly number[],
  decode: (ids: readonly number[]) => string,
): Int32Array {
  // offsets[i] = char offset where token i starts; offsets[n] = total length.
  const n = tokens.length;
  const offsets = new Int32Array(n + 1);
  let base = 0; // char offset of the last clean boundary
  let from = 0; // token index of the last clean boundary
  for (let i = 0; i < n; i++) {
    offsets[i] = base;
    const text = decode(tokens.slice(from, i + 1));
    if (!text.endsWith('\uFFFD')) {
      base += text.length;
      from = i + 1;
    }
  }
  offsets[n] = from === n ? base : base + decode(tokens.slice(from, n)).length;
  return offsets;
}
