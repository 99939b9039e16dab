/**
 * The target's forward-cost curve: milliseconds of one forward over S new tokens after a
 * few hundred cached positions, for S = 1..maxS. Measured once per model and machine and
 * cached under `paths.cache()`; the budget policy reads it to size draft trees.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CausalLM } from '../model/types.ts';
import { paths } from '../util/paths.ts';

export interface CostCurve {
  model: string;
  machine: string;
  past: number;
  /** ms[s] for s = 0..maxS (ms[0] = 0). */
  ms: number[];
}

/** Sizes measured; the rest are interpolated. */
const SIZES = [1, 2, 4, 8, 12, 16, 24, 32, 48, 64];

export function machineKey(): string {
  const cpu = os.cpus()[0]?.model ?? 'cpu';
  return `${os.hostname()}|${cpu}|${os.cpus().length}`;
}

function cacheFile(modelKey: string): string {
  const h = crypto.createHash('sha256').update(`${modelKey}\n${machineKey()}`).digest('hex').slice(0, 16);
  return path.join(paths.cache(), `forward-cost-${h}.json`);
}

/** The cached curve for this model on this machine, or null. */
export function cachedCostCurve(modelKey: string): CostCurve | null {
  try {
    const c = JSON.parse(fs.readFileSync(cacheFile(modelKey), 'utf8')) as CostCurve;
    return c.model === modelKey && c.machine === machineKey() && Array.isArray(c.ms) ? c : null;
  } catch {
    return null;
  }
}

/** Measure (minimum of `reps`) and cache. Takes a few seconds on a 2-core CPU. */
export async function measureCostCurve(
  lm: CausalLM,
  modelKey: string,
  opts: { past?: number; reps?: number; maxS?: number } = {},
): Promise<CostCurve> {
  const past = opts.past ?? 256;
  const reps = opts.reps ?? 7;
  const maxS = opts.maxS ?? 64;
  const base = lm.newCache();
  const ids = Array.from({ length: past }, (_, i) => 100 + (i % 1000));
  for (let s = 0; s < past; s += 128) {
    const chunk = ids.slice(s, s + 128);
    await lm.forward(
      chunk,
      chunk.map((_, i) => s + i),
      null,
      base,
      { logitRows: [chunk.length - 1] },
    );
  }
  // Sizes are measured round-robin (each rep visits every size) and the minimum is kept:
  // on a shared machine interference only ever adds time, and drifting load hits all sizes.
  const sizes = SIZES.filter((x) => x <= maxS);
  const measured = new Map<number, number>();
  for (let r = 0; r < reps; r++) {
    for (const s of sizes) {
      const cache = base.clone();
      const toks = Array.from({ length: s }, (_, i) => 200 + i);
      const t0 = performance.now();
      await lm.forward(
        toks,
        toks.map((_, i) => past + i),
        null,
        cache,
      );
      const dt = performance.now() - t0;
      measured.set(s, Math.min(measured.get(s) ?? Infinity, dt));
    }
  }
  const ms = interpolate(measured, maxS);
  const curve: CostCurve = { model: modelKey, machine: machineKey(), past, ms };
  try {
    fs.mkdirSync(paths.cache(), { recursive: true });
    // temp + rename: two processes measuring at once never leave a half-written file to read.
    const tmp = `${cacheFile(modelKey)}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(curve, null, 1));
    fs.renameSync(tmp, cacheFile(modelKey));
  } catch {
    /* a read-only home only costs a re-measure next time */
  }
  return curve;
}

/** Linear interpolation between measured sizes, made non-decreasing. */
function interpolate(measured: Map<number, number>, maxS: number): number[] {
  const xs = [...measured.keys()].sort((a, b) => a - b);
  const ms = [0];
  for (let s = 1; s <= maxS; s++) {
    const hi = xs.find((x) => x >= s) ?? xs[xs.length - 1]!;
    const lo = [...xs].reverse().find((x) => x <= s) ?? xs[0]!;
    const v =
      hi === lo
        ? measured.get(lo)!
        : measured.get(lo)! + ((measured.get(hi)! - measured.get(lo)!) * (s - lo)) / (hi - lo);
    ms.push(Math.max(v, ms[s - 1]!));
  }
  return ms;
}
