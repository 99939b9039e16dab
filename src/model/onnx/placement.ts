/**
 * Which execution provider ran each graph node, read from onnxruntime's profile of one run.
 *
 * onnxruntime places every node the preferred provider (webgpu, cuda) has no kernel for on
 * the CPU provider, and says so only in its native log (a warning without the op list, the
 * list itself at verbose level), which goes straight to stderr and cannot be read from JS.
 * Its profiler, though, writes one `Node` event per kernel run with `args.provider` and
 * `args.op_name`; session.ts profiles the first run of a GPU session and hands the events here.
 */

/** The part of an onnxruntime profile event this file reads. */
export interface ProfileEvent {
  cat?: string;
  name?: string;
  args?: { op_name?: string; provider?: string };
}

export interface Placement {
  /** The provider asked for first, as onnxruntime names it (e.g. WebGpuExecutionProvider). */
  preferred: string;
  /** Nodes that ran in the profiled run. */
  nodes: number;
  /** Provider → op type → node count. */
  byProvider: Record<string, Record<string, number>>;
  /** Op type → count of the nodes that did not run on `preferred` (the CPU fallbacks). */
  fellBack: Record<string, number>;
}

/** onnxruntime's provider names for ragspec's device names. */
export const PROVIDER_NAMES: Record<string, string> = {
  cpu: 'CPUExecutionProvider',
  cuda: 'CUDAExecutionProvider',
  webgpu: 'WebGpuExecutionProvider',
};

/** Node kernel events of a profile of one run, grouped by provider and op type. */
export function placementOf(events: readonly ProfileEvent[], preferred: string): Placement {
  const byProvider: Record<string, Record<string, number>> = {};
  const fellBack: Record<string, number> = {};
  let nodes = 0;
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name?.endsWith('_kernel_time')) continue;
    const provider = e.args?.provider ?? 'unknown';
    const op = e.args?.op_name ?? 'unknown';
    const ops = (byProvider[provider] ??= {});
    ops[op] = (ops[op] ?? 0) + 1;
    if (provider !== preferred) fellBack[op] = (fellBack[op] ?? 0) + 1;
    nodes++;
  }
  return { preferred, nodes, byProvider, fellBack };
}

/**
 * One line for the log: how many nodes ran where and which op types fell back.
 * onnxruntime keeps small shape computations (Shape, Gather on shapes, ...) on the CPU on
 * purpose, so some fallback is normal; a MatMul or attention op on the CPU is not.
 */
export function describePlacement(p: Placement, what: string): string {
  const fell = Object.entries(p.fellBack).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const n = fell.reduce((s, [, c]) => s + c, 0);
  const device = Object.entries(PROVIDER_NAMES).find(([, v]) => v === p.preferred)?.[0] ?? p.preferred;
  if (p.nodes === 0) return `${device}: ${what}: onnxruntime's profile listed no nodes`;
  if (n === 0) return `${device}: ${what}: all ${p.nodes} nodes run on ${device}`;
  return (
    `${device}: ${what}: ${p.nodes - n} of ${p.nodes} nodes run on ${device}, ${n} fell back to the CPU: ` +
    fell.map(([op, c]) => (c > 1 ? `${op}×${c}` : op)).join(', ')
  );
}
