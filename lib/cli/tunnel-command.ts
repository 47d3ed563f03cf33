/**
 * `otsflow tunnel create|list|describe|delete`: the tunnel control calls from the command line.
 *
 * Results go to stdout (the new tunnel id alone on a line, tables, or `--json` documents with
 * bigints as strings and times as ISO strings); human notes and errors go to stderr through the
 * logger. Exit codes: 0 done, 1 the call failed (service refusal, unreachable endpoint, unknown
 * tunnel), 2 the command line is wrong (missing or invalid flags) — nothing was sent then.
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import * as E from 'fp-ts/lib/Either.js';
import type { TunnelControl, TunnelDescription, TunnelSummary, TunnelType, StreamStart } from '../tunnel/control.js';
import { addConnectionOptions, type Connection, type ConnectionFlags, withConnection } from './connection.js';
import { readJobRows, workerName, type JobRows, type WorkerRecord } from '../sinks/worker-rows.js';
import { CliError, commandAction, type CommandContext, UsageError } from './log.js';

export const TUNNEL_TYPES: readonly TunnelType[] = ['BaseAndStream', 'Stream', 'BaseData'];

// ---- argument parsers (commander reports their errors as usage errors, exit 2) -----------------

export function parseTunnelType(text: string): TunnelType {
  const found = TUNNEL_TYPES.find((type) => type.toLowerCase() === text.trim().toLowerCase());
  if (found === undefined) throw new InvalidArgumentError(`Use one of ${TUNNEL_TYPES.join(', ')}.`);
  return found;
}

const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2}))?$/i;

/** An ISO 8601 date (`2024-05-01`, midnight UTC) or date-time with a zone (`2024-05-01T12:00:00Z`, `…+08:00`). */
export function parseTime(text: string): Date {
  const trimmed = text.trim();
  const match = ISO_TIME.exec(trimmed);
  const millis = match === null ? Number.NaN : Date.parse(trimmed);
  const [year, month, day] = match === null ? [0, 0, 0] : [Number(match[1]), Number(match[2]), Number(match[3])];
  const calendar = new Date(Date.UTC(year, month - 1, day));
  if (Number.isNaN(millis) || calendar.getUTCMonth() !== month - 1 || calendar.getUTCDate() !== day) {
    throw new InvalidArgumentError('Use an ISO 8601 time with a zone, e.g. 2024-05-01T12:00:00Z, 2024-05-01T20:00:00+08:00 or 2024-05-01.');
  }
  return new Date(millis);
}

export type StartPosition = { readonly kind: 'flag'; readonly flag: 'LATEST' | 'EARLIEST' } | { readonly kind: 'time'; readonly time: Date };

export function parseStart(text: string): StartPosition {
  const lower = text.trim().toLowerCase();
  if (lower === 'latest') return { kind: 'flag', flag: 'LATEST' };
  if (lower === 'earliest') return { kind: 'flag', flag: 'EARLIEST' };
  try {
    return { kind: 'time', time: parseTime(text) };
  } catch {
    throw new InvalidArgumentError('Use latest, earliest, or an ISO 8601 time with a zone, e.g. 2024-05-01T12:00:00Z.');
  }
}

// ---- output -------------------------------------------------------------------------------

/** JSON with bigints as decimal strings (Dates become ISO strings through their toJSON). */
export const toJson = (value: unknown): string => JSON.stringify(value, (_key, item: unknown) => (typeof item === 'bigint' ? item.toString() : item), 2);

/** Left-aligned columns, two spaces apart, no trailing spaces. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

const iso = (date: Date | undefined): string => (date === undefined ? '-' : date.toISOString());

const ago = (date: Date | undefined, now: number): string => {
  if (date === undefined) return '';
  const seconds = Math.round((now - date.getTime()) / 1000);
  if (seconds < 0) return ' (in the future)';
  if (seconds < 120) return ` (${seconds} s ago)`;
  if (seconds < 7200) return ` (${Math.round(seconds / 60)} min ago)`;
  return ` (${Math.round(seconds / 3600)} h ago)`;
};

function streamText(summary: TunnelSummary): string {
  const config = summary.streamConfig;
  if (summary.tunnelType === 'BaseData' || config === undefined) return '-';
  const start = config.startTime !== undefined ? `from ${config.startTime.toISOString()}` : `from ${(config.flag ?? 'LATEST').toLowerCase()}`;
  return `${summary.streamId || '-'} ${start}${config.endTime === undefined ? '' : ` to ${config.endTime.toISOString()}`}`;
}

export function formatTunnelList(tunnels: readonly TunnelSummary[]): string {
  return formatTable(
    ['NAME', 'ID', 'TYPE', 'STAGE', 'TABLE', 'EXPIRED', 'CREATED'],
    tunnels.map((t) => [t.tunnelName, t.tunnelId, t.tunnelType, t.stage, t.tableName, t.expired ? 'yes' : 'no', iso(t.createTime)]),
  );
}

/** The workers of the job on a state table that reads the tunnel: per channel its holder, and every worker row. */
export interface TunnelOwners {
  readonly stateTable: string;
  /** undefined: no job in the state table has rows for this tunnel's channels */
  readonly job?: string;
  readonly workers: readonly WorkerRecord[];
  /** channel → `<host> pid <pid>` of the live worker whose tunnel client holds it */
  readonly byChannel: ReadonlyMap<string, string>;
}

/** The job of `jobs` whose channel rows name the most of the tunnel's channels, and who holds each. */
export function tunnelOwners(description: TunnelDescription, stateTable: string, jobs: readonly JobRows[]): TunnelOwners {
  const ids = new Set(description.channels.map((channel) => channel.channelId));
  const ranked = jobs.map((job) => ({ job, shared: job.channels.filter((channel) => ids.has(channel.channelId)).length })).filter((entry) => entry.shared > 0).sort((a, b) => b.shared - a.shared);
  const found = ranked[0]?.job;
  if (found === undefined) return { stateTable, workers: [], byChannel: new Map() };
  const byClient = new Map<string, WorkerRecord>();
  for (const worker of found.workers) for (const client of worker.clients) byClient.set(client, worker);
  const byChannel = new Map<string, string>();
  for (const channel of description.channels) {
    const worker = channel.clientId === undefined || channel.clientId === '' ? undefined : byClient.get(channel.clientId);
    if (worker !== undefined) byChannel.set(channel.channelId, `${workerName(worker)}${worker.state === 'live' ? '' : ` (${worker.state})`}`);
  }
  return { stateTable, job: found.job, workers: found.workers, byChannel };
}

export function formatTunnelDescription(description: TunnelDescription, now = Date.now(), owners?: TunnelOwners): string {
  const { tunnel } = description;
  const fields: [string, string][] = [
    ['tunnel', tunnel.tunnelName],
    ['id', tunnel.tunnelId],
    ['table', tunnel.tableName],
    ['instance', tunnel.instanceName],
    ['type', tunnel.tunnelType],
    ['stage', tunnel.stage],
    ['expired', tunnel.expired ? 'yes' : 'no'],
    ['created', iso(tunnel.createTime)],
    ['stream', streamText(tunnel)],
    ['rpo', description.tunnelRpoTime === undefined ? '- (nothing consumed yet)' : `${iso(description.tunnelRpoTime)}${ago(description.tunnelRpoTime, now)}`],
  ];
  const width = Math.max(...fields.map(([name]) => name.length));
  const head = fields.map(([name, value]) => `${name.padEnd(width)}  ${value}`).join('\n');
  if (description.channels.length === 0) return `${head}\n\nno channels`;
  const channels = formatTable(
    ['CHANNEL', 'TYPE', 'STATUS', 'CLIENT', ...(owners === undefined ? [] : ['WORKER']), 'RPO TIME', 'RECORDS'],
    description.channels.map((c) => [
      c.channelId,
      c.channelType ?? '-',
      c.status ?? '-',
      c.clientId || '-',
      ...(owners === undefined ? [] : [owners.byChannel.get(c.channelId) ?? '-']),
      iso(c.rpoTime),
      c.count === undefined ? '-' : c.count.toString(),
    ]),
  );
  if (owners === undefined) return `${head}\n\n${channels}`;
  if (owners.job === undefined) return `${head}\n\n${channels}\n\nno job in state table ${owners.stateTable} has rows for this tunnel's channels`;
  const workers = formatTable(
    ['WORKER', 'STATE', 'CHANNELS', 'RENEWALS', 'STARTED', 'CLIENTS'],
    owners.workers.map((w) => [workerName(w), `${w.state}${w.judgedBy === undefined ? '' : ` (judged by ${w.judgedBy})`}`, w.held.join(',') || '-', String(w.renewals), iso(new Date(w.started)), w.clients.join(',') || '-']),
  );
  return `${head}\n\n${channels}\n\njob ${owners.job}, state table ${owners.stateTable}: ${owners.workers.length} worker${owners.workers.length === 1 ? '' : 's'}\n${workers}`;
}

// ---- actions ------------------------------------------------------------------------------

interface TunnelRefFlags {
  readonly id?: string;
  readonly table?: string;
  readonly name?: string;
}

type ByName = { readonly tableName: string; readonly tunnelName: string; readonly tunnelId?: string };

const nonEmpty = (flag: string, value: string | undefined): string | undefined => {
  if (value !== undefined && value.trim() === '') throw new UsageError(`${flag} must not be empty`);
  return value;
};

/** `--id`, or `--table` with `--name`: checked before anything is sent. */
function tunnelRef(flags: TunnelRefFlags): { readonly kind: 'id'; readonly tunnelId: string } | { readonly kind: 'name'; readonly tableName: string; readonly tunnelName: string } {
  const id = nonEmpty('--id', flags.id);
  const table = nonEmpty('--table', flags.table);
  const name = nonEmpty('--name', flags.name);
  if (id !== undefined && (table !== undefined || name !== undefined)) throw new UsageError('give either --id, or --table and --name, not both');
  if (id !== undefined) return { kind: 'id', tunnelId: id };
  if (table === undefined && name === undefined) throw new UsageError('give --id, or --table and --name');
  if (table === undefined) throw new UsageError('--name needs --table');
  if (name === undefined) throw new UsageError('--table needs --name');
  return { kind: 'name', tableName: table, tunnelName: name };
}

/** Describe and delete address a tunnel by table and name; an id is looked up in the instance's list. */
async function resolveRef(flags: TunnelRefFlags, control: TunnelControl, connection: Connection, context: CommandContext): Promise<ByName> {
  const ref = tunnelRef(flags);
  if (ref.kind === 'name') return ref;
  const listed = await control.listTunnels();
  if (E.isLeft(listed)) throw connection.failure(listed.left, `cannot look up tunnel ${ref.tunnelId}`);
  const found = listed.right.find((t) => t.tunnelId === ref.tunnelId);
  if (found === undefined) throw new CliError(`no tunnel with id ${ref.tunnelId} on instance ${connection.instanceName}`);
  context.log.debug('tunnel id resolved', { tunnelId: ref.tunnelId, table: found.tableName, name: found.tunnelName });
  return { tableName: found.tableName, tunnelName: found.tunnelName, tunnelId: found.tunnelId };
}

export interface CreateFlags extends ConnectionFlags {
  readonly table: string;
  readonly name: string;
  readonly type: TunnelType;
  readonly start: StartPosition;
  readonly end?: Date;
}

export function streamStartOf(flags: Pick<CreateFlags, 'type' | 'start' | 'end'>, startGiven: boolean): StreamStart | undefined {
  if (flags.type === 'BaseData') {
    const extra = [...(startGiven ? ['--start'] : []), ...(flags.end === undefined ? [] : ['--end'])];
    if (extra.length > 0) throw new UsageError(`${extra.join(' and ')} ${extra.length === 1 ? 'applies' : 'apply'} to Stream and BaseAndStream tunnels, not BaseData`);
    return undefined;
  }
  const startTime = flags.start.kind === 'time' ? flags.start.time : undefined;
  if (flags.end !== undefined && startTime !== undefined && flags.end.getTime() < startTime.getTime()) {
    throw new UsageError(`--end ${flags.end.toISOString()} is before --start ${startTime.toISOString()}`);
  }
  return {
    ...(flags.start.kind === 'flag' ? { flag: flags.start.flag } : { startTime: flags.start.time }),
    ...(flags.end === undefined ? {} : { endTime: flags.end }),
  };
}

const startText = (stream: StreamStart | undefined): string =>
  stream === undefined
    ? ''
    : `, from ${stream.startTime === undefined ? (stream.flag ?? 'LATEST').toLowerCase() : stream.startTime.toISOString()}${stream.endTime === undefined ? '' : ` to ${stream.endTime.toISOString()}`}`;

export async function runCreate(flags: CreateFlags, context: CommandContext): Promise<void> {
  const tableName = nonEmpty('--table', flags.table) as string;
  const tunnelName = nonEmpty('--name', flags.name) as string;
  const startGiven = context.command.getOptionValueSource('start') === 'cli';
  const stream = streamStartOf(flags, startGiven);
  await withConnection(flags, context, async (connection) => {
    const created = await connection.tunnelControl().createTunnel({ tableName, tunnelName, tunnelType: flags.type, ...(stream === undefined ? {} : { stream }) });
    if (E.isLeft(created)) throw connection.failure(created.left, `cannot create tunnel '${tunnelName}' on table '${tableName}'`);
    context.out(created.right.tunnelId);
    context.log.info(`created ${flags.type} tunnel '${tunnelName}' on table '${tableName}'${startText(stream)}: ${created.right.tunnelId}`, {
      tunnelId: created.right.tunnelId,
      table: tableName,
      name: tunnelName,
      type: flags.type,
    });
  });
}

export interface ListFlags extends ConnectionFlags {
  readonly table?: string;
  readonly json?: boolean;
}

export async function runList(flags: ListFlags, context: CommandContext): Promise<void> {
  const table = nonEmpty('--table', flags.table);
  await withConnection(flags, context, async (connection) => {
    const listed = await connection.tunnelControl().listTunnels(table);
    if (E.isLeft(listed)) throw connection.failure(listed.left, table === undefined ? 'cannot list tunnels' : `cannot list the tunnels of table '${table}'`);
    const tunnels = listed.right;
    if (flags.json === true) context.out(toJson(tunnels));
    else if (tunnels.length > 0) context.out(formatTunnelList(tunnels));
    context.log.info(`${tunnels.length} tunnel${tunnels.length === 1 ? '' : 's'}${table === undefined ? '' : ` on table '${table}'`}`, { count: tunnels.length });
  });
}

export interface DescribeFlags extends ConnectionFlags, TunnelRefFlags {
  readonly json?: boolean;
  /** the `checkpoint.table` of the job that reads the tunnel: which worker holds each channel */
  readonly stateTable?: string;
}

export async function runDescribe(flags: DescribeFlags, context: CommandContext): Promise<void> {
  tunnelRef(flags);
  await withConnection(flags, context, async (connection) => {
    const control = connection.tunnelControl();
    const ref = await resolveRef(flags, control, connection, context);
    const described = await control.describeTunnel(ref.tableName, ref.tunnelName);
    if (E.isLeft(described)) throw connection.failure(described.left, `cannot describe tunnel '${ref.tunnelName}' of table '${ref.tableName}'`);
    const stateTable = nonEmpty('--state-table', flags.stateTable);
    let owners: TunnelOwners | undefined;
    if (stateTable !== undefined) {
      const jobs = await readJobRows({ endpoint: connection.endpoint, instanceName: connection.instanceName, ...connection.credentials }, stateTable).catch((error: unknown) => {
        throw connection.failure(error, `cannot read the state table '${stateTable}'`);
      });
      owners = tunnelOwners(described.right, stateTable, jobs);
    }
    if (flags.json === true) {
      context.out(
        toJson(
          owners === undefined
            ? described.right
            : {
                ...described.right,
                channels: described.right.channels.map((channel) => ({ ...channel, worker: owners.byChannel.get(channel.channelId) ?? null })),
                job: owners.job ?? null,
                workers: owners.workers,
              },
        ),
      );
    } else context.out(formatTunnelDescription(described.right, Date.now(), owners));
  });
}

export interface DeleteFlags extends ConnectionFlags, TunnelRefFlags {}

export async function runDelete(flags: DeleteFlags, context: CommandContext): Promise<void> {
  tunnelRef(flags);
  await withConnection(flags, context, async (connection) => {
    const control = connection.tunnelControl();
    const ref = await resolveRef(flags, control, connection, context);
    const deleted = await control.deleteTunnel(ref.tableName, ref.tunnelName);
    if (E.isLeft(deleted)) throw connection.failure(deleted.left, `cannot delete tunnel '${ref.tunnelName}' of table '${ref.tableName}'`);
    context.log.info(`deleted tunnel '${ref.tunnelName}' of table '${ref.tableName}'${ref.tunnelId === undefined ? '' : ` (${ref.tunnelId})`}`, {
      table: ref.tableName,
      name: ref.tunnelName,
      ...(ref.tunnelId === undefined ? {} : { tunnelId: ref.tunnelId }),
    });
  });
}

// ---- registration -------------------------------------------------------------------------

const EXIT_CODES_HELP = `
Exit codes: 0 done; 1 the call failed (refused by the service, endpoint unreachable, no such
tunnel); 2 the command line is wrong (missing or invalid flags; nothing was sent).`;

const refOptions = (command: Command): Command =>
  command
    .option('--id <tunnelId>', 'the tunnel by id (looked up in the instance)')
    .option('--table <name>', 'the table of the tunnel (with --name)')
    .option('--name <tunnelName>', 'the tunnel name (with --table)');

export function registerTunnelCommand(program: Command): Command {
  const tunnel = program
    .command('tunnel')
    .description('create, list, describe and delete Tablestore tunnels (change data capture)')
    .addHelpText('after', EXIT_CODES_HELP);

  addConnectionOptions(
    tunnel
      .command('create')
      .description('create a tunnel on a table; prints the new tunnel id on stdout')
      .requiredOption('--table <name>', 'the table to capture')
      .requiredOption('--name <tunnelName>', 'the tunnel name (unique per table)')
      .addOption(new Option('--type <type>', `${TUNNEL_TYPES.join(' | ')} (case-insensitive)`).argParser(parseTunnelType).default('BaseAndStream'))
      .addOption(new Option('--start <when>', 'where the stream starts: latest | earliest | ISO time with a zone (Stream, BaseAndStream)').argParser(parseStart).default({ kind: 'flag', flag: 'LATEST' }, 'latest'))
      .addOption(new Option('--end <time>', 'where the stream ends: ISO time with a zone (Stream, BaseAndStream)').argParser(parseTime)),
  )
    .addHelpText('after', `\nExample:\n  id=$(otsflow tunnel create --endpoint https://myinst.cn-hangzhou.ots.aliyuncs.com --table orders --name orders-cdc --type Stream)\n${EXIT_CODES_HELP}`)
    .action(commandAction<CreateFlags>((flags, context) => runCreate(flags, context)));

  addConnectionOptions(
    tunnel
      .command('list')
      .description('list the tunnels of the instance, or of one table')
      .option('--table <name>', 'only the tunnels of this table')
      .option('--json', 'print a JSON array (bigints as strings, times as ISO strings)'),
  )
    .addHelpText('after', EXIT_CODES_HELP)
    .action(commandAction<ListFlags>((flags, context) => runList(flags, context)));

  addConnectionOptions(
    refOptions(tunnel.command('describe').description('show a tunnel and its channels (status, client, RPO time, records), by --id or --table and --name'))
      .option('--json', 'print a JSON document (bigints as strings, times as ISO strings)')
      .option('--state-table <name>', "the checkpoint.table of a job that reads this tunnel on many workers: show which worker (host, pid) holds each channel, and the job's workers"),
  )
    .addHelpText('after', EXIT_CODES_HELP)
    .action(commandAction<DescribeFlags>((flags, context) => runDescribe(flags, context)));

  addConnectionOptions(refOptions(tunnel.command('delete').description('delete a tunnel, by --table and --name or by --id')))
    .addHelpText('after', EXIT_CODES_HELP)
    .action(commandAction<DeleteFlags>((flags, context) => runDelete(flags, context)));

  return tunnel;
}
