/**
 * Opening a GGUF file: header and tensor directory via @huggingface/gguf, tensor bytes read
 * lazily with fs, and every way a file can be wrong turned into a one-line BadFileError.
 */
import fs from 'node:fs';
import { gguf, type MetadataValue } from '@huggingface/gguf';
import { BadFileError } from '../../util/errors.ts';
import type { GgmlType, RawTensor, WeightSource } from '../weights.ts';
import { GGML_TYPE_IDS, SUPPORTED_TYPES, ggmlTypeName, BLOCK_LAYOUT } from './ggml-types.ts';
import { dequantize, elementCount } from './dequant.ts';
import { configFromGguf } from './config.ts';

export type GgufMetadata = Record<string, MetadataValue>;

export interface GgufTensorInfo {
  name: string;
  /** GGUF dims, innermost first. */
  ne: number[];
  /** ggml type id as stored. */
  typeId: number;
  /** Readable name of the type (also for types we cannot dequantise). */
  typeName: string;
  /** Our type when we can dequantise it, else null. */
  type: GgmlType | null;
  /** Absolute byte offset of the tensor's data in the file. */
  fileOffset: number;
  /** Bytes of data, or null when the type is unsupported (size unknown to us). */
  byteSize: number | null;
}

export interface GgufFile {
  path: string;
  version: number;
  metadata: GgufMetadata;
  tensors: GgufTensorInfo[];
  /** Where tensor data starts (aligned end of the header). */
  tensorDataOffset: number;
  fileSize: number;
}

const MAGIC = 'GGUF';
const HINT_REDOWNLOAD =
  'the file is incomplete; fetch or convert it again (npx ragspec setup, or point --model at a complete .gguf file)';

/** Parse the header and tensor directory of a GGUF file. Reads no tensor data. */
export async function openGguf(file: string): Promise<GgufFile> {
  let fileSize: number;
  try {
    fileSize = fs.statSync(file).size;
  } catch {
    throw new BadFileError(
      file,
      'file not found',
      'check the path, or run npx ragspec setup for the default model',
    );
  }
  checkMagic(file, fileSize);

  // magic (4) + version (4) + tensor count (8) + metadata count (8)
  if (fileSize < 24) throw truncatedHeader(file, fileSize);
  let parsed: Awaited<ReturnType<typeof gguf>>;
  try {
    parsed = await gguf(file, { allowLocalFile: true });
  } catch (err) {
    const why = err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err);
    throw new BadFileError(
      file,
      `unreadable GGUF header (${why})`,
      'the file is truncated or corrupt; fetch or convert it again, or use a .gguf file written by llama.cpp tools',
    );
  }
  // The parser reads zeros past the end of the file, so a cut header shows up only as a
  // directory that ends beyond the file.
  if (
    parsed.tensorInfoByteRange[1] > fileSize ||
    (parsed.tensorInfos.length > 0 && Number(parsed.tensorDataOffset) > fileSize)
  ) {
    throw truncatedHeader(file, fileSize);
  }
  if (parsed.littleEndian === false) {
    throw new BadFileError(
      file,
      'big-endian GGUF files are not supported',
      'convert the model to a little-endian GGUF',
    );
  }

  const tensorDataOffset = Number(parsed.tensorDataOffset);
  const tensors = parsed.tensorInfos.map((t): GgufTensorInfo => {
    const ne = t.shape.map(Number);
    const typeId = Number(t.dtype);
    const type = GGML_TYPE_IDS[typeId] ?? null;
    let byteSize: number | null = null;
    if (type) {
      const { blockSize, typeSize } = BLOCK_LAYOUT[type];
      const n = elementCount(ne);
      if (n % blockSize !== 0) {
        throw new BadFileError(
          file,
          `tensor ${t.name} has ${n} elements, not a whole number of ${type} blocks of ${blockSize}`,
          'the file is corrupt',
        );
      }
      byteSize = (n / blockSize) * typeSize;
    }
    return {
      name: t.name,
      ne,
      typeId,
      typeName: ggmlTypeName(typeId),
      type,
      fileOffset: tensorDataOffset + Number(t.offset),
      byteSize,
    };
  });

  for (const t of tensors) {
    const end = t.fileOffset + (t.byteSize ?? 0);
    if (end > fileSize || t.fileOffset > fileSize) {
      throw new BadFileError(
        file,
        `truncated GGUF: tensor ${t.name} ends at byte ${end} but the file has only ${fileSize} bytes`,
        HINT_REDOWNLOAD,
      );
    }
  }

  return {
    path: file,
    version: Number(parsed.metadata.version),
    metadata: parsed.metadata as unknown as GgufMetadata,
    tensors,
    tensorDataOffset,
    fileSize,
  };
}

function truncatedHeader(file: string, fileSize: number): BadFileError {
  return new BadFileError(
    file,
    `truncated GGUF: the header ends past the end of the file (${fileSize} bytes)`,
    HINT_REDOWNLOAD,
  );
}

function checkMagic(file: string, fileSize: number): void {
  const head = Buffer.alloc(4);
  const fd = fs.openSync(file, 'r');
  let n: number;
  try {
    n = fs.readSync(fd, head, 0, 4, 0);
  } finally {
    fs.closeSync(fd);
  }
  if (n < 4 || head.toString('latin1') !== MAGIC) {
    const what =
      fileSize === 0 ? 'empty file' : 'not a GGUF file (it does not start with the GGUF magic bytes)';
    throw new BadFileError(
      file,
      what,
      'pass a .gguf model file (llama.cpp format), e.g. the one npx ragspec setup extracts',
    );
  }
}

/** Throw if any tensor has a type we cannot dequantise, naming it and what we support. */
export function assertSupportedTypes(g: GgufFile): void {
  const bad = g.tensors.find((t) => t.type === null);
  if (bad) {
    throw new BadFileError(
      g.path,
      `tensor ${bad.name} uses quantisation type ${bad.typeName}, which ragspec cannot read`,
      `supported types are ${SUPPORTED_TYPES.join(', ')}; re-quantise the model to one of them (e.g. Q4_1 or Q8_0)`,
    );
  }
}

/** Read one tensor's bytes from disk. */
export function readTensorBytes(g: GgufFile, t: GgufTensorInfo): Uint8Array {
  if (t.byteSize === null)
    throw new BadFileError(g.path, `tensor ${t.name} has unsupported type ${t.typeName}`);
  const buf = new Uint8Array(t.byteSize);
  const fd = fs.openSync(g.path, 'r');
  try {
    let done = 0;
    while (done < t.byteSize) {
      const n = fs.readSync(fd, buf, done, t.byteSize - done, t.fileOffset + done);
      if (n === 0)
        throw new BadFileError(g.path, `truncated GGUF: tensor ${t.name} data ends early`, HINT_REDOWNLOAD);
      done += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return buf;
}

/**
 * Open a GGUF model as a WeightSource. Tensor bytes are read from disk on demand (and not
 * cached), so only what the caller asks for is ever in memory.
 */
export async function loadWeights(file: string): Promise<WeightSource & { readonly gguf: GgufFile }> {
  const g = await openGguf(file);
  const config = configFromGguf(
    g.metadata,
    g.tensors.map((t) => t.name),
    file,
  );
  assertSupportedTypes(g);
  const byName = new Map(g.tensors.map((t) => [t.name, t]));
  const info = (name: string): GgufTensorInfo => {
    const t = byName.get(name);
    if (!t)
      throw new BadFileError(
        file,
        `tensor ${name} is missing`,
        'the file is not a complete model of its declared architecture',
      );
    return t;
  };
  const raw = (name: string): RawTensor => {
    const t = info(name);
    return { name, ne: t.ne, type: t.type!, raw: readTensorBytes(g, t) };
  };
  return {
    gguf: g,
    config,
    names: () => g.tensors.map((t) => t.name),
    has: (name) => byName.has(name),
    raw,
    // Element order of ggml (innermost dim fastest) is exactly row-major over ne reversed.
    f32: (name) => {
      const r = raw(name);
      return dequantize(r.type, r.raw, elementCount(r.ne));
    },
  };
}
