/**
 * Issue 15 "must show", on a machine without a GPU: `--device webgpu` is one line and exit 1
 * from `ask` / `generate`, a 503 with the reason on /readyz from `serve`; the device is
 * validated (zod) from the flag, the env and the config file, and listed in --help.
 * The real processes run: nothing is faked.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.ts';
import { findVulkanLoader } from '../../src/model/onnx/device.ts';
import { RagspecError } from '../../src/util/errors.ts';
import { repoRoot } from '../../src/util/paths.ts';
import { makeTestCorpus, removeTmpDirs, tmpDataDir } from '../api/helpers/harness.ts';
import { waitFor } from '../api/helpers/metrics.ts';

const bin = path.join(repoRoot, 'bin', 'ragspec.js');
/** This suite is about the CPU-only machine; where a Vulkan loader exists the message differs. */
const NO_GPU =
  findVulkanLoader() === null ? /Vulkan loader \(libvulkan\.so\.1\) is not installed/ : /no GPU adapter/;

function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('RAGSPEC_') && k !== 'RAGSPEC_HOME') delete env[k];
  return { ...env, ...extra };
}

function ragspec(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [bin, ...args], { cwd: repoRoot, env: cleanEnv(env), encoding: 'utf8' });
}

/** One line on stderr, ours: no stack trace and none of Dawn's native warning. */
function expectOneLine(stderr: string, re: RegExp): void {
  const lines = stderr.trim().split('\n');
  expect(lines, stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^ragspec: error: /);
  expect(lines[0]).toMatch(re);
  expect(stderr).not.toMatch(/Couldn't load Vulkan|BackendVk|\bat .*\.ts:\d+/);
}

let child: ChildProcess | undefined;
afterAll(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  removeTmpDirs();
});

describe('--device webgpu without a GPU', () => {
  it('generate: one line naming what is missing and --device cpu, exit 1', () => {
    const r = ragspec(['generate', '--device', 'webgpu', '-p', 'hi', '-n', '4']);
    expect(r.status).toBe(1);
    expectOneLine(r.stderr, NO_GPU);
    expect(r.stderr).toContain('--device cpu');
  });

  it('ask: the same, from RAGSPEC_DEVICE, before any retrieval', () => {
    const r = ragspec(['ask', 'How do I install only production dependencies?'], {
      RAGSPEC_DEVICE: 'webgpu',
    });
    expect(r.status).toBe(1);
    expectOneLine(r.stderr, NO_GPU);
  });

  it('serve: keeps listening, /readyz is 503 with the reason', async () => {
    const dataDir = tmpDataDir('device');
    await makeTestCorpus(dataDir);
    const proc = spawn(
      process.execPath,
      [bin, 'serve', '--port', '0', '--data-dir', dataDir, '--log-level', 'silent', '--device', 'webgpu'],
      { cwd: repoRoot, env: cleanEnv(), stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child = proc;
    let stderr = '';
    proc.stderr!.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    await waitFor(async () => /listening on http:\/\/127\.0\.0\.1:\d+/.test(stderr), 'the server to listen');
    const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr)![1]!;
    await waitFor(async () => stderr.includes('loading failed'), 'the load to fail');
    const r = await fetch(`${url}/readyz`);
    expect(r.status).toBe(503);
    const body = (await r.json()) as { status: string; model: boolean; error?: string };
    expect(body.status).toBe('failed');
    expect(body.model).toBe(false);
    expect(body.error).toMatch(NO_GPU);
    expect(body.error).toContain('--device cpu');
    expect(stderr).not.toMatch(/Couldn't load Vulkan|BackendVk/);
    proc.kill('SIGTERM');
    await new Promise((res) => proc.once('exit', res));
  });
});

describe('the device setting', () => {
  it('is validated: flag, env and config file name the bad value and the choices', () => {
    const flag = ragspec(['generate', '--device', 'gpu', '-p', 'hi']);
    expect(flag.status).toBe(1);
    expectOneLine(flag.stderr, /unknown --device "gpu" — use one of cpu, cuda, webgpu/);
    const env = ragspec(['generate', '-p', 'hi'], { RAGSPEC_DEVICE: 'tpu' });
    expect(env.status).toBe(1);
    expectOneLine(env.stderr, /unknown RAGSPEC_DEVICE "tpu"/);
    const serve = ragspec(['serve', '--port', '0'], { RAGSPEC_DEVICE: 'tpu' });
    expect(serve.status).toBe(1);
    expectOneLine(serve.stderr, /model\.device: .*"cpu"\|"cuda"\|"webgpu"/);

    const file = path.join(tmpDataDir('devcfg'), 'ragspec.json');
    fs.writeFileSync(file, JSON.stringify({ model: { device: 'vulkan' } }));
    expect(() => loadConfig({ file, env: {} })).toThrow(RagspecError);
    expect(() => loadConfig({ file, env: {} })).toThrow(/model\.device/);
    expect(loadConfig({ env: {} }).model.device).toBe('cpu');
    expect(loadConfig({ env: { RAGSPEC_DEVICE: 'webgpu' } }).model.device).toBe('webgpu');
    expect(loadConfig({ env: { RAGSPEC_DEVICE: 'webgpu' }, flags: { device: 'cpu' } }).model.device).toBe(
      'cpu',
    );
  });

  it('is in --help of ask, generate, serve and start', () => {
    for (const cmd of ['ask', 'generate', 'serve', 'start']) {
      const r = ragspec([cmd, '--help']);
      expect(r.status, cmd).toBe(0);
      expect(r.stdout, cmd).toMatch(/--device <device>\s+where the model runs: cpu, webgpu/);
    }
  });
});
