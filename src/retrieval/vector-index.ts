/**
 * The dense side: an hnswlib cosine index whose labels are passage ids. Files are named by
 * the store's committed generation (`index-<gen>.hnsw`) and written with temp file, fsync
 * and atomic rename. Before a file reaches hnswlib's native reader (which trusts its
 * input and can crash the process on garbage), `validateIndexFile` walks its layout and
 * checks size, dimension and the checksum the store recorded at commit.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import hnswlib from 'hnswlib-node';
import { BadFileError } from '../util/errors.ts';

const { HierarchicalNSW } = hnswlib;
type Hnsw = InstanceType<typeof HierarchicalNSW>;

export const REBUILD_HINT =
  'run `npx ragspec ingest --rebuild` to rebuild the index from the stored documents';
const HEADER_BYTES = 96;
const M = 16;
const EF_CONSTRUCTION = 200;

export function indexFileName(generation: number): string {
  return `index-${generation}.hnsw`;
}

export interface IndexFileInfo {
  sha256: string;
  bytes: number;
  count: number;
}

/** Checks an hnswlib file's layout and checksum; throws BadFileError with the fix. */
export function validateIndexFile(
  file: string,
  dim: number,
  expect?: { sha256?: string; bytes?: number },
): IndexFileInfo {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new BadFileError(
      file,
      code === 'ENOENT' ? 'index file is missing' : `cannot read index file (${code})`,
      REBUILD_HINT,
    );
  }
  const bad = (problem: string) => new BadFileError(file, problem, REBUILD_HINT);
  if (buf.length < HEADER_BYTES) throw bad(`index file is truncated (${buf.length} bytes)`);
  const u64 = (o: number) => Number(buf.readBigUInt64LE(o));
  const maxElements = u64(8);
  const count = u64(16);
  const sizePerElement = u64(24);
  const labelOffset = u64(32);
  const offsetData = u64(40);
  const maxM0 = u64(64);
  const fileDim = (labelOffset - offsetData) / 4;
  if (
    offsetData !== maxM0 * 4 + 4 ||
    sizePerElement !== labelOffset + 8 ||
    count > maxElements ||
    !Number.isInteger(fileDim)
  ) {
    throw bad('is not an hnswlib index (bad header)');
  }
  if (fileDim !== dim) throw bad(`index has dimension ${fileDim}, the embedding model gives ${dim}`);
  if (expect?.bytes !== undefined && buf.length !== expect.bytes) {
    throw bad(
      `index file is ${buf.length} bytes, the store recorded ${expect.bytes} (truncated or replaced)`,
    );
  }
  const enterpoint = buf.readUInt32LE(52);
  if (count > 0 && enterpoint >= count) throw bad('is not an hnswlib index (bad entry point)');
  // Level-0 data, then one length-prefixed link list per element.
  let pos = HEADER_BYTES + count * sizePerElement;
  if (pos > buf.length)
    throw bad(`index file is truncated (${buf.length} bytes, ${count} elements need more)`);
  for (let i = 0; i < count; i++) {
    if (pos + 4 > buf.length) throw bad(`index file is truncated (element ${i} of ${count})`);
    pos += 4 + buf.readUInt32LE(pos);
  }
  if (pos !== buf.length)
    throw bad(
      pos > buf.length ? 'index file is truncated' : `index file has ${buf.length - pos} trailing bytes`,
    );
  const sha256 = crypto.createHash('sha256').update(buf).digest('hex');
  if (expect?.sha256 && expect.sha256 !== sha256)
    throw bad('index file checksum does not match the store (corrupt or replaced)');
  return { sha256, bytes: buf.length, count };
}

export interface DenseHit {
  label: number;
  /** Cosine similarity. */
  score: number;
}

export class VectorIndex {
  private constructor(
    private readonly hnsw: Hnsw,
    readonly dim: number,
  ) {}

  static empty(dim: number, capacity = 1024): VectorIndex {
    const h = new HierarchicalNSW('cosine', dim);
    h.initIndex({
      maxElements: capacity,
      m: M,
      efConstruction: EF_CONSTRUCTION,
      randomSeed: 100,
      allowReplaceDeleted: true,
    });
    return new VectorIndex(h, dim);
  }

  /** Loads a file after validating it (see `validateIndexFile`). */
  static load(file: string, dim: number, expect?: { sha256?: string; bytes?: number }): VectorIndex {
    validateIndexFile(file, dim, expect);
    const h = new HierarchicalNSW('cosine', dim);
    try {
      h.readIndexSync(file, true);
    } catch (err) {
      throw new BadFileError(file, `hnswlib cannot read it (${(err as Error).message})`, REBUILD_HINT);
    }
    return new VectorIndex(h, dim);
  }

  /** Points stored, deleted ones included. */
  get storedCount(): number {
    return this.hnsw.getCurrentCount();
  }

  /** Adds (or replaces) a point; grows the index as needed. Reuses slots of deleted points. */
  add(label: number, vec: Float32Array | number[]): void {
    const h = this.hnsw;
    if (h.getCurrentCount() >= h.getMaxElements()) h.resizeIndex(Math.max(1024, h.getMaxElements() * 2));
    h.addPoint(Array.from(vec), label, true);
  }

  markDeleted(label: number): void {
    try {
      this.hnsw.markDelete(label);
    } catch {
      // Already deleted or never added (e.g. a passage committed before a rebuild): nothing to do.
    }
  }

  has(label: number): boolean {
    try {
      this.hnsw.getPoint(label);
      return true;
    } catch {
      return false;
    }
  }

  /** The stored (unit-length) vector of a live point, or null. */
  vector(label: number): Float32Array | null {
    try {
      return Float32Array.from(this.hnsw.getPoint(label));
    } catch {
      return null;
    }
  }

  /** Labels of live (not deleted) points (getPoint refuses deleted ones). Diagnostic use: O(n). */
  liveLabels(): number[] {
    return this.hnsw.getIdsList().filter((l) => this.has(l));
  }

  /** Top `k` live points by cosine; `filter` limits labels. */
  search(query: Float32Array, k: number, liveCount: number, filter?: (label: number) => boolean): DenseHit[] {
    const n = Math.min(k, liveCount);
    if (n <= 0) return [];
    this.hnsw.setEf(Math.max(n, 64));
    let r: { distances: number[]; neighbors: number[] };
    try {
      r = this.hnsw.searchKnn(Array.from(query), n, filter);
    } catch {
      // hnswlib refuses k above the points it can reach (e.g. many deleted): ask for fewer.
      r = this.hnsw.searchKnn(Array.from(query), Math.min(n, 10), filter);
    }
    return r.neighbors.map((label, i) => ({ label, score: 1 - r.distances[i]! }));
  }

  /**
   * Writes `index-<gen>.hnsw` in `dir` durably: temp file, fsync, rename, fsync of the
   * folder. Returns what the store records to validate it on the next open.
   */
  writeGeneration(dir: string, generation: number): IndexFileInfo & { file: string } {
    const file = path.join(dir, indexFileName(generation));
    const tmp = `${file}.tmp`;
    this.hnsw.writeIndexSync(tmp);
    const fd = fs.openSync(tmp, 'r+');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    const info = validateIndexFile(tmp, this.dim);
    fs.renameSync(tmp, file);
    fsyncDir(dir);
    return { ...info, file };
  }
}

export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
