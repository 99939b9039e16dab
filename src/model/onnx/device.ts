/**
 * Which hardware runs the graphs, and whether this machine can, asked before onnxruntime is:
 * - `cpu`: always there (the default);
 * - `webgpu`: the WebGPU execution provider bundled in onnxruntime-node (Dawn; on Linux over
 *   Vulkan). Without the Vulkan loader, creating a session fails with "Failed to get a WebGPU
 *   adapter" after Dawn has printed a native two-line warning to stderr, which we cannot
 *   silence from JS. So the loader is looked for first and its absence is one line of ours;
 * - `cuda`: onnxruntime's CUDA provider, only when onnxruntime-node was installed with its CUDA
 *   libraries (ONNXRUNTIME_NODE_INSTALL=cuda12) and a CUDA 12 runtime.
 * This file does not touch onnxruntime (session.ts does); it only looks at the file system.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { RagspecError } from '../../util/errors.ts';

export const DEVICES = ['cpu', 'cuda', 'webgpu'] as const;
export type Device = (typeof DEVICES)[number];

export function isDevice(v: string): v is Device {
  return (DEVICES as readonly string[]).includes(v);
}

/** The Vulkan loader's soname, what Dawn opens on Linux. */
export const VULKAN_LOADER = 'libvulkan.so.1';

/** What the checks look at; tests pass a fake machine. */
export interface MachineProbe {
  platform: NodeJS.Platform;
  arch: string;
  env: NodeJS.ProcessEnv;
  /** `ldconfig -p` output, or null when ldconfig cannot be run. */
  ldconfig(): string | null;
  exists(file: string): boolean;
}

export const realMachine: MachineProbe = {
  platform: process.platform,
  arch: process.arch,
  env: process.env,
  ldconfig() {
    // Not always on PATH for non-root users; Debian keeps it in /sbin.
    for (const bin of ['ldconfig', '/sbin/ldconfig', '/usr/sbin/ldconfig']) {
      try {
        return execFileSync(bin, ['-p'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      } catch {
        // try the next place
      }
    }
    return null;
  },
  exists: (file) => fs.existsSync(file),
};

/** Library folders the dynamic linker searches without a cache entry (glibc defaults + multiarch). */
function libraryDirs(m: MachineProbe): string[] {
  const triple = m.arch === 'arm64' ? 'aarch64-linux-gnu' : m.arch === 'x64' ? 'x86_64-linux-gnu' : null;
  const fromEnv = (m.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean);
  const multiarch = triple ? [`/lib/${triple}`, `/usr/lib/${triple}`, `/usr/local/lib/${triple}`] : [];
  return [...fromEnv, ...multiarch, '/lib64', '/usr/lib64', '/lib', '/usr/lib', '/usr/local/lib'];
}

/**
 * Where the Vulkan loader is, or null. Linux only: Dawn uses Metal on macOS and D3D12 on
 * Windows, so there is nothing to look for there ('system' is returned).
 */
export function findVulkanLoader(m: MachineProbe = realMachine): string | null {
  if (m.platform !== 'linux') return 'system';
  for (const dir of libraryDirs(m)) {
    const file = path.join(dir, VULKAN_LOADER);
    if (m.exists(file)) return file;
  }
  const cache = m.ldconfig();
  const line = cache?.split('\n').find((l) => l.trim().startsWith(`${VULKAN_LOADER} `));
  return line ? (line.split('=>')[1]?.trim() ?? VULKAN_LOADER) : null;
}

/** The error every "this machine has no usable GPU" path throws: kind 'unavailable', one line. */
export function gpuUnavailable(device: Device, problem: string, hint: string, cause?: unknown): RagspecError {
  return new RagspecError(`device ${device}: ${problem}`, {
    code: 'gpu_unavailable',
    kind: 'unavailable',
    hint: `${hint}, or use --device cpu`,
    cause,
  });
}

/**
 * Throw a one-line `unavailable` error when `device` cannot work here, before any session is
 * created. Passing does not promise an adapter (a loader without a GPU driver passes); that
 * case is caught where the session is created (session.ts).
 */
export function checkDevice(device: Device, m: MachineProbe = realMachine): void {
  if (device !== 'webgpu') return;
  if (findVulkanLoader(m) === null) {
    throw gpuUnavailable(
      device,
      `no GPU adapter can be found: the Vulkan loader (${VULKAN_LOADER}) is not installed`,
      'install the Vulkan loader (Debian/Ubuntu: libvulkan1) and a GPU driver with Vulkan support',
    );
  }
}
