/**
 * The only file in ragspec that imports onnxruntime-node. Everything else talks to ONNX
 * models through `OrtModel`: it checks feeds against the session's input names, names what
 * is missing, and reports dims and types when a run fails.
 */
import * as ort from 'onnxruntime-node';
import { RagspecError } from '../../util/errors.ts';

export type ExecutionProvider = 'cpu' | 'cuda';

export interface SessionOptions {
  /** Execution providers in order of preference; default ['cpu']. */
  providers?: ExecutionProvider[];
  /** Threads inside one operator; default: onnxruntime's choice (all cores). */
  intraOpThreads?: number;
  interOpThreads?: number;
  /**
   * Let idle intra-op threads spin waiting for work (onnxruntime's default, true). Turn it off
   * when several sessions take turns (target and drafter) or the machine is shared: a spinning
   * pool steals cores from the session that is actually running.
   */
  spinning?: boolean;
  /**
   * Write onnxruntime's per-op profile (Chrome trace JSON) to files starting with this path
   * prefix; `endProfiling()` closes it. For bench/profile.ts, never on by default.
   */
  profilePrefix?: string;
}

export type TensorType = 'float32' | 'int64' | 'int32' | 'uint8' | 'bool';

/** A plain tensor: data plus dims. Conversions to and from onnxruntime happen in this file only. */
export interface HostTensor {
  type: TensorType;
  data: Float32Array | BigInt64Array | Int32Array | Uint8Array;
  dims: readonly number[];
}

export class OrtModel {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly source: string,
  ) {}

  static async load(model: string | Uint8Array, opts: SessionOptions = {}): Promise<OrtModel> {
    const providers = opts.providers ?? ['cpu'];
    const so: ort.InferenceSession.SessionOptions = {
      executionProviders: providers,
      graphOptimizationLevel: 'all',
    };
    if (opts.intraOpThreads) so.intraOpNumThreads = opts.intraOpThreads;
    if (opts.interOpThreads) so.interOpNumThreads = opts.interOpThreads;
    if (opts.spinning === false)
      so.extra = { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } };
    if (opts.profilePrefix) {
      so.enableProfiling = true;
      so.profileFilePrefix = opts.profilePrefix;
    }
    const source = typeof model === 'string' ? model : `<${model.byteLength}-byte model>`;
    try {
      const session =
        typeof model === 'string'
          ? await ort.InferenceSession.create(model, so)
          : await ort.InferenceSession.create(model, so);
      return new OrtModel(session, source);
    } catch (err) {
      throw new RagspecError(
        `cannot load ONNX model ${source} with providers [${providers.join(', ')}]: ${firstLine(err)}`,
        {
          code: 'onnx_load_failed',
          hint: providers.includes('cuda')
            ? 'the CUDA provider needs onnxruntime-node installed with ONNXRUNTIME_NODE_INSTALL=cuda12 and a CUDA 12 runtime; use --device cpu otherwise'
            : 're-run `npx ragspec setup` (or `npx ragspec convert`) to rebuild the model file',
          cause: err,
        },
      );
    }
  }

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  /** Declared dims of an output (numbers, or symbolic names such as 'capacity'). */
  outputDims(name: string): readonly (number | string)[] | undefined {
    const m = this.session.outputMetadata.find((o) => o.name === name);
    return m && m.isTensor ? (m.shape as readonly (number | string)[]) : undefined;
  }

  /**
   * Run the session. `into` (optional) names outputs to write straight into caller-owned
   * buffers of exactly the output's size (saves a copy of big outputs such as KV caches); the
   * other outputs come back as new arrays.
   */
  async run(
    feeds: Record<string, HostTensor>,
    outputs?: readonly string[],
    into?: Record<string, HostTensor>,
  ): Promise<Record<string, HostTensor>> {
    const missing = this.session.inputNames.filter((n) => !(n in feeds));
    const unknown = Object.keys(feeds).filter((n) => !this.session.inputNames.includes(n));
    if (missing.length || unknown.length) {
      throw new RagspecError(
        `feeds do not match ${this.source}: ` +
          [
            missing.length ? `missing ${missing.join(', ')}` : '',
            unknown.length ? `unexpected ${unknown.join(', ')}` : '',
          ]
            .filter(Boolean)
            .join('; '),
        { code: 'onnx_bad_feeds' },
      );
    }
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds))
      ortFeeds[name] = new ort.Tensor(t.type, t.data, t.dims as number[]);
    let result: ort.InferenceSession.OnnxValueMapType;
    try {
      if (into) {
        const fetches: Record<string, ort.Tensor | null> = {};
        for (const name of outputs ?? this.session.outputNames) {
          const t = into[name];
          fetches[name] = t ? new ort.Tensor(t.type, t.data, t.dims as number[]) : null;
        }
        result = await this.session.run(ortFeeds, fetches);
      } else {
        result = outputs
          ? await this.session.run(ortFeeds, outputs as string[])
          : await this.session.run(ortFeeds);
      }
    } catch (err) {
      const shapes = Object.entries(feeds)
        .map(([n, t]) => `${n}:${t.type}[${t.dims.join(',')}]`)
        .join(' ');
      throw new RagspecError(`ONNX run failed on ${this.source}: ${firstLine(err)} (feeds ${shapes})`, {
        code: 'onnx_run_failed',
        cause: err,
      });
    }
    const out: Record<string, HostTensor> = {};
    for (const [name, v] of Object.entries(result)) {
      if (into?.[name]) {
        out[name] = into[name];
        continue;
      }
      const t = v as ort.Tensor;
      out[name] = { type: t.type as TensorType, data: t.data as HostTensor['data'], dims: t.dims };
    }
    return out;
  }

  /** Stop profiling and flush the trace file (see `profilePrefix`). */
  endProfiling(): void {
    this.session.endProfiling();
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}

function firstLine(err: unknown): string {
  const s = err instanceof Error ? err.message : String(err);
  return s.split('\n')[0] ?? s;
}
