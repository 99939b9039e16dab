/**
 * Issue 15: `npm run bench:gpu` on a CPU-only machine stops at its adapter check: exit 2,
 * one line naming what is missing, nothing written (not even the --out folder).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { findVulkanLoader } from '../../src/model/onnx/device.ts';
import { repoRoot } from '../../src/util/paths.ts';

function benchGpu(args: string[]) {
  const env = { ...process.env };
  delete env.RAGSPEC_DEVICE;
  return spawnSync(process.execPath, [path.join(repoRoot, 'bin', 'run-ts.js'), 'bench/gpu.ts', ...args], {
    cwd: repoRoot,
    env,
    encoding: 'utf8',
  });
}

describe('bench:gpu without a GPU', () => {
  it('exits 2 with one line and writes nothing', () => {
    const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'ragspec-bench-gpu-test-'));
    const out = path.join(parent, 'out');
    try {
      const r = benchGpu(['--out', out]);
      expect(r.status, r.stderr).toBe(2);
      const lines = r.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        findVulkanLoader() === null
          ? /^bench:gpu: device webgpu: .*Vulkan loader \(libvulkan\.so\.1\) is not installed.*--device cpu$/
          : /^bench:gpu: device webgpu: no GPU adapter found/,
      );
      expect(r.stdout).toBe('');
      expect(fs.existsSync(out)).toBe(false);
    } finally {
      fs.rmSync(parent, { recursive: true, force: true });
    }
  });

  it('--help prints what it measures', () => {
    const r = benchGpu(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('cost curve');
    expect(r.stdout).toContain('--out DIR');
  });
});
