/**
 * The only file in ragspec that imports onnxruntime-node. Everything else talks to ONNX
 * models through `OrtModel`: it checks feeds against the session's input names, names what
 * is missing, and reports dims and types when a run fails.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { RagspecError } from '../../util/errors.ts';
import { checkDevice, gpuUnavailable, type Device } from './device.ts';
import { PROVIDER_NAMES, placementOf, type Placement, type ProfileEvent } from './placement.ts';

/** A device name as onnxruntime-node takes it ('cpu', 'cuda', 'webgpu'); see device.ts. */
export type ExecutionProvider = Device;

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
  /**
   * Called once, after the first run, with where onnxruntime placed each node (which ones
   * fell back from the preferred provider to the CPU). The first run is profiled for it, then
   * profiling stops. Ignored with `profilePrefix` (the caller reads that trace itself).
   */
  onPlacement?: (p: Placement) => void;
}

export type TensorType = 'float32' | 'int64' | 'int32' | 'uint8' | 'bool';

/** A plain tensor: data plus dims. Conversions to and from onnxruntime happen in this file only. */
export interface HostTensor {
  type: TensorType;
  data: Float32Array | BigInt64Array | Int32Array | Uint8Array;
  dims: readonly number[];
}

/** Profiling of the first run, for `onPlacement`: the trace's folder and who wants it. */
interface PlacementProbe {
  dir: string;
  preferred: string;
  report: (p: Placement) => void;
}

export class OrtModel {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly source: string,
    private placement: PlacementProbe | null = null,
  ) {}

  static async load(model: string | Uint8Array, opts: SessionOptions = {}): Promise<OrtModel> {
    const providers = opts.providers ?? ['cpu'];
    // Before onnxruntime: a missing Vulkan loader is our one line, not Dawn's native warning.
    for (const p of providers) checkDevice(p);
    const so: ort.InferenceSession.SessionOptions = {
      // onnxruntime appends the CPU provider itself: nodes the first one lacks run there.
      executionProviders: providers,
      graphOptimizationLevel: 'all',
    };
    if (opts.intraOpThreads) so.intraOpNumThreads = opts.intraOpThreads;
    if (opts.interOpThreads) so.interOpNumThreads = opts.interOpThreads;
    if (opts.spinning === false)
      so.extra = { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } };
    let probe: PlacementProbe | null = null;
    if (opts.profilePrefix) {
      so.enableProfiling = true;
      so.profileFilePrefix = opts.profilePrefix;
    } else if (opts.onPlacement) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ragspec-placement-'));
      probe = { dir, preferred: PROVIDER_NAMES[providers[0] ?? 'cpu']!, report: opts.onPlacement };
      so.enableProfiling = true;
      so.profileFilePrefix = path.join(dir, 'run');
      // The placement report replaces onnxruntime's own "some nodes were not assigned" warning.
      so.logSeverityLevel = 3;
    }
    const source = typeof model === 'string' ? model : `<${model.byteLength}-byte model>`;
    try {
      const session =
        typeof model === 'string'
          ? await ort.InferenceSession.create(model, so)
          : await ort.InferenceSession.create(model, so);
      return new OrtModel(session, source, probe);
    } catch (err) {
      if (probe) fs.rmSync(probe.dir, { recursive: true, force: true });
      throw loadError(err, source, providers);
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
    if (this.placement) this.reportPlacement(this.placement);
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

  /** After the first run: stop profiling, read the trace, report, delete it. Never throws. */
  private reportPlacement(probe: PlacementProbe): void {
    this.placement = null;
    try {
      this.session.endProfiling();
      const file = fs.readdirSync(probe.dir).find((f) => f.endsWith('.json'));
      const events = file
        ? (JSON.parse(fs.readFileSync(path.join(probe.dir, file), 'utf8')) as ProfileEvent[])
        : [];
      probe.report(placementOf(events, probe.preferred));
    } catch {
      // A report we cannot read is no reason to fail a forward.
    } finally {
      fs.rmSync(probe.dir, { recursive: true, force: true });
    }
  }

  /** Stop profiling and flush the trace file (see `profilePrefix`). */
  endProfiling(): void {
    this.session.endProfiling();
  }

  async dispose(): Promise<void> {
    if (this.placement) fs.rmSync(this.placement.dir, { recursive: true, force: true });
    this.placement = null;
    await this.session.release();
  }
}

/** Why a session could not be created, in one line: no GPU is `unavailable`, a bad file is not. */
function loadError(err: unknown, source: string, providers: readonly ExecutionProvider[]): RagspecError {
  const why = firstLine(err);
  if (providers.includes('webgpu') && /WebGPU adapter|No supported adapters/i.test(why)) {
    // The Vulkan loader is there (checkDevice passed) but no driver offers a GPU.
    return gpuUnavailable(
      'webgpu',
      'no GPU adapter found (the Vulkan loader is installed, but no Vulkan driver offers a GPU)',
      'install the GPU vendor’s driver with Vulkan support (check with `vulkaninfo --summary`)',
      err,
    );
  }
  if (providers.includes('cuda') && /cuda|provider|libonnxruntime_providers/i.test(why)) {
    return gpuUnavailable(
      'cuda',
      `the CUDA execution provider could not start (${why})`,
      'install onnxruntime-node with ONNXRUNTIME_NODE_INSTALL=cuda12 and a CUDA 12 runtime',
      err,
    );
  }
  return new RagspecError(
    `cannot load ONNX model ${source} with providers [${providers.join(', ')}]: ${why}`,
    {
      code: 'onnx_load_failed',
      hint: 're-run `npx ragspec setup` (or `npx ragspec convert`) to rebuild the model file',
      cause: err,
    },
  );
}

function firstLine(err: unknown): string {
  const s = err instanceof Error ? err.message : String(err);
  return s.split('\n')[0] ?? s;
}
