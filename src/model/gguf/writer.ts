/**
 * A small GGUF v3 writer, for generating test fixtures (tiny random-weight models) in code
 * rather than committing binaries. Little-endian, alignment 32 (`general.alignment`).
 */
import fs from 'node:fs';
import type { GgmlType } from '../weights.ts';
import { GGML_TYPE_ID_OF } from './ggml-types.ts';
import { quantize, type QuantizableType } from './quantize.ts';

export const GGUF_ALIGNMENT = 32;

/** GGUF scalar value types (gguf_type). */
export const GgufValueType = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
} as const;
type ScalarTypeName = Exclude<keyof typeof GgufValueType, 'ARRAY'>;

/**
 * A metadata value. Plain values get an inferred type: string → STRING, boolean → BOOL,
 * bigint → UINT64, integer ≥ 0 → UINT32, negative integer → INT32, other number → FLOAT32;
 * arrays of strings → STRING, arrays of numbers → INT32 when all integers else FLOAT32.
 * Use `{ type, value }` to force a type (e.g. FLOAT32 for `rope.freq_base = 10000`).
 */
export type GgufWriteValue =
  | string
  | boolean
  | number
  | bigint
  | readonly string[]
  | readonly number[]
  | {
      type: ScalarTypeName;
      value: number | bigint | boolean | string | readonly (number | bigint | boolean | string)[];
    };

export interface GgufWriteTensor {
  name: string;
  /** GGUF dims, innermost first (a [out, in] weight has ne = [in, out]). */
  ne: number[];
  /** Quantised from `values` by this writer; or any ggml type id with `raw` bytes. */
  type: QuantizableType | GgmlType | number;
  /** Element values in ggml order (row-major over ne reversed). */
  values?: Float32Array;
  /** Bytes to store as-is (for types this writer cannot quantise, or bad-input fixtures). */
  raw?: Uint8Array;
}

export interface GgufWriteSpec {
  metadata: Record<string, GgufWriteValue>;
  tensors: GgufWriteTensor[];
}

/** Serialise a GGUF file into memory. */
export function encodeGguf(spec: GgufWriteSpec): Uint8Array {
  const w = new ByteWriter();
  const metadata: Record<string, GgufWriteValue> = {
    ...spec.metadata,
    'general.alignment': { type: 'UINT32', value: GGUF_ALIGNMENT },
  };
  const datas = spec.tensors.map(tensorBytes);

  w.bytes(new TextEncoder().encode('GGUF'));
  w.u32(3);
  w.u64(BigInt(spec.tensors.length));
  w.u64(BigInt(Object.keys(metadata).length));
  for (const [key, value] of Object.entries(metadata)) {
    w.string(key);
    writeValue(w, value);
  }
  let offset = 0;
  spec.tensors.forEach((t, i) => {
    w.string(t.name);
    w.u32(t.ne.length);
    for (const n of t.ne) w.u64(BigInt(n));
    w.u32(typeof t.type === 'number' ? t.type : GGML_TYPE_ID_OF[t.type]);
    w.u64(BigInt(offset));
    offset = align(offset + datas[i]!.byteLength);
  });
  w.pad(GGUF_ALIGNMENT);
  for (const d of datas) {
    w.bytes(d);
    w.pad(GGUF_ALIGNMENT);
  }
  return w.finish();
}

/** Write a GGUF v3 file. */
export function writeGguf(path: string, spec: GgufWriteSpec): void {
  fs.writeFileSync(path, encodeGguf(spec));
}

function align(n: number): number {
  return Math.ceil(n / GGUF_ALIGNMENT) * GGUF_ALIGNMENT;
}

function tensorBytes(t: GgufWriteTensor): Uint8Array {
  if (t.raw) return t.raw;
  if (!t.values) throw new Error(`tensor ${t.name}: give values or raw`);
  const count = t.ne.reduce((a, b) => a * b, 1);
  if (t.values.length !== count)
    throw new Error(`tensor ${t.name}: ${t.values.length} values for ne [${t.ne}]`);
  if (typeof t.type === 'number' || !['F32', 'F16', 'BF16', 'Q8_0', 'Q4_0', 'Q4_1'].includes(t.type)) {
    throw new Error(`tensor ${t.name}: the writer cannot quantise to ${t.type}; pass raw bytes`);
  }
  return quantize(t.type as QuantizableType, t.values);
}

function inferScalar(v: number | bigint | boolean | string): ScalarTypeName {
  if (typeof v === 'string') return 'STRING';
  if (typeof v === 'boolean') return 'BOOL';
  if (typeof v === 'bigint') return 'UINT64';
  if (Number.isInteger(v)) return v >= 0 ? 'UINT32' : 'INT32';
  return 'FLOAT32';
}

function writeValue(w: ByteWriter, value: GgufWriteValue): void {
  if (Array.isArray(value)) {
    const arr = value as readonly (string | number)[];
    const sub: ScalarTypeName = arr.every((x) => typeof x === 'string')
      ? 'STRING'
      : arr.every((x) => Number.isInteger(x))
        ? 'INT32'
        : 'FLOAT32';
    writeArray(w, sub, arr);
    return;
  }
  if (typeof value === 'object' && value !== null && 'type' in value) {
    if (Array.isArray(value.value)) writeArray(w, value.type, value.value);
    else {
      w.u32(GgufValueType[value.type]);
      writeScalar(w, value.type, value.value as number | bigint | boolean | string);
    }
    return;
  }
  const v = value as number | bigint | boolean | string;
  const t = inferScalar(v);
  w.u32(GgufValueType[t]);
  writeScalar(w, t, v);
}

function writeArray(
  w: ByteWriter,
  sub: ScalarTypeName,
  arr: readonly (number | bigint | boolean | string)[],
): void {
  w.u32(GgufValueType.ARRAY);
  w.u32(GgufValueType[sub]);
  w.u64(BigInt(arr.length));
  for (const x of arr) writeScalar(w, sub, x);
}

function writeScalar(w: ByteWriter, t: ScalarTypeName, v: number | bigint | boolean | string): void {
  switch (t) {
    case 'STRING':
      return w.string(String(v));
    case 'BOOL':
      return w.u8(v ? 1 : 0);
    case 'UINT8':
      return w.u8(Number(v));
    case 'INT8':
      return w.u8(Number(v) & 0xff);
    case 'UINT16':
      return w.num((dv, o) => dv.setUint16(o, Number(v), true), 2);
    case 'INT16':
      return w.num((dv, o) => dv.setInt16(o, Number(v), true), 2);
    case 'UINT32':
      return w.u32(Number(v));
    case 'INT32':
      return w.num((dv, o) => dv.setInt32(o, Number(v), true), 4);
    case 'FLOAT32':
      return w.num((dv, o) => dv.setFloat32(o, Number(v), true), 4);
    case 'UINT64':
      return w.u64(BigInt(v as number | bigint));
    case 'INT64':
      return w.num((dv, o) => dv.setBigInt64(o, BigInt(v as number | bigint), true), 8);
    case 'FLOAT64':
      return w.num((dv, o) => dv.setFloat64(o, Number(v), true), 8);
  }
}

/** Growable little-endian byte buffer. */
class ByteWriter {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  private len = 0;

  private ensure(n: number): void {
    if (this.len + n <= this.buf.byteLength) return;
    let cap = this.buf.byteLength * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  num(set: (dv: DataView, offset: number) => void, size: number): void {
    this.ensure(size);
    set(this.view, this.len);
    this.len += size;
  }
  u8(v: number): void {
    this.num((dv, o) => dv.setUint8(o, v), 1);
  }
  u32(v: number): void {
    this.num((dv, o) => dv.setUint32(o, v, true), 4);
  }
  u64(v: bigint): void {
    this.num((dv, o) => dv.setBigUint64(o, v, true), 8);
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.byteLength);
    this.buf.set(b, this.len);
    this.len += b.byteLength;
  }
  string(s: string): void {
    const b = new TextEncoder().encode(s);
    this.u64(BigInt(b.byteLength));
    this.bytes(b);
  }
  pad(to: number): void {
    const n = (to - (this.len % to)) % to;
    this.bytes(new Uint8Array(n));
  }
  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}
