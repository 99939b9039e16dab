/**
 * A small ONNX graph writer on top of onnx-proto (protobufjs). It knows nothing about LLMs:
 * nodes, initializers, inputs/outputs, and where big initializers go — inline (for models
 * built in memory) or into an external-data file beside the graph (`<name>.onnx.data`),
 * written as they are added so a 500 MB model never sits in memory twice.
 */
import fs from 'node:fs';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
type INodeProto = onnxProto.onnx.INodeProto;
type ITensorProto = onnxProto.onnx.ITensorProto;
type IValueInfoProto = onnxProto.onnx.IValueInfoProto;
type IAttributeProto = onnxProto.onnx.IAttributeProto;

export const DT = onnx.TensorProto.DataType;
export type ElemType = 'float32' | 'int64' | 'int32' | 'uint8' | 'bool';
const ELEM: Record<ElemType, number> = {
  float32: DT.FLOAT,
  int64: DT.INT64,
  int32: DT.INT32,
  uint8: DT.UINT8,
  bool: DT.BOOL,
};

export type AttrValue = number | string | number[] | { float: number } | { floats: number[] };
/** A dim is a fixed size or a symbolic name. */
export type Dim = number | string;

export interface GraphBuilderOptions {
  /** Absolute path of the external-data file; its basename is what the graph refers to. */
  externalData?: string;
  /** Initializers at least this many bytes go to the external file (default 1024). */
  externalThreshold?: number;
}

/** Alignment of each external tensor (lets onnxruntime map the file directly). */
const EXTERNAL_ALIGN = 4096;

export class GraphBuilder {
  private readonly nodes: INodeProto[] = [];
  private readonly inits: ITensorProto[] = [];
  private readonly inputs: IValueInfoProto[] = [];
  private readonly outputs: IValueInfoProto[] = [];
  private readonly used = new Map<string, number>();
  private readonly fd: number | null;
  private readonly dataName: string;
  private offset = 0;
  private readonly threshold: number;

  private readonly dataPath: string | null;

  constructor(opts: GraphBuilderOptions = {}) {
    // Written under a temporary name and renamed by finish(): a process that has the old file
    // open (onnxruntime may map it) keeps reading the old bytes.
    this.dataPath = opts.externalData ?? null;
    this.fd = opts.externalData ? fs.openSync(`${opts.externalData}.tmp`, 'w') : null;
    this.dataName = opts.externalData ? opts.externalData.split(/[\\/]/).pop()! : '';
    this.threshold = opts.externalThreshold ?? 1024;
  }

  /** A fresh value name with the given stem. */
  name(stem: string): string {
    const n = this.used.get(stem) ?? 0;
    this.used.set(stem, n + 1);
    return n === 0 ? stem : `${stem}_${n}`;
  }

  input(name: string, type: ElemType, dims: Dim[]): string {
    this.inputs.push(valueInfo(name, type, dims));
    return name;
  }

  output(name: string, type: ElemType, dims: Dim[]): void {
    this.outputs.push(valueInfo(name, type, dims));
  }

  /** Add an initializer; returns its name. */
  init(
    stem: string,
    type: ElemType,
    dims: number[],
    data: Float32Array | Uint8Array | BigInt64Array | Int32Array,
  ): string {
    const name = this.name(stem);
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const t: ITensorProto = { name, dataType: ELEM[type], dims };
    if (this.fd !== null && bytes.byteLength >= this.threshold) {
      const pad = (EXTERNAL_ALIGN - (this.offset % EXTERNAL_ALIGN)) % EXTERNAL_ALIGN;
      if (pad) fs.writeSync(this.fd, new Uint8Array(pad));
      this.offset += pad;
      fs.writeSync(this.fd, bytes);
      t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
      t.externalData = [
        { key: 'location', value: this.dataName },
        { key: 'offset', value: String(this.offset) },
        { key: 'length', value: String(bytes.byteLength) },
      ];
      this.offset += bytes.byteLength;
    } else {
      // Copy: the caller may reuse its buffer.
      t.rawData = bytes.slice();
    }
    this.inits.push(t);
    return name;
  }

  f32(stem: string, values: number[] | Float32Array, dims?: number[]): string {
    const data = values instanceof Float32Array ? values : Float32Array.from(values);
    return this.init(stem, 'float32', dims ?? [data.length], data);
  }

  i64(stem: string, values: number[], dims?: number[]): string {
    return this.init(stem, 'int64', dims ?? [values.length], BigInt64Array.from(values.map(BigInt)));
  }

  /** A scalar constant (rank 0). */
  scalarF32(stem: string, v: number): string {
    return this.init(stem, 'float32', [], Float32Array.of(v));
  }

  scalarI64(stem: string, v: number): string {
    return this.init(stem, 'int64', [], BigInt64Array.of(BigInt(v)));
  }

  /** Add a node with one output; returns the output name. */
  op(
    opType: string,
    inputs: string[],
    attrs: Record<string, AttrValue> = {},
    opts: { domain?: string; out?: string } = {},
  ): string {
    return this.opN(opType, inputs, 1, attrs, opts)[0]!;
  }

  /** Add a node with `n` outputs (or the given names). */
  opN(
    opType: string,
    inputs: string[],
    n: number | string[],
    attrs: Record<string, AttrValue> = {},
    opts: { domain?: string; out?: string } = {},
  ): string[] {
    const stem = opts.out ?? opType.toLowerCase();
    const outs =
      typeof n === 'number'
        ? Array.from({ length: n }, (_, i) =>
            i === 0 && opts.out ? this.exact(opts.out) : this.name(`${stem}_o`),
          )
        : n;
    this.nodes.push({
      opType,
      domain: opts.domain ?? '',
      input: inputs,
      output: outs,
      name: this.name(`n_${opType}`),
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return outs;
  }

  /** Reserve an exact name (graph outputs must keep theirs). */
  private exact(name: string): string {
    if (this.used.has(name)) throw new Error(`graph value ${name} defined twice`);
    this.used.set(name, 1);
    return name;
  }

  /** Encode the model; closes the external-data file. */
  finish(meta: { producer: string; docString?: string; opsets: Record<string, number> }): Uint8Array {
    if (this.fd !== null) {
      fs.closeSync(this.fd);
      fs.renameSync(`${this.dataPath}.tmp`, this.dataPath!);
    }
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: meta.producer,
      docString: meta.docString ?? '',
      opsetImport: Object.entries(meta.opsets).map(([domain, version]) => ({ domain, version })),
      graph: {
        name: 'main',
        node: this.nodes,
        initializer: this.inits,
        input: this.inputs,
        output: this.outputs,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function valueInfo(name: string, type: ElemType, dims: Dim[]): IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ELEM[type],
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, v: AttrValue): IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'number') return { name, type: T.INT, i: v };
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  if ('float' in v) return { name, type: T.FLOAT, f: v.float };
  return { name, type: T.FLOATS, floats: v.floats };
}
