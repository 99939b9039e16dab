/**
 * Issue 15: choosing a GPU device on a machine without one is a one-line `unavailable`
 * error raised before onnxruntime is asked (so Dawn's native warning never prints), and the
 * placement report (which nodes fell back to the CPU) is read from onnxruntime's profile.
 */
import { describe, expect, it } from 'vitest';
import { checkDevice, DEVICES, findVulkanLoader, type MachineProbe } from '../../../src/model/onnx/device.ts';
import { OnnxCausalLM } from '../../../src/model/onnx/causal-lm.ts';
import { buildLlamaGraph } from '../../../src/model/onnx/llama-graph.ts';
import { describePlacement, placementOf, type Placement } from '../../../src/model/onnx/placement.ts';
import { OrtModel } from '../../../src/model/onnx/session.ts';
import { RagspecError } from '../../../src/util/errors.ts';
import { randomWeights, tinyConfig } from './random-weights.ts';

function machine(
  over: Partial<MachineProbe> & { files?: string[]; cache?: string | null } = {},
): MachineProbe {
  const files = new Set(over.files ?? []);
  return {
    platform: 'linux',
    arch: 'x64',
    env: {},
    ldconfig: () => over.cache ?? null,
    exists: (f) => files.has(f),
    ...over,
  };
}

describe('the Vulkan loader check', () => {
  it('finds the loader in a multiarch folder, in LD_LIBRARY_PATH, or in the ldconfig cache', () => {
    expect(findVulkanLoader(machine({ files: ['/usr/lib/x86_64-linux-gnu/libvulkan.so.1'] }))).toBe(
      '/usr/lib/x86_64-linux-gnu/libvulkan.so.1',
    );
    expect(
      findVulkanLoader(
        machine({ env: { LD_LIBRARY_PATH: '/opt/vk/lib' }, files: ['/opt/vk/lib/libvulkan.so.1'] }),
      ),
    ).toBe('/opt/vk/lib/libvulkan.so.1');
    const cache =
      '\tlibz.so.1 (libc6,x86-64) => /lib/libz.so.1\n\tlibvulkan.so.1 (libc6,x86-64) => /srv/libvulkan.so.1\n';
    expect(findVulkanLoader(machine({ cache }))).toBe('/srv/libvulkan.so.1');
    expect(findVulkanLoader(machine({ cache: '\tlibz.so.1 (libc6) => /lib/libz.so.1\n' }))).toBeNull();
    // Dawn uses Metal / D3D12 there: nothing to look for.
    expect(findVulkanLoader(machine({ platform: 'darwin' }))).toBe('system');
  });

  it('webgpu without the loader: one line of kind unavailable that names the package and --device cpu', () => {
    let err: unknown;
    try {
      checkDevice('webgpu', machine());
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RagspecError);
    const e = err as RagspecError;
    expect(e.kind).toBe('unavailable');
    expect(e.oneLine()).not.toContain('\n');
    expect(e.oneLine()).toMatch(/Vulkan loader \(libvulkan\.so\.1\) is not installed/);
    expect(e.oneLine()).toContain('libvulkan1');
    expect(e.oneLine()).toContain('--device cpu');
  });

  it('cpu never needs a check; webgpu passes when the loader is there', () => {
    for (const d of DEVICES) if (d !== 'webgpu') expect(() => checkDevice(d, machine())).not.toThrow();
    expect(() => checkDevice('webgpu', machine({ files: ['/lib64/libvulkan.so.1'] }))).not.toThrow();
  });
});

describe('the placement report', () => {
  const ev = (op: string, provider: string, i: number) => ({
    cat: 'Node',
    name: `n_${op}_${i}_kernel_time`,
    args: { op_name: op, provider },
  });
  const gpu = 'WebGpuExecutionProvider';
  const cpu = 'CPUExecutionProvider';

  it('counts nodes by provider and lists the op types that fell back to the CPU', () => {
    const events = [
      { cat: 'Session', name: 'model_run' },
      ev('MatMulNBits', gpu, 0),
      ev('Shape', cpu, 1),
      ev('Shape', cpu, 2),
      ev('Range', cpu, 3),
      ev('Softmax', gpu, 4),
      { cat: 'Node', name: 'n_MatMulNBits_0_fence_before', args: {} }, // not a kernel event
    ];
    const p = placementOf(events, gpu);
    expect(p.nodes).toBe(5);
    expect(p.fellBack).toEqual({ Shape: 2, Range: 1 });
    expect(p.byProvider[gpu]).toEqual({ MatMulNBits: 1, Softmax: 1 });
    expect(describePlacement(p, 'int4.onnx')).toBe(
      'webgpu: int4.onnx: 2 of 5 nodes run on webgpu, 3 fell back to the CPU: Shape×2, Range',
    );
    expect(describePlacement(placementOf([ev('MatMul', gpu, 0)], gpu), 'g.onnx')).toBe(
      'webgpu: g.onnx: all 1 nodes run on webgpu',
    );
  });

  it('OrtModel profiles only the first run and reports once (CPU provider, tiny graph)', async () => {
    const cfg = tinyConfig();
    const g = buildLlamaGraph(randomWeights(cfg, 5), { weights: 'fp32', mask: '4d' });
    const reports: Placement[] = [];
    const lm = await OnnxCausalLM.load(g.bytes, g.config, {
      intraOpThreads: 1,
      onPlacement: (p) => reports.push(p),
    });
    const cache = lm.newCache();
    const first = await lm.forward([1, 2, 3], [0, 1, 2], null, cache);
    await lm.forward([4], [3], null, cache);
    expect(reports).toHaveLength(1);
    expect(reports[0]!.nodes).toBeGreaterThan(10);
    expect(reports[0]!.fellBack).toEqual({}); // preferred is the CPU itself
    expect(Object.keys(reports[0]!.byProvider)).toEqual(['CPUExecutionProvider']);
    // Profiling changes nothing about the numbers.
    const plain = await OnnxCausalLM.load(g.bytes, g.config, { intraOpThreads: 1 });
    const again = await plain.forward([1, 2, 3], [0, 1, 2], null, plain.newCache());
    expect(Array.from(again.data)).toEqual(Array.from(first.data));
    await lm.dispose();
    await plain.dispose();
  });
});

describe('a webgpu session on this machine', () => {
  it('is refused before onnxruntime is asked when the Vulkan loader is missing, else says no adapter', async () => {
    const g = buildLlamaGraph(randomWeights(tinyConfig(), 5), { weights: 'fp32', mask: '4d' });
    const hasLoader = findVulkanLoader() !== null;
    const err = await OrtModel.load(g.bytes, { providers: ['webgpu'] }).then(
      async (m) => {
        await m.dispose();
        return null;
      },
      (e: unknown) => e,
    );
    if (err === null) return; // a machine with a working GPU: nothing to refuse
    expect(err).toBeInstanceOf(RagspecError);
    expect((err as RagspecError).kind).toBe('unavailable');
    expect((err as RagspecError).oneLine()).toMatch(hasLoader ? /no GPU adapter found/ : /Vulkan loader/);
    expect((err as RagspecError).oneLine()).toContain('--device cpu');
  });
});
