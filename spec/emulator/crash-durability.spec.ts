/**
 * kill -9 right after acknowledged writes: a restarted emulator on the same data directory
 * returns every write that was acknowledged, whatever was still in flight.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';
import { type Spawned, spawnTs, waitForOutput } from './process.js';
import { type EndpointInfo, type Sdk, TableStore, call, condition, long, ok, plain, sdkClient } from './sdk.js';

const CHILD = 'spec/emulator/fixtures/emulator-process.ts';
const spawned: Spawned[] = [];

const launch = async (dataDir: string): Promise<{ process: Spawned; info: EndpointInfo }> => {
  const child = spawnTs(CHILD, [dataDir]);
  spawned.push(child);
  const [line] = await waitForOutput(child, /^\{.*\}$/m);
  return { process: child, info: JSON.parse(line) as EndpointInfo };
};

afterEach(() => {
  for (const child of spawned.splice(0)) if (child.child.exitCode === null) child.child.kill('SIGKILL');
});

describe('crash durability', () => {
  it('keeps every acknowledged write across kill -9', async () => {
    const dir = tempDir('crash');
    try {
      const first = await launch(dir.path);
      const client: Sdk = sdkClient(first.info);
      await ok(client, 'createTable', {
        tableMeta: { tableName: 'crash', primaryKey: [{ name: 'id', type: 'STRING' }] },
        reservedThroughput: { capacityUnit: { read: 0, write: 0 } },
        tableOptions: { timeToLive: -1, maxVersions: 1 },
      });

      const acknowledged = new Map<string, bigint>();
      let counterAcks = 0;
      const put = async (id: string, value: number) => {
        const result = await call(client, 'putRow', { tableName: 'crash', condition: condition('IGNORE'), primaryKey: [{ id }], attributeColumns: [{ v: long(value) }] });
        if (result.ok) acknowledged.set(id, BigInt(value));
      };
      const batch = async (start: number) => {
        const rows = Array.from({ length: 200 }, (_, i) => ({
          type: 'PUT',
          condition: condition('IGNORE'),
          primaryKey: [{ id: `batch-${start + i}` }],
          attributeColumns: [{ v: long(start + i) }],
        }));
        const result = await call(client, 'batchWriteRow', { tables: [{ tableName: 'crash', rows }] });
        if (result.ok) for (const [i, row] of rows.entries()) if (result.data.tables[i].isOk) acknowledged.set(row.primaryKey[0]!.id, BigInt(start + i));
      };
      const increment = async () => {
        const result = await call(client, 'updateRow', {
          tableName: 'crash',
          condition: condition('IGNORE'),
          primaryKey: [{ id: 'counter' }],
          updateOfAttributeColumns: [{ INCREMENT: [{ v: long(1) }] }],
        });
        if (result.ok) counterAcks++;
      };

      // a steady stream of concurrent writes; the kill lands right after an acknowledgement
      // while others are still in flight
      const inFlight: Promise<void>[] = [];
      let killed = false;
      const kill = () => {
        if (killed) return;
        killed = true;
        first.process.child.kill('SIGKILL');
      };
      for (let round = 0; round < 30 && !killed; round++) {
        const wave = [
          ...Array.from({ length: 20 }, (_, i) => put(`single-${round}-${i}`, round * 100 + i)),
          batch(round * 1000),
          increment(),
        ];
        inFlight.push(...wave);
        await Promise.race(wave);
        if (round === 20) wave[0]!.then(kill, kill);
      }
      await Promise.allSettled(inFlight);
      kill();
      const exit = await first.process.exited;
      expect(exit.signal).toBe('SIGKILL');
      expect(acknowledged.size).toBeGreaterThan(1000);

      const second = await launch(dir.path);
      const reader: Sdk = sdkClient(second.info);
      const stored = new Map<string, bigint>();
      let start: Sdk[] = [{ id: TableStore.INF_MIN }];
      for (;;) {
        const page = await ok(reader, 'getRange', {
          tableName: 'crash',
          direction: TableStore.Direction.FORWARD,
          inclusiveStartPrimaryKey: start,
          exclusiveEndPrimaryKey: [{ id: TableStore.INF_MAX }],
          limit: 5000,
        });
        for (const row of page.rows) stored.set(row.primaryKey[0].value, plain(row.attributes[0].columnValue) as bigint);
        if (page.nextStartPrimaryKey === null) break;
        start = page.nextStartPrimaryKey.map((c: Sdk) => ({ [c.name]: c.value }));
      }
      const lost = [...acknowledged].filter(([id, value]) => stored.get(id) !== value);
      expect(lost).toEqual([]);
      // every acknowledged increment is in the counter (unacknowledged ones may be too)
      expect(stored.get('counter') ?? 0n).toBeGreaterThanOrEqual(BigInt(counterAcks));
      second.process.child.kill('SIGTERM');
      expect((await second.process.exited).code).toBe(0);
    } finally {
      dir.remove();
    }
  }, 60_000);
});
