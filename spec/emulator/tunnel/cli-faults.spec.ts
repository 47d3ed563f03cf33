/** `otsflow emulator --faults …`: the plan reaches the tunnel service; a bad plan is refused whole. */
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_CREDENTIALS, DEFAULT_INSTANCE_NAME } from '../../../lib/emulator/index.js';
import { tempDir } from '../helpers.js';
import { type Spawned, spawnTs, waitForOutput } from '../process.js';
import { callTunnel, post } from './raw-client.js';

let running: Spawned | undefined;

afterEach(() => {
  if (running !== undefined && running.child.exitCode === null) running.child.kill('SIGKILL');
  running = undefined;
});

describe('otsflow emulator --faults', () => {
  it('fails tunnel calls as planned and leaves the table API alone', async () => {
    const dir = tempDir('cli-faults');
    try {
      running = spawnTs('lib/cli/main.ts', ['emulator', '--port', '0', '--data', dir.path, '--faults', '503=1,seed=9']);
      const [, port] = await waitForOutput(running, /endpoint:\s+http:\/\/127\.0\.0\.1:(\d+)/);
      const endpoint = { host: '127.0.0.1', port: Number(port), instanceName: DEFAULT_INSTANCE_NAME, ...DEFAULT_CREDENTIALS };
      expect(await callTunnel(endpoint, 'ListTunnel', {})).toMatchObject({ left: { status: 503, code: 'OTSTunnelServerUnavailable' } });
      expect((await post(endpoint, '/ListTable', new Uint8Array(0))).status).toBe(200);
    } finally {
      dir.remove();
    }
  });

  it('refuses a bad plan, naming every problem, with a non-zero exit', async () => {
    running = spawnTs('lib/cli/main.ts', ['emulator', '--port', '0', '--data', '/tmp/otsflow-never-created', '--faults', '503=2,boom=1']);
    const exit = await running.exited;
    expect(exit.code).toBe(2);
    expect(running.stderr()).toContain("--faults: item 1 '503=2': rate '2' must be a number in [0, 1]; item 2 'boom=1': unknown fault 'boom'");
  });
});
