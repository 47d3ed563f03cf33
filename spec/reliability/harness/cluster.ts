/**
 * The pieces every reliability spec puts together, each as a user would run it:
 *
 * - the emulator in its own process (`emulator-process.ts`) on a persistent data directory, which
 *   can be SIGKILLed and restarted at the same port;
 * - the official `tablestore` SDK for everything the harness writes and reads back;
 * - stream jobs as the compiled CLI runs them (`node bin/otsflow.js sql -f … --var …`), each in
 *   its own process, so kill -9 is real;
 * - an order generator that writes while jobs run and knows exactly which orders the table holds;
 * - the direct computation of the seed query from the source table itself.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import * as E from 'fp-ts/lib/Either.js';
import { DEFAULT_CREDENTIALS, DEFAULT_INSTANCE_NAME } from '../../../lib/emulator/index.js';
import { tunnelControl, type TunnelDescription } from '../../../lib/tunnel/control.js';
import { createHttpTransport } from '../../../lib/tunnel/http-transport.js';
import { ensureCompiledCli } from '../../cli/cli-process.js';
import { ROOT } from '../../emulator/process.js';
import { startInstrumentedEmulator, type InstrumentedConfig } from './instrumented-emulator.js';
import { seededRandom } from '../../../lib/wire/random.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Sdk = any;
export const TableStore: Sdk = createRequire(import.meta.url)('tablestore');

const EMULATOR_SCRIPT = fileURLToPath(new URL('./emulator-process.ts', import.meta.url));
export const SEED_SQL = join(ROOT, 'examples', 'orders', 'job.sql');
export const CREDENTIALS = DEFAULT_CREDENTIALS;
export const INSTANCE = DEFAULT_INSTANCE_NAME;

/** Long-form knobs: RELIABILITY_LONG=1 multiplies the work; single knobs override it. */
export const LONG = process.env['RELIABILITY_LONG'] === '1';
export const knob = (name: string, ci: number, long: number): number => {
  const text = process.env[name];
  if (text !== undefined && text !== '') {
    const value = Number(text);
    if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a number ≥ 0, got '${text}'`);
    return value;
  }
  return LONG ? long : ci;
};
export const SEED = knob('RELIABILITY_SEED', Math.floor(Math.random() * 2 ** 31), Math.floor(Math.random() * 2 ** 31));

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function until(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string, pollMs = 25): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(pollMs);
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const exitOf = (child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve({ code: child.exitCode, signal: child.signalCode })
    : new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));

// ------------------------------------------------------------------------------- the emulator

export type EmulatorConfig = InstrumentedConfig;

export interface SinkEvent {
  /** `abandoned`: the client died during the write's latency, so it was not applied */
  readonly phase: 'begin' | 'end' | 'abandoned';
  readonly at: number;
  readonly id: number;
  /** on `begin`: the newest plan and commit in `checkpointDir` as the write arrived (-1: none) */
  readonly plan?: number;
  readonly commit?: number;
  /** the process that served it (restarts start ids again) */
  readonly generation: number;
}

export interface FaultStats {
  readonly tunnelCalls: number;
  readonly tunnel503: number;
  readonly tunnelDelayed: number;
  readonly tunnelDropped: number;
  readonly heartbeatsWithheld: number;
  readonly sinkWrites: number;
  readonly sink503: number;
  readonly sinkAnswersLost: number;
}

export interface EmulatorProcess {
  readonly port: number;
  readonly endpoint: string;
  /** sink writes seen by every generation of the process */
  readonly sinkEvents: SinkEvent[];
  /** called with each sink event as it arrives */
  onSink: ((event: SinkEvent) => void) | undefined;
  command(message: Record<string, unknown>): Promise<void>;
  /** the faults this process generation injected so far */
  stats(): Promise<FaultStats>;
  /** SIGKILL; resolves once the process is gone */
  kill(): Promise<void>;
  /** a new process on the same data directory and port */
  restart(): Promise<void>;
  /** SIGTERM-free close: the data directory stays for the caller to remove */
  close(): Promise<void>;
  stderr(): string;
  /** in the test's own process (startEmulatorInProcess): kill and restart are not possible */
  readonly inProcess: boolean;
}

export async function startEmulatorProcess(config: EmulatorConfig): Promise<EmulatorProcess> {
  const sinkEvents: SinkEvent[] = [];
  let child: ChildProcess | undefined;
  let generation = 0;
  let stderr = '';
  let nextId = 0;
  const acks = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  const port = config.port === 0 ? await freePort() : config.port;

  const launch = async (): Promise<void> => {
    generation++;
    const mine = generation;
    const spawned = spawn(process.execPath, ['--import', 'tsx', EMULATOR_SCRIPT, JSON.stringify({ ...config, port })], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    child = spawned;
    spawned.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    await new Promise<void>((resolve, reject) => {
      const onExit = (code: number | null, signal: NodeJS.Signals | null) => reject(new Error(`emulator exited before it listened (${code ?? signal}): ${stderr}`));
      spawned.once('exit', onExit);
      createInterface({ input: spawned.stdout! }).on('line', (line) => {
        const message = JSON.parse(line) as { kind: string; phase?: SinkEvent['phase']; at?: number; id?: number; plan?: number; commit?: number; message?: string };
        if (message.kind === 'ready') {
          spawned.off('exit', onExit);
          resolve();
        } else if (message.kind === 'sink') {
          const event: SinkEvent = {
            phase: message.phase!,
            at: message.at!,
            id: message.id!,
            generation: mine,
            ...(message.plan === undefined ? {} : { plan: message.plan, commit: message.commit! }),
          };
          sinkEvents.push(event);
          handle.onSink?.(event);
        } else if (message.kind === 'ack') {
          acks.get(message.id!)?.resolve(message);
          acks.delete(message.id!);
        } else if (message.kind === 'error') {
          acks.get(message.id!)?.reject(new Error(message.message));
          acks.delete(message.id!);
        }
      });
    });
  };

  const ask = (message: Record<string, unknown>): Promise<unknown> => {
    const id = ++nextId;
    return new Promise<unknown>((resolve, reject) => {
      acks.set(id, { resolve, reject });
      child!.stdin!.write(`${JSON.stringify({ ...message, id })}\n`);
    });
  };

  const handle: EmulatorProcess = {
    port,
    endpoint: `http://127.0.0.1:${port}`,
    sinkEvents,
    onSink: undefined,
    async command(message) {
      await ask(message);
    },
    async stats() {
      const { kind: _kind, id: _id, ...stats } = (await ask({ cmd: 'stats' })) as FaultStats & { kind: string; id: number };
      return stats;
    },
    inProcess: false,
    async kill() {
      const current = child;
      if (current === undefined) return;
      const exited = exitOf(current);
      current.kill('SIGKILL');
      await exited;
      child = undefined;
    },
    async restart() {
      await handle.kill();
      // the port may take a moment to be free again after the kill
      for (let attempt = 0; ; attempt++) {
        try {
          await launch();
          return;
        } catch (error) {
          if (attempt >= 20 || !String(error).includes('EADDRINUSE')) throw error;
          await sleep(100);
        }
      }
    },
    close: () => handle.kill(),
    stderr: () => stderr,
  };
  await launch();
  return handle;
}

/**
 * The same instrumented emulator in the test's own process: no process to start (the specs that
 * never kill the service save a second or two each), the same events and commands.
 */
export async function startEmulatorInProcess(config: EmulatorConfig): Promise<EmulatorProcess> {
  const sinkEvents: SinkEvent[] = [];
  const handle: EmulatorProcess = {
    port: 0,
    endpoint: '',
    sinkEvents,
    onSink: undefined,
    command: async (message) => {
      instrumented.handle(message as { cmd: string });
    },
    stats: async () => instrumented.handle({ cmd: 'stats' }) as unknown as FaultStats,
    kill: () => Promise.reject(new Error('an in-process emulator cannot be killed')),
    restart: () => Promise.reject(new Error('an in-process emulator cannot be restarted')),
    close: () => instrumented.emulator.close(),
    stderr: () => '',
    inProcess: true,
  };
  const instrumented = await startInstrumentedEmulator(config, (message) => {
    if (message['kind'] !== 'sink') return;
    const event: SinkEvent = {
      phase: message['phase'] as SinkEvent['phase'],
      at: message['at'] as number,
      id: message['id'] as number,
      generation: 1,
      ...(message['plan'] === undefined ? {} : { plan: message['plan'] as number, commit: message['commit'] as number }),
    };
    sinkEvents.push(event);
    handle.onSink?.(event);
  });
  return Object.assign(handle, { port: instrumented.emulator.port, endpoint: instrumented.emulator.endpoint });
}

// ------------------------------------------------------------------------------- the SDK

export function sdkClient(endpoint: string): Sdk {
  return new TableStore.Client({ endpoint, instancename: INSTANCE, accessKeyId: CREDENTIALS.accessKeyId, secretAccessKey: CREDENTIALS.accessKeySecret, maxRetries: 0 });
}

export const sdkCall = (sdk: Sdk, operation: string, params: Record<string, unknown>): Promise<Sdk> =>
  new Promise((resolve, reject) => {
    sdk[operation](params, (error: unknown, data: Sdk) => (error ? reject(error instanceof Error ? error : new Error(JSON.stringify(error))) : resolve(data)));
  });

export async function createTable(sdk: Sdk, tableName: string, keys: readonly string[]): Promise<void> {
  await sdkCall(sdk, 'createTable', {
    tableMeta: { tableName, primaryKey: keys.map((name) => ({ name, type: 'STRING' })) },
    reservedThroughput: { capacityUnit: { read: 0, write: 0 } },
    tableOptions: { timeToLive: -1, maxVersions: 1 },
  });
}

/** Every row of a table, page by page. */
export async function scanTable(sdk: Sdk, tableName: string, keys: readonly string[]): Promise<{ primaryKey: Record<string, string>; attributes: Record<string, unknown> }[]> {
  const rows: { primaryKey: Record<string, string>; attributes: Record<string, unknown> }[] = [];
  let start: Sdk[] = keys.map((name) => ({ [name]: TableStore.INF_MIN }));
  for (;;) {
    const page = await sdkCall(sdk, 'getRange', {
      tableName,
      direction: TableStore.Direction.FORWARD,
      inclusiveStartPrimaryKey: start,
      exclusiveEndPrimaryKey: keys.map((name) => ({ [name]: TableStore.INF_MAX })),
      limit: 5000,
    });
    for (const row of page.rows) {
      rows.push({
        primaryKey: Object.fromEntries(row.primaryKey.map((cell: Sdk) => [cell.name, String(cell.value)])),
        attributes: Object.fromEntries(row.attributes.map((cell: Sdk) => [cell.columnName, cell.columnValue])),
      });
    }
    if (page.nextStartPrimaryKey === null || page.nextStartPrimaryKey === undefined) break;
    start = page.nextStartPrimaryKey.map((cell: Sdk) => ({ [cell.name]: cell.value }));
  }
  return rows;
}

export interface TunnelAdmin {
  create(tableName: string, tunnelName: string): Promise<string>;
  describe(tableName: string, tunnelName: string): Promise<TunnelDescription>;
  close(): void;
}

export function tunnelAdmin(endpoint: string): TunnelAdmin {
  const transport = createHttpTransport({ endpoint, instance: INSTANCE, credentials: CREDENTIALS, requestTimeoutMs: 10_000 });
  const control = tunnelControl(transport);
  return {
    async create(tableName, tunnelName) {
      const created = await control.createTunnel({ tableName, tunnelName, tunnelType: 'Stream' });
      if (E.isLeft(created)) throw created.left;
      return created.right.tunnelId;
    },
    async describe(tableName, tunnelName) {
      const described = await control.describeTunnel(tableName, tunnelName);
      if (E.isLeft(described)) throw described.left;
      return described.right;
    },
    close: () => transport.close(),
  };
}

// ------------------------------------------------------------------------------- orders

export const ORDER_TABLE = 'OrderSource';
export const SINK_TABLE = 'OrderStreamSink';
export const WINDOW_MS = 30_000;

export interface Order {
  readonly userId: string;
  readonly orderId: string;
  /** a multiple of 0.25: sums of them are exact in binary */
  readonly price: number;
  /** event time, ms */
  readonly timestamp: number;
}

export interface GeneratorOptions {
  readonly seed: number;
  /** orders per second */
  readonly rate: number;
  /** share of orders whose event time lies 30–120 s behind the newest (late: earlier windows) */
  readonly lateShare?: number;
  /** share of orders alone in a window of their own, hours back (default 0.02) */
  readonly privateShare?: number;
  /** event-time step between consecutive orders, ms (default 25: 1200 orders per 30 s window) */
  readonly stepMs?: number;
  /** highest price (default 1000; the filter job uses 2000) */
  readonly maxPrice?: number;
}

/**
 * Writes orders with BatchWriteRow (EXPECT_NOT_EXIST) while the jobs run. A request that fails is
 * retried until it lands; a row refused as already existing landed earlier (its answer was lost),
 * so no order is ever in the change feed twice, and `written` is exactly what the table holds.
 */
export class OrderGenerator {
  readonly written: Order[] = [];
  /** failed requests that were retried (the emulator was down, or busy) */
  retries = 0;
  private running = false;
  private abandoned = false;
  private loop: Promise<void> | undefined;
  private next = 0;
  private privateWindows = 0;
  private readonly draw: () => number;
  private readonly epoch: number;

  constructor(
    private readonly sdk: () => Sdk,
    private readonly options: GeneratorOptions,
  ) {
    this.draw = seededRandom(options.seed);
    // event times a few minutes back: the SDK writes `timestamp` as the cell version too, and the
    // service accepts versions within a day of now
    this.epoch = Math.floor(Date.now() / WINDOW_MS) * WINDOW_MS - 10 * 60_000;
  }

  order(n: number): Order {
    const step = this.options.stepMs ?? 25;
    const newest = this.epoch + n * step;
    const kind = this.draw();
    const lateShare = this.options.lateShare ?? 0.1;
    const privateShare = this.options.privateShare ?? 0.02;
    let timestamp = newest;
    if (kind < lateShare) timestamp = Math.max(this.epoch, newest - 30_000 - Math.floor(this.draw() * 90_000));
    // an order alone in its window, hours back: one batch ever writes that row, so a lost sink
    // write shows (the windows of the other orders are rewritten by later batches in update mode)
    else if (kind < lateShare + privateShare && this.privateWindows < 2_000) timestamp = this.epoch - 3_600_000 - this.privateWindows++ * WINDOW_MS + Math.floor(this.draw() * WINDOW_MS);
    const quarters = 1 + Math.floor(this.draw() * ((this.options.maxPrice ?? 1000) * 4));
    return { userId: `u${String(n % 53).padStart(2, '0')}`, orderId: `o${String(n).padStart(8, '0')}`, price: quarters / 4, timestamp };
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Stops after the request in flight has landed. */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /** Stops at once, landed or not (a test that failed, the emulator gone); `written` is no longer exact. */
  abort(): void {
    this.running = false;
    this.abandoned = true;
  }

  /** Writes `count` orders at once (no pacing). */
  async writeNow(count: number): Promise<void> {
    const orders = Array.from({ length: count }, () => this.order(this.next++));
    for (let i = 0; i < orders.length; i += 200) await this.land(orders.slice(i, i + 200));
  }

  private async run(): Promise<void> {
    const tickMs = 100;
    let owed = 0;
    while (this.running) {
      const started = Date.now();
      owed += (this.options.rate * tickMs) / 1000;
      const count = Math.floor(owed);
      owed -= count;
      if (count > 0) {
        const orders = Array.from({ length: count }, () => this.order(this.next++));
        for (let i = 0; i < orders.length; i += 200) await this.land(orders.slice(i, i + 200));
      }
      await sleep(Math.max(0, tickMs - (Date.now() - started)));
    }
  }

  private async land(orders: readonly Order[]): Promise<void> {
    let pending = [...orders];
    for (let attempt = 0; pending.length > 0 && !this.abandoned; attempt++) {
      try {
        const result = await sdkCall(this.sdk(), 'batchWriteRow', {
          tables: [
            {
              tableName: ORDER_TABLE,
              rows: pending.map((order) => ({
                type: 'PUT',
                condition: new TableStore.Condition(TableStore.RowExistenceExpectation.EXPECT_NOT_EXIST, null),
                primaryKey: [{ UserId: order.userId }, { OrderId: order.orderId }],
                attributeColumns: [{ price: order.price }, { timestamp: TableStore.Long.fromNumber(order.timestamp) }],
                returnContent: { returnType: TableStore.ReturnType.NONE },
              })),
            },
          ],
        });
        const rows: Sdk[] = result.tables ?? [];
        const left: Order[] = [];
        pending.forEach((order, index) => {
          const row = rows[index];
          if (row?.isOk === true || row?.errorCode === 'OTSConditionCheckFail') this.written.push(order);
          else left.push(order);
        });
        pending = left;
      } catch {
        // the emulator is down or the connection broke: whether it landed is unknown, and the
        // condition makes the retry safe either way
      }
      if (pending.length > 0) {
        this.retries++;
        await sleep(Math.min(1_000, 50 * 2 ** Math.min(attempt, 5)));
      }
    }
  }
}

/** The source table's orders, read back with the SDK. */
export async function readOrders(sdk: Sdk): Promise<Order[]> {
  return (await scanTable(sdk, ORDER_TABLE, ['UserId', 'OrderId'])).map((row) => ({
    userId: row.primaryKey['UserId']!,
    orderId: row.primaryKey['OrderId']!,
    price: Number(row.attributes['price']),
    timestamp: Number(String(row.attributes['timestamp'])),
  }));
}

export interface WindowRow {
  readonly count: bigint;
  readonly totalPrice: number;
}

/** 'YYYY-MM-DD HH:MM:SS' in UTC, as CAST(window.start AS String) prints it with --time-zone UTC */
export const utcText = (ms: number): string => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');

/** The seed query computed directly: 30-second windows of event time, count(*) and sum(price). */
export function directComputation(orders: readonly Order[]): Map<string, WindowRow> {
  const windows = new Map<string, WindowRow>();
  for (const order of orders) {
    const start = Math.floor(order.timestamp / WINDOW_MS) * WINDOW_MS;
    const key = `${utcText(start)}|${utcText(start + WINDOW_MS)}`;
    const window = windows.get(key) ?? { count: 0n, totalPrice: 0 };
    windows.set(key, { count: window.count + 1n, totalPrice: window.totalPrice + order.price });
  }
  return windows;
}

export async function readSeedSink(sdk: Sdk): Promise<Map<string, WindowRow>> {
  const rows = new Map<string, WindowRow>();
  for (const row of await scanTable(sdk, SINK_TABLE, ['begin', 'end'])) {
    rows.set(`${row.primaryKey['begin']}|${row.primaryKey['end']}`, { count: BigInt(String(row.attributes['count'])), totalPrice: Number(row.attributes['totalPrice']) });
  }
  return rows;
}

/** The seed setup on a running emulator: OrderSource, OrderStreamSink and a Stream tunnel. */
export async function seedTables(endpoint: string, tunnelName = 'orders'): Promise<string> {
  const sdk = sdkClient(endpoint);
  await createTable(sdk, ORDER_TABLE, ['UserId', 'OrderId']);
  await createTable(sdk, SINK_TABLE, ['begin', 'end']);
  const admin = tunnelAdmin(endpoint);
  try {
    return await admin.create(ORDER_TABLE, tunnelName);
  } finally {
    admin.close();
  }
}

// ------------------------------------------------------------------------------- jobs

export interface JobProcess {
  readonly child: ChildProcess;
  readonly startedAt: number;
  stdout(): string;
  stderr(): string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL; resolves with the time the signal was sent, once the process is gone */
  kill(): Promise<number>;
}

export interface JobOptions {
  readonly sqlFile?: string;
  readonly endpoint: string;
  readonly tunnelId: string;
  readonly checkpoint: string;
  readonly vars?: Readonly<Record<string, string>>;
  readonly untilIdle?: boolean;
  readonly idleMs?: number;
  readonly heartbeatIntervalMs?: number;
  readonly heartbeatTimeoutMs?: number;
  /** no heartbeat flags at all: the defaults a user gets (30 s interval, 300 s timeout) */
  readonly defaultHeartbeats?: boolean;
  /** the live progress on stderr (a plain line every 5 s, stderr being a pipe); off by default */
  readonly progress?: boolean;
  /** more command-line flags (e.g. --reset) */
  readonly extraArgs?: readonly string[];
  /** the working directory of the process (default: the repository) */
  readonly cwd?: string;
}

/** `otsflow sql -f examples/orders/job.sql --var …` as a user runs it, in its own process. */
export function startJob(options: JobOptions): JobProcess {
  ensureCompiledCli();
  const vars = {
    endpoint: options.endpoint,
    instance: INSTANCE,
    access_key_id: CREDENTIALS.accessKeyId,
    access_key_secret: CREDENTIALS.accessKeySecret,
    tunnel_id: options.tunnelId,
    checkpoint: options.checkpoint,
    ...options.vars,
  };
  const args = [
    join(ROOT, 'bin', 'otsflow.js'),
    'sql',
    '-f',
    options.sqlFile ?? SEED_SQL,
    ...Object.entries(vars).flatMap(([name, value]) => ['--var', `${name}=${value}`]),
    '--time-zone',
    'UTC',
    ...(options.progress === true ? [] : ['--no-progress']),
    ...(options.defaultHeartbeats === true ? [] : ['--heartbeat-interval-ms', String(options.heartbeatIntervalMs ?? 200), '--heartbeat-timeout-ms', String(options.heartbeatTimeoutMs ?? 1_000)]),
    ...(options.extraArgs ?? []),
    ...(options.untilIdle === true ? ['--until-idle', '--idle-ms', String(options.idleMs ?? 1_000)] : []),
  ];
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('OTSFLOW_') && !name.startsWith('ALIBABA_CLOUD_')));
  const child = spawn(process.execPath, args, { cwd: options.cwd ?? ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = exitOf(child);
  return {
    child,
    startedAt: Date.now(),
    stdout: () => out,
    stderr: () => err,
    exited,
    async kill() {
      const at = Date.now();
      child.kill('SIGKILL');
      await exited;
      return at;
    },
  };
}

/** Runs a job until it exits on its own (`--until-idle`), failing past `timeoutMs`. */
export async function runJobToEnd(options: JobOptions, timeoutMs: number): Promise<{ code: number | null; stderr: string; ms: number }> {
  const job = startJob({ ...options, untilIdle: true });
  const timer = setTimeout(() => job.child.kill('SIGKILL'), timeoutMs);
  const { code, signal } = await job.exited;
  clearTimeout(timer);
  if (signal !== null) throw new Error(`the job did not end within ${timeoutMs} ms; stderr:\n${job.stderr()}`);
  return { code, stderr: job.stderr(), ms: Date.now() - job.startedAt };
}

/** Which sink rows differ from the expected ones, for a readable failure. */
export function differences(actual: ReadonlyMap<string, WindowRow>, expected: ReadonlyMap<string, WindowRow>): string[] {
  const lines: string[] = [];
  for (const [key, row] of expected) {
    const got = actual.get(key);
    if (got === undefined) lines.push(`${key}: missing (expected count ${row.count}, total ${row.totalPrice})`);
    else if (got.count !== row.count || got.totalPrice !== row.totalPrice) lines.push(`${key}: count ${got.count} total ${got.totalPrice}, expected count ${row.count} total ${row.totalPrice}`);
  }
  for (const key of actual.keys()) if (!expected.has(key)) lines.push(`${key}: not expected`);
  return lines;
}
