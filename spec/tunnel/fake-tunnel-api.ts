/**
 * A scripted TunnelDataApi for virtual-time tests: every reply comes `latency` frames after the
 * request on the given scheduler, and every request is logged with its virtual time.
 */
import { NEVER, Observable, throwError, timer } from 'rxjs';
import { map, mergeMap } from 'rxjs/operators';
import type { SchedulerLike } from 'rxjs';
import { encodeRow } from '../../lib/wire/plainbuffer/index.js';
import type { ChannelState, CheckpointPosition, RawRecord, ReadRecordsResult, TunnelDataApi } from '../../lib/tunnel/model.js';

export type Reply<T> = { readonly value: T; readonly delay?: number } | { readonly error: unknown; readonly delay?: number } | 'hang';

export interface LoggedCall {
  readonly at: number;
  readonly call: 'connect' | 'heartbeat' | 'shutdown' | 'getCheckpoint' | 'readRecords' | 'checkpoint';
  readonly request: Record<string, unknown>;
}

type Handler<Req, Res> = (request: Req, index: number) => Reply<Res>;
type Req<K extends keyof TunnelDataApi> = Parameters<TunnelDataApi[K]>[0];
type Res<K extends keyof TunnelDataApi> = ReturnType<TunnelDataApi[K]> extends Observable<infer T> ? T : never;

export type FakeHandlers = { [K in keyof TunnelDataApi]: Handler<Req<K>, Res<K>> };

export const serviceError = (code: string, httpStatus = 400): Error =>
  Object.assign(new Error(`${code} (fake)`), { code, httpStatus });

export class FakeTunnelApi implements TunnelDataApi {
  readonly log: LoggedCall[] = [];
  private readonly counts = new Map<string, number>();
  readonly handlers: FakeHandlers;

  constructor(
    private readonly scheduler: SchedulerLike,
    handlers: Partial<FakeHandlers> = {},
    private readonly latency = 1,
  ) {
    this.handlers = {
      connect: (_request, index) => ({ value: { clientId: `client-${index + 1}` } }),
      heartbeat: () => ({ value: [] }),
      shutdown: () => ({ value: undefined }),
      getCheckpoint: (request) => ({ value: { checkpoint: `${request.channelId}@0`, sequenceNumber: 0n } }),
      readRecords: () => ({ value: { records: [], nextToken: 'finished', byteSize: 0 } }),
      checkpoint: () => ({ value: undefined }),
      ...handlers,
    };
  }

  calls(call: LoggedCall['call']): LoggedCall[] {
    return this.log.filter((entry) => entry.call === call);
  }

  private reply<K extends keyof TunnelDataApi>(call: K, request: Req<K>): Observable<Res<K>> {
    return new Observable<Res<K>>((subscriber) => {
      const index = this.counts.get(call) ?? 0;
      this.counts.set(call, index + 1);
      this.log.push({ at: this.scheduler.now(), call, request: request as unknown as Record<string, unknown> });
      const handler = this.handlers[call] as Handler<Req<K>, Res<K>>;
      const reply = handler(request, index);
      if (reply === 'hang') return NEVER.subscribe(subscriber);
      const delay = reply.delay ?? this.latency;
      const source =
        'error' in reply
          ? timer(delay, this.scheduler).pipe(mergeMap(() => throwError(() => reply.error)))
          : timer(delay, this.scheduler).pipe(map(() => reply.value));
      return source.subscribe(subscriber);
    });
  }

  connect(request: Req<'connect'>) {
    return this.reply('connect', request);
  }
  heartbeat(request: Req<'heartbeat'>) {
    return this.reply('heartbeat', request);
  }
  shutdown(request: Req<'shutdown'>) {
    return this.reply('shutdown', request);
  }
  getCheckpoint(request: Req<'getCheckpoint'>) {
    return this.reply('getCheckpoint', request);
  }
  readRecords(request: Req<'readRecords'>) {
    return this.reply('readRecords', request);
  }
  checkpoint(request: Req<'checkpoint'>) {
    return this.reply('checkpoint', request);
  }
}

export const ch = (channelId: string, version: number, status: ChannelState['status']): ChannelState => ({ channelId, version: BigInt(version), status });

/** A PUT_ROW record with primary key `id` = n and one column. */
export function putRecord(id: number, value = `v${id}`): RawRecord {
  return {
    action: 'PUT_ROW',
    record: encodeRow({ primaryKey: [{ name: 'id', value: BigInt(id) }], cells: [{ op: 'put', name: 'col', value, timestamp: 1000 }], deleteMarker: false }),
  };
}

/**
 * Base-data pages for a channel: token `<channel>@k` reads page k; the last page's next token is
 * `finished`. Page k holds `perPage` records with ids k·perPage … .
 */
export function pagedChannel(pages: number, perPage: number): (request: Req<'readRecords'>) => Reply<ReadRecordsResult> {
  return (request) => {
    const page = Number(request.token.split('@')[1]);
    const records = Array.from({ length: perPage }, (_, i) => putRecord(page * perPage + i));
    const nextToken = page + 1 >= pages ? 'finished' : `${request.channelId}@${page + 1}`;
    return { value: { records, nextToken, byteSize: records.reduce((n, r) => n + r.record.length, 0) } };
  };
}

export const position = (checkpoint: string, sequenceNumber: number): CheckpointPosition => ({ checkpoint, sequenceNumber: BigInt(sequenceNumber) });
