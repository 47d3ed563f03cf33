/**
 * The worker's state machine in virtual time against a scripted tunnel API. Every call has a
 * latency of 1 frame (1 ms); heartbeats every 100 ms, timeout 350 ms.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { catchError, map, take, tap } from 'rxjs/operators';
import { of } from 'rxjs';
import { encodeTokenString } from '../../lib/wire/tunnel-messages.js';
import { TestScheduler } from 'rxjs/testing';
import { tunnelWorker } from '../../lib/tunnel/worker.js';
import { workerSettings } from '../../lib/tunnel/options.js';
import type { WorkerSettings } from '../../lib/tunnel/options.js';
import type { ChannelBatch, TunnelEvent } from '../../lib/tunnel/model.js';
import { TunnelFatalError } from '../../lib/tunnel/errors.js';
import { ch, FakeTunnelApi, pagedChannel, position, putRecord, serviceError } from './fake-tunnel-api.js';
import type { FakeHandlers } from './fake-tunnel-api.js';

const settings = (overrides: Partial<WorkerSettings> = {}): WorkerSettings =>
  workerSettings({
    heartbeatIntervalMs: 100,
    heartbeatTimeoutMs: 350,
    maxInFlightBatchesPerChannel: 2,
    requestRetry: { initialMs: 10, multiplier: 2, jitter: 0, maxMs: 40, maxElapsedMs: 100 },
    reconnectBackoff: { initialMs: 50, multiplier: 2, jitter: 0, maxMs: 200 },
    readBackoff: { initialMs: 20, multiplier: 5, jitter: 0, maxMs: 500 },
    clientTag: 'spec',
    ...overrides,
  });

interface Harness {
  readonly scheduler: TestScheduler;
  readonly api: FakeTunnelApi;
  readonly events: TunnelEvent[];
  /** heartbeat requests as `channel:version:status` lists, with their times */
  heartbeats(): Array<{ at: number; channels: string[] }>;
}

function harness(handlers: Partial<FakeHandlers>): Harness {
  const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  const api = new FakeTunnelApi(scheduler, handlers);
  const events: TunnelEvent[] = [];
  return {
    scheduler,
    api,
    events,
    heartbeats: () =>
      api.calls('heartbeat').map((call) => ({
        at: call.at,
        channels: (call.request['channels'] as Array<{ channelId: string; version: bigint; status: string }>).map((c) => `${c.channelId}:${c.version}:${c.status}`),
      })),
  };
}

function worker(h: Harness, overrides: Partial<WorkerSettings> = {}) {
  return tunnelWorker({ api: h.api, tunnelId: 'tunnel-1', settings: settings(overrides), scheduler: h.scheduler, random: () => 0.5, onEvent: (e) => h.events.push(e) });
}

/** A subscriber that commits every batch at once; batches shown as `channel:firstId+count`. */
const committing = (b: ChannelBatch) => {
  void b.commit();
};
const show = (b: ChannelBatch): string => `${b.channelId}:${b.records.length}${b.finished ? '!' : ''}`;

/** A stream token as the service writes it: base64 Token{version 2, content{iterator}}. */
const streamToken = (iterator: string): string => encodeTokenString({ version: 2n, content: { iterator } });

const reads = (h: Harness, channelId?: string): Array<[number, string]> =>
  h.api
    .calls('readRecords')
    .filter((c) => channelId === undefined || c.request['channelId'] === channelId)
    .map((c) => [c.at, c.request['token'] as string]);
const checkpoints = (h: Harness): Array<[number, string, string, bigint]> =>
  h.api.calls('checkpoint').map((c) => [c.at, c.request['channelId'] as string, c.request['checkpoint'] as string, c.request['sequenceNumber'] as bigint]);

describe('tunnel worker — channel assignment', () => {
  it('connects, heartbeats at once, opens the assigned channel, reads and checkpoints each committed batch', () => {
    const h = harness({
      heartbeat: () => ({ value: [ch('c1', 1, 'OPEN')] }),
      readRecords: pagedChannel(3, 2),
    });
    h.scheduler.run(({ expectObservable }) => {
      // connect 0→1, heartbeat 1→2, getCheckpoint 2→3, reads 3→4, 4→5, 5→6
      expectObservable(worker(h).pipe(tap(committing), map(show)), '^ 250ms !').toBe('4ms a b c', { a: 'c1:2', b: 'c1:2', c: 'c1:2!' });
    });
    expect(h.api.calls('connect')[0]?.request).toEqual({ tunnelId: 'tunnel-1', timeoutSeconds: 1, clientTag: 'spec' });
    expect(h.api.calls('getCheckpoint').map((c) => [c.at, c.request['channelId']])).toEqual([[2, 'c1']]);
    expect(reads(h)).toEqual([
      [3, 'c1@0'],
      [4, 'c1@1'],
      [5, 'c1@2'],
    ]);
    // seq starts at GetCheckpoint's 0 + 1 and grows by one per call; `finished` is checkpointed too
    expect(checkpoints(h)).toEqual([
      [4, 'c1', 'c1@1', 1n],
      [5, 'c1', 'c1@2', 2n],
      [6, 'c1', 'finished', 3n],
    ]);
    // first heartbeat at once with no channels, then every 100 ms; the finished channel is reported TERMINATED v+1
    expect(h.heartbeats()).toEqual([
      { at: 1, channels: [] },
      { at: 101, channels: ['c1:2:TERMINATED'] },
      { at: 201, channels: ['c1:2:TERMINATED'] },
    ]);
  });

  it('beforeFirstHeartbeat: the first heartbeat waits until the client id is recorded; heartbeatNow adds a heartbeat between intervals', () => {
    const h = harness({ heartbeat: () => ({ value: [] }) });
    const recorded: Array<[number, string]> = [];
    h.scheduler.run(({ hot }) => {
      // recording takes 50 ms (a write to a state table): a thenable settled by the scheduler
      const beforeFirstHeartbeat = (clientId: string): PromiseLike<void> => ({
        then: <A, B>(done?: ((value: void) => A | PromiseLike<A>) | null) => {
          h.scheduler.schedule(() => {
            recorded.push([h.scheduler.now(), clientId]);
            done?.(undefined);
          }, 50);
          return undefined as unknown as PromiseLike<A | B>;
        },
      });
      // a heartbeat asked for at 30 ms (before the first: ignored) and at 120 ms
      const heartbeatNow = hot('30ms a 89ms b');
      const running = worker(h, { beforeFirstHeartbeat, heartbeatNow }).subscribe();
      h.scheduler.schedule(() => running.unsubscribe(), 260);
    });
    // connect answers at 1; recorded at 51; heartbeats sent at once (51), when asked (120), every 100 ms from 51
    expect(recorded).toEqual([[51, 'client-1']]);
    expect(h.heartbeats().map((beat) => beat.at)).toEqual([51, 120, 151, 251]);
  });

  it('delivers decoded records with the token they were read from and the token to commit', () => {
    const h = harness({ heartbeat: () => ({ value: [ch('c1', 1, 'OPEN')] }), readRecords: pagedChannel(2, 2) });
    const batches: ChannelBatch[] = [];
    h.scheduler.run(({ expectObservable }) => {
      expectObservable(worker(h).pipe(tap((b) => batches.push(b)), tap(committing), map(show)), '^ 20ms !').toBe('4ms a b', { a: 'c1:2', b: 'c1:2!' });
    });
    expect(batches.map((b) => [b.fromToken, b.nextToken, b.clientId, b.stream, b.finished])).toEqual([
      ['c1@0', 'c1@1', 'client-1', false, false],
      ['c1@1', 'finished', 'client-1', false, true],
    ]);
    expect(batches[1]?.records).toEqual([
      { action: 'PUT_ROW', primaryKey: [{ name: 'id', value: 2n }], cells: [{ op: 'put', name: 'col', value: 'v2', timestamp: 1000 }] },
      { action: 'PUT_ROW', primaryKey: [{ name: 'id', value: 3n }], cells: [{ op: 'put', name: 'col', value: 'v3', timestamp: 1000 }] },
    ]);
  });

  it('empty reads are not delivered; the next batch starts where they began, so fromToken chains to the previous nextToken', () => {
    const h = harness({
      heartbeat: () => ({ value: [ch('c1', 1, 'OPEN')] }),
      readRecords: (request) => {
        const page = Number(request.token.split('@')[1]);
        // pages 1 and 2 are empty, 3 is the last one
        const records = page === 1 || page === 2 ? [] : [putRecord(page)];
        return { value: { records, nextToken: page === 3 ? 'finished' : `c1@${page + 1}`, byteSize: 0 } };
      },
    });
    const batches: ChannelBatch[] = [];
    h.scheduler.run(({ expectObservable }) => {
      expectObservable(worker(h).pipe(tap((b) => batches.push(b)), tap(committing), map(show)), '^ 20ms !').toBe('4ms a 2ms b', { a: 'c1:1', b: 'c1:1!' });
    });
    expect(batches.map((b) => [b.fromToken, b.nextToken])).toEqual([
      ['c1@0', 'c1@1'],
      ['c1@1', 'finished'],
    ]);
    // the empty reads' tokens are checkpointed in order, coalesced while a call runs
    expect(checkpoints(h).map(([at, , token, seq]) => [at, token, seq])).toEqual([
      [4, 'c1@1', 1n],
      [5, 'c1@2', 2n],
      [6, 'c1@3', 3n],
      [7, 'finished', 4n],
    ]);
  });

  it('a channel whose checkpoint is already `finished` is not read and reports TERMINATED', () => {
    const h = harness({
      heartbeat: () => ({ value: [ch('b1', 4, 'OPEN')] }),
      getCheckpoint: () => ({ value: position('finished', 9) }),
    });
    h.scheduler.run(({ expectObservable }) => {
      expectObservable(worker(h), '^ 150ms !').toBe('');
    });
    expect(reads(h)).toEqual([]);
    expect(checkpoints(h)).toEqual([]);
    expect(h.heartbeats()[1]).toEqual({ at: 101, channels: ['b1:5:TERMINATED'] });
  });

  it('starts a channel at a given start token instead of the service checkpoint, keeping the service sequence', () => {
    const h = harness({
      heartbeat: () => ({ value: [ch('c1', 1, 'OPEN')] }),
      getCheckpoint: () => ({ value: position('c1@0', 4) }),
      readRecords: pagedChannel(3, 1),
    });
    h.scheduler.run(({ expectObservable }) => {
      expectObservable(worker(h, { startTokens: { c1: 'c1@2' } }).pipe(tap(committing), map(show)), '^ 20ms !').toBe('4ms a', { a: 'c1:1!' });
    });
    expect(reads(h)).toEqual([[3, 'c1@2']]);
    expect(checkpoints(h)).toEqual([[4, 'c1', 'finished', 5n]]);
  });
});

describe('tunnel worker — rebalancing and version rules', () => {
  /** slow reads (30 ms) of endless one-record pages */
  const endless = (request: { channelId: string; token: string }) => {
    const page = Number(request.token.split('@')[1]);
    return { value: { records: [putRecordFor(page)], nextToken: `${request.channelId}@${page + 1}`, byteSize: 10 }, delay: 30 };
  };

  it('CLOSING: the channel stops reading, commits what was acknowledged, reports CLOSE v+1 on the next heartbeat', () => {
    const h = harness({
      heartbeat: (request, index) => {
        const reported = request.channels.find((c) => c.channelId === 'c2');
        if (index === 0) return { value: [ch('c1', 1, 'OPEN'), ch('c2', 1, 'OPEN')] };
        if (reported?.status === 'CLOSE') return { value: [ch('c1', 1, 'OPEN')] };
        return { value: [ch('c1', 1, 'OPEN'), ch('c2', 2, 'CLOSING')] };
      },
      readRecords: endless,
    });
    h.scheduler.run(({ expectObservable }) => {
      // both channels deliver at 33, 63, 93; c2 is told CLOSING at 102 and its read in flight (93→123) is dropped
      expectObservable(worker(h).pipe(tap(committing), map(show)), '^ 210ms !').toBe('33ms (ab) 26ms (ab) 26ms (ab) 26ms a 29ms a 29ms a', { a: 'c1:1', b: 'c2:1' });
    });
    expect(reads(h, 'c2').map(([at]) => at)).toEqual([3, 33, 63, 93]);
    expect(checkpoints(h).filter((c) => c[1] === 'c2')).toEqual([
      [33, 'c2', 'c2@1', 1n],
      [63, 'c2', 'c2@2', 2n],
      [93, 'c2', 'c2@3', 3n],
    ]);
    expect(h.heartbeats()).toEqual([
      { at: 1, channels: [] },
      { at: 101, channels: ['c1:1:OPEN', 'c2:1:OPEN'] },
      { at: 201, channels: ['c1:1:OPEN', 'c2:3:CLOSE'] },
    ]);
    expect(h.events).toContainEqual({ kind: 'channel-closed', channelId: 'c2', reason: 'closing' });
  });

  it('CLOSING waits for unacknowledged batches up to the drain timeout, then reports CLOSE', () => {
    const h = harness({
      heartbeat: (_request, index) => ({ value: index === 0 ? [ch('c1', 1, 'OPEN')] : [ch('c1', 2, 'CLOSING')] }),
      readRecords: endless,
    });
    const held: ChannelBatch[] = [];
    h.scheduler.run(({ expectObservable }) => {
      // nothing is committed until 150: c1 holds two batches (33, 63) and stops reading
      h.scheduler.schedule(() => void held[0]?.commit(), 150);
      expectObservable(worker(h, { closingDrainTimeoutMs: 80 }).pipe(tap((b) => held.push(b)), map(show)), '^ 300ms !').toBe('33ms a 29ms a', { a: 'c1:1' });
    });
    expect(reads(h).map(([at]) => at)).toEqual([3, 33]);
    // the first batch is committed while draining (150); the second never is: CLOSE at the deadline 102 + 80
    expect(checkpoints(h)).toEqual([[150, 'c1', 'c1@1', 1n]]);
    expect(h.heartbeats().map((b) => b.channels)).toEqual([[], ['c1:1:OPEN'], ['c1:3:CLOSE']]);
  });

  it('a stale status (version lower than the local one) is ignored', () => {
    const h = harness({
      heartbeat: (_request, index) => ({ value: index === 0 ? [ch('c1', 5, 'OPEN')] : [ch('c1', 4, 'CLOSING')] }),
      readRecords: endless,
    });
    h.scheduler.run(({ expectObservable }) => {
      expectObservable(worker(h).pipe(tap(committing), map(show)), '^ 230ms !').toBe('33ms a 29ms a 29ms a 29ms a 29ms a 29ms a 29ms a', { a: 'c1:1' });
    });
    expect(h.heartbeats().map((b) => b.channels)).toEqual([[], ['c1:5:OPEN'], ['c1:5:OPEN']]);
    expect(h.events.some((e) => e.kind === 'channel-closed' && e.reason !== 'stopped')).toBe(false);
  });

  it('GetCheckpoint failure: the channel is not read and reports CLOSE v+1', () => {
    const h = harness({
      heartbeat: (_request, index) => ({ value: index === 0 ? [ch('c1', 3, 'OPEN')] : [] }),
      getCheckpoint: () => ({ error: serviceError('OTSParameterInvalid') }),
    });
    h.scheduler.run(({ expectObservable }) => {
      expectObservable(worker(h), '^ 250ms !').toBe('');
    });
    expect(reads(h)).toEqual([]);
    expect(h.heartbeats().map((b) => b.channels)).toEqual([[], ['c1:4:CLOSE'], []]);
  });

  it('a channel missing from the response is closed without a report; server CLOSE closes without a report', () => {
    const h = harness({
      heartbeat: (_request, index) => ({ value: index === 0 ? [ch('c1', 1, 'OPEN'), ch('c2', 1, 'OPEN')] : [ch('c2', 2, 'CLOSE')] }),
      readRecords: endless,
    });
    h.scheduler.run(({ expectObservable }) => {
      expectObservable(worker(h).pipe(tap(committing), map(show)), '^ 250ms !').toBe('33ms (ab) 26ms (ab) 26ms (ab)', { a: 'c1:1', b: 'c2:1' });
    });
    expect(h.heartbeats().map((b) => b.channels)).toEqual([[], ['c1:1:OPEN', 'c2:1:OPEN'], ['c2:2:CLOSE']]);
    expect(h.events.filter((e) => e.kind === 'channel-closed').map((e) => (e.kind === 'channel-closed' ? [e.channelId, e.reason] : []))).toEqual([
      ['c1', 'revoked'],
      ['c2', 'closing'],
    ]);
  });
});

describe('tunnel worker — sessions and errors', () => {
  it('heartbeat timeout: the session is dropped and a new client connects and takes the channels again', () => {
    const h = harness({
      heartbeat: (request, index) =>
        request.clientId === 'client-1' ? (index === 0 ? { value: [ch('c1', 1, 'OPEN')] } : 'hang') : { value: [ch('c1', 3, 'OPEN')] },
      readRecords: (request) => ({ value: { records: [putRecordFor(Number(request.token.split('@')[1]))], nextToken: 'c1@1', byteSize: 10 }, delay: 1 }),
      getCheckpoint: (request) => ({ value: position('c1@0', request.clientId === 'client-1' ? 0 : 1) }),
    });
    const clients: string[] = [];
    h.scheduler.run(({ expectObservable }) => {
      // client-1 reads one batch and holds it (never committed, in-flight bound 1); heartbeats hang from 101;
      // at 401 the last success (2) is older than 350 ms → reconnect after 50 ms → client-2 at 451
      expectObservable(
        worker(h, { maxInFlightBatchesPerChannel: 1 }).pipe(
          tap((b) => clients.push(b.clientId)),
          map(show),
        ),
        '^ 500ms !',
      ).toBe('4ms a 450ms a', { a: 'c1:1' });
    });
    expect(clients).toEqual(['client-1', 'client-2']);
    expect(h.api.calls('connect').map((c) => c.at)).toEqual([0, 451]);
    expect(h.events).toContainEqual({ kind: 'client-lost', clientId: 'client-1', reason: 'heartbeat-timeout' });
  });

  it('OTSResourceGone from a heartbeat reconnects as a new client', () => {
    const h = harness({
      heartbeat: (request, index) => (request.clientId === 'client-1' && index === 1 ? { error: serviceError('OTSResourceGone', 410) } : { value: [] }),
    });
    h.scheduler.run(({ expectObservable }) => {
      expectObservable(worker(h), '^ 300ms !').toBe('');
    });
    expect(h.api.calls('connect').map((c) => c.at)).toEqual([0, 152]);
    expect(h.api.calls('heartbeat').map((c) => [c.at, c.request['clientId']])).toEqual([
      [1, 'client-1'],
      [101, 'client-1'],
      [153, 'client-2'],
      [253, 'client-2'],
    ]);
  });

  it('a fatal code ends the Observable with a TunnelFatalError', () => {
    const h = harness({
      heartbeat: (_request, index) => (index === 2 ? { error: serviceError('OTSTunnelExpired') } : { value: [ch('c1', 1, 'OPEN')] }),
      readRecords: () => 'hang',
    });
    h.scheduler.run(({ expectObservable }) => {
      const failure = worker(h).pipe(
        map(show),
        catchError((error: unknown) => of(error instanceof TunnelFatalError ? `${error.code}@${error.call}` : 'other')),
      );
      expectObservable(failure).toBe('202ms (e|)', { e: 'OTSTunnelExpired@heartbeat' });
    });
    expect(h.api.calls('shutdown')).toEqual([]);
  });

  it('a fatal code from connect ends the Observable before any heartbeat', () => {
    const h = harness({ connect: () => ({ error: serviceError('OTSParameterInvalid') }) });
    h.scheduler.run(({ expectObservable }) => {
      expectObservable(worker(h).pipe(map(show), catchError((error: TunnelFatalError) => of(error.code)))).toBe('1ms (e|)', { e: 'OTSParameterInvalid' });
    });
    expect(h.api.calls('heartbeat')).toEqual([]);
  });

  it('transient failures (503) are retried with backoff; the records arrive once', () => {
    const h = harness({
      heartbeat: () => ({ value: [ch('c1', 1, 'OPEN')] }),
      readRecords: (request, index) => (index < 2 ? { error: serviceError('OTSTunnelServerUnavailable', 503) } : pagedChannel(1, 3)(request)),
    });
    h.scheduler.run(({ expectObservable }) => {
      // attempts at 3, 14 (after 10 ms), 35 (after 20 ms); the answer at 36
      expectObservable(worker(h).pipe(tap(committing), map(show)), '^ 50ms !').toBe('36ms a', { a: 'c1:3!' });
    });
    expect(reads(h).map(([at]) => at)).toEqual([3, 14, 35]);
    expect(h.events.filter((e) => e.kind === 'request-retry').map((e) => (e.kind === 'request-retry' ? [e.call, e.attempt, e.delayMs] : []))).toEqual([
      ['readRecords', 1, 10],
      ['readRecords', 2, 20],
    ]);
  });

  it('a read that keeps failing closes the channel (CLOSE reported) without ending the Observable', () => {
    const h = harness({
      heartbeat: (_request, index) => ({ value: index === 0 ? [ch('c1', 1, 'OPEN')] : [] }),
      readRecords: () => ({ error: serviceError('OTSClientError', 400) }),
    });
    h.scheduler.run(({ expectObservable }) => {
      expectObservable(worker(h), '^ 250ms !').toBe('');
    });
    expect(reads(h)).toEqual([[3, 'c1@0']]);
    expect(h.heartbeats().map((b) => b.channels)).toEqual([[], ['c1:2:CLOSE'], []]);
  });

  it('a batch that does not decode is not delivered: decode-error event, the channel closes and reports CLOSE', () => {
    const corrupt = putRecordFor(1);
    const bytes = Uint8Array.from(corrupt.record);
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 0xff; // row CRC
    const h = harness({
      heartbeat: () => ({ value: [ch('c1', 1, 'OPEN')] }),
      readRecords: () => ({ value: { records: [putRecordFor(0), { ...corrupt, record: bytes }], nextToken: 'c1@1', byteSize: 0 } }),
    });
    h.scheduler.run(({ expectObservable }) => {
      expectObservable(worker(h), '^ 150ms !').toBe('');
    });
    const decodeError = h.events.find((e) => e.kind === 'decode-error');
    expect(decodeError).toMatchObject({ kind: 'decode-error', channelId: 'c1', error: { kind: 'RecordDecodeFailure', recordIndex: 1, part: 'record' } });
    expect(h.heartbeats()[1]?.channels).toEqual(['c1:2:CLOSE']);
  });
});

describe('tunnel worker — commits and backpressure', () => {
  it('OTSSequenceNumberNotMatch: re-reads the sequence and resends with server seq + 1', () => {
    const h = harness({
      heartbeat: () => ({ value: [ch('c1', 1, 'OPEN')] }),
      readRecords: pagedChannel(2, 1),
      getCheckpoint: (_request, index) => ({ value: position('c1@0', index === 0 ? 0 : 7) }),
      checkpoint: (_request, index) => (index === 0 ? { error: serviceError('OTSSequenceNumberNotMatch') } : { value: undefined }),
    });
    const outcomes: unknown[] = [];
    h.scheduler.run(({ expectObservable }) => {
      expectObservable(
        worker(h, { maxInFlightBatchesPerChannel: 1 }).pipe(
          tap((b) => void b.commit().then((o) => outcomes.push(o))),
          map(show),
        ),
        '^ 20ms !',
      ).toBe('4ms a b', { a: 'c1:1', b: 'c1:1!' });
    });
    // 4: seq 1 refused → 5: GetCheckpoint says 7 → 6: resent as 8 → 7: the queued `finished` as 9
    expect(checkpoints(h)).toEqual([
      [4, 'c1', 'c1@1', 1n],
      [6, 'c1', 'c1@1', 8n],
      [7, 'c1', 'finished', 9n],
    ]);
    return Promise.resolve().then(() => {
      expect(outcomes).toEqual([
        { kind: 'committed', sequenceNumber: 8n },
        { kind: 'committed', sequenceNumber: 9n },
      ]);
    });
  });

  it('OTSSequenceNumberNotMatch after a lost response: the service already holds the token, nothing is resent', () => {
    const h = harness({
      heartbeat: () => ({ value: [ch('c1', 1, 'OPEN')] }),
      readRecords: pagedChannel(100, 1),
      getCheckpoint: (_request, index) => ({ value: index === 0 ? position('c1@0', 0) : position('c1@1', 1) }),
      checkpoint: (_request, index) => (index === 0 ? { error: serviceError('OTSSequenceNumberNotMatch') } : { value: undefined }),
    });
    const outcomes: unknown[] = [];
    h.scheduler.run(({ expectObservable }) => {
      let first = true;
      const commitFirst = (b: ChannelBatch) => {
        if (first) void b.commit().then((o) => outcomes.push(o));
        first = false;
      };
      expectObservable(worker(h).pipe(tap(commitFirst), map(show)), '^ 20ms !').toBe('4ms a a a', { a: 'c1:1' });
    });
    expect(checkpoints(h)).toEqual([[4, 'c1', 'c1@1', 1n]]);
    return Promise.resolve().then(() => expect(outcomes).toEqual([{ kind: 'committed', sequenceNumber: 1n }]));
  });

  it('OTSSequenceNumberNotMatch because another writer moved the channel: the older token is not resent', () => {
    const h = harness({
      heartbeat: () => ({ value: [ch('c1', 1, 'OPEN')] }),
      readRecords: pagedChannel(100, 1),
      getCheckpoint: (_request, index) => ({ value: index === 0 ? position('c1@0', 0) : position('c1@9', 5) }),
      checkpoint: () => ({ error: serviceError('OTSSequenceNumberNotMatch') }),
    });
    const outcomes: string[] = [];
    h.scheduler.run(({ expectObservable }) => {
      let first = true;
      const commitFirst = (b: ChannelBatch) => {
        if (first) void b.commit().then((o) => outcomes.push(o.kind));
        first = false;
      };
      expectObservable(worker(h).pipe(tap(commitFirst), map(show)), '^ 20ms !').toBe('4ms a a a', { a: 'c1:1' });
    });
    expect(checkpoints(h)).toEqual([[4, 'c1', 'c1@1', 1n]]);
    expect(h.events.filter((e) => e.kind === 'checkpoint-failed')).toHaveLength(1);
    return Promise.resolve().then(() => expect(outcomes).toEqual(['failed']));
  });

  it('reads ahead only while unacknowledged batches are under the bound', () => {
    const h = harness({ heartbeat: () => ({ value: [ch('c1', 1, 'OPEN')] }), readRecords: pagedChannel(100, 1) });
    const held: ChannelBatch[] = [];
    h.scheduler.run(({ expectObservable }) => {
      h.scheduler.schedule(() => void held[0]?.commit(), 50);
      expectObservable(worker(h, { maxInFlightBatchesPerChannel: 2 }).pipe(tap((b) => held.push(b)), map(show)), '^ 90ms !').toBe('4ms a a 45ms a', { a: 'c1:1' });
    });
    expect(reads(h).map(([at]) => at)).toEqual([3, 4, 50]);
  });

  it('commits of a channel apply in order: a later batch committed first waits for the earlier one', () => {
    const h = harness({ heartbeat: () => ({ value: [ch('c1', 1, 'OPEN')] }), readRecords: pagedChannel(100, 1) });
    const held: ChannelBatch[] = [];
    const outcomes: string[] = [];
    h.scheduler.run(({ expectObservable }) => {
      h.scheduler.schedule(() => void held[1]?.commit().then((o) => outcomes.push(`second:${o.kind}`)), 20);
      h.scheduler.schedule(() => void held[0]?.commit().then((o) => outcomes.push(`first:${o.kind}`)), 30);
      expectObservable(worker(h, { maxInFlightBatchesPerChannel: 2 }).pipe(tap((b) => held.push(b)), map(show)), '^ 40ms !').toBe('4ms a a 15ms a 9ms a', { a: 'c1:1' });
    });
    // committing the second batch frees a slot (read at 20) but checkpoints nothing until the first is committed
    // one Checkpoint covering both, written only once the first batch was committed
    expect(checkpoints(h)).toEqual([[30, 'c1', 'c1@2', 1n]]);
    return Promise.resolve().then(() => expect(outcomes.sort()).toEqual(['first:committed', 'second:committed']));
  });

  it('whatever the commit order, checkpoints only advance, and only over fully committed prefixes (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }).chain((pages) =>
          fc.tuple(fc.constant(pages), fc.array(fc.integer({ min: 5, max: 60 }), { minLength: pages, maxLength: pages }), fc.integer({ min: 0, max: 3 })),
        ),
        ([pages, commitTimes, checkpointLatency]) => {
          const h = harness({
            heartbeat: () => ({ value: [ch('c1', 1, 'OPEN')] }),
            readRecords: pagedChannel(pages, 1),
            checkpoint: () => ({ value: undefined, delay: checkpointLatency }),
          });
          const committedAt = new Map<number, number>();
          h.scheduler.run(() => {
            const subscription = worker(h, { maxInFlightBatchesPerChannel: pages }).subscribe((batch) => {
              const page = batch.fromToken === 'c1@0' ? 0 : Number(batch.fromToken.split('@')[1]);
              h.scheduler.schedule(() => {
                committedAt.set(page, h.scheduler.now());
                void batch.commit();
              }, commitTimes[page] as number);
            });
            h.scheduler.schedule(() => subscription.unsubscribe(), 500);
          });
          const sent = checkpoints(h).map(([at, , token]) => ({ at, covered: token === 'finished' ? pages : Number(token.split('@')[1]) }));
          for (let i = 1; i < sent.length; i++) expect((sent[i] as { covered: number }).covered).toBeGreaterThan((sent[i - 1] as { covered: number }).covered);
          for (const { at, covered } of sent) {
            for (let page = 0; page < covered; page++) expect(committedAt.get(page) ?? Infinity).toBeLessThanOrEqual(at);
          }
          // everything was committed before the unsubscribe, so the last checkpoint is `finished`
          expect(sent.at(-1)?.covered).toBe(pages);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('stream channels back off between reads that are not full, and read again at once after a full one', () => {
    const tokens = [0, 1, 2, 3, 4, 5, 6, 7].map((n) => streamToken(`s:0:${n}`));
    const h = harness({
      heartbeat: () => ({ value: [ch('s1', 1, 'OPEN')] }),
      getCheckpoint: () => ({ value: position(tokens[0] as string, 0) }),
      readRecords: (request) => {
        const n = tokens.indexOf(request.token);
        // reads 0..3 are empty; read 4 says more is buffered; read 5 is empty again
        return { value: { records: [], nextToken: tokens[Math.min(n + 1, 7)] as string, mayMoreRecord: n === 4, byteSize: 0 } };
      },
    });
    h.scheduler.run(({ expectObservable }) => {
      expectObservable(worker(h), '^ 1400ms !').toBe('');
    });
    // sleeps of 20, 100, 500, 500 (capped); read 4 is full → no sleep and a reset: 20, 100 again
    expect(reads(h).map(([at]) => at)).toEqual([3, 24, 125, 626, 1127, 1128, 1149, 1250]);
  });

  it('unsubscribe: no more reads, the acknowledged batch is checkpointed, then ShutdownTunnel', () => {
    const h = harness({
      heartbeat: () => ({ value: [ch('c1', 1, 'OPEN')] }),
      readRecords: pagedChannel(100, 1),
      checkpoint: () => ({ value: undefined, delay: 10 }),
    });
    h.scheduler.run(({ expectObservable }) => {
      // batch 1 committed at 4 (checkpoint 4→14); batches 2, 3 delivered at 5, 6 but never committed; unsubscribe at 8
      let first = true;
      expectObservable(
        worker(h, { maxInFlightBatchesPerChannel: 2 }).pipe(
          tap((b) => {
            if (first) void b.commit();
            first = false;
          }),
          map(show),
        ),
        '^ 7ms !',
      ).toBe('4ms a a a', { a: 'c1:1' });
    });
    expect(reads(h).map(([at]) => at)).toEqual([3, 4, 5]);
    expect(checkpoints(h)).toEqual([[4, 'c1', 'c1@1', 1n]]);
    expect(h.api.calls('shutdown').map((c) => [c.at, c.request])).toEqual([[14, { tunnelId: 'tunnel-1', clientId: 'client-1' }]]);
    expect(h.events.at(-1)).toEqual({ kind: 'shutdown', clientId: 'client-1' });
  });
});

describe('tunnel worker — checkpointCoalesceMs', () => {
  it('acknowledgements within the window share one Checkpoint call; `finished` is written at once', () => {
    const h = harness({ heartbeat: () => ({ value: [ch('c1', 1, 'OPEN')] }), readRecords: pagedChannel(3, 2) });
    h.scheduler.run(({ expectObservable }) => {
      expectObservable(worker(h, { checkpointCoalesceMs: 50 }).pipe(tap(committing), map(show)), '^ 250ms !').toBe('4ms a b c', { a: 'c1:2', b: 'c1:2', c: 'c1:2!' });
    });
    // c1@1 (at 4) and c1@2 (at 5) wait in the window; `finished` (at 6) goes at once and covers them
    expect(checkpoints(h)).toEqual([[6, 'c1', 'finished', 1n]]);
  });

  it('a channel read continuously is checkpointed once per window with the newest acknowledged token; a stop writes at once', () => {
    const h = harness({ heartbeat: () => ({ value: [ch('c1', 1, 'OPEN')] }), readRecords: pagedChannel(1_000, 1) });
    const acknowledged: Array<[number, string]> = [];
    h.scheduler.run(() => {
      const acknowledging = (b: ChannelBatch): void => {
        acknowledged.push([h.scheduler.now(), b.nextToken]);
        void b.commit();
      };
      // a batch a millisecond from 4 on; the 120th (at 123) ends the subscription
      worker(h, { checkpointCoalesceMs: 50 }).pipe(tap(acknowledging), take(120)).subscribe();
    });
    const calls = checkpoints(h);
    // the first acknowledgement (at 4) opens a window that ends at 54; that call takes 1 ms, the next window
    // ends at 105; the stop at 123 writes what was queued without waiting for its window
    expect(calls.map(([at]) => at)).toEqual([54, 105, 123]);
    // each call carries the newest token acknowledged by then (one acknowledged in the same millisecond may come after it)
    for (const [at, , token] of calls) expect(acknowledged.filter(([when]) => when <= at).slice(-2).map(([, t]) => t)).toContain(token);
    expect(calls.map(([, , , seq]) => seq)).toEqual([1n, 2n, 3n]);
  });
});

const putRecordFor = (n: number) => putRecord(n);

describe('tunnel worker — teardown edge cases', () => {
  it('unsubscribing from inside the subscriber (take) stops at once and still shuts down', () => {
    const h = harness({ heartbeat: () => ({ value: [ch('c1', 1, 'OPEN')] }), readRecords: pagedChannel(100, 1) });
    h.scheduler.run(({ expectObservable }) => {
      expectObservable(worker(h).pipe(tap(committing), map(show), take(2))).toBe('4ms a (a|)', { a: 'c1:1' });
    });
    // the read that started when batch 2 was delivered is dropped; the second commit is flushed first
    expect(reads(h).map(([at]) => at)).toEqual([3, 4, 5]);
    expect(checkpoints(h)).toEqual([
      [4, 'c1', 'c1@1', 1n],
      [5, 'c1', 'c1@2', 2n],
    ]);
    expect(h.api.calls('shutdown').map((c) => c.at)).toEqual([6]);
  });

  it('a lost session resolves the commits of its batches as skipped, and the new session re-reads them', () => {
    const h = harness({
      heartbeat: (request, index) =>
        request.clientId === 'client-1' && index === 1 ? { error: serviceError('OTSResourceGone', 410) } : { value: [ch('c1', request.clientId === 'client-1' ? 1 : 3, 'OPEN')] },
      readRecords: pagedChannel(100, 1),
    });
    const held: ChannelBatch[] = [];
    const outcomes: string[] = [];
    h.scheduler.run(({ expectObservable }) => {
      expectObservable(worker(h, { maxInFlightBatchesPerChannel: 1 }).pipe(tap((b) => held.push(b)), map((b) => `${b.clientId}:${b.fromToken}`)), '^ 200ms !').toBe(
        '4ms a 151ms b',
        { a: 'client-1:c1@0', b: 'client-2:c1@0' },
      );
      h.scheduler.schedule(() => void held[0]?.commit().then((o) => outcomes.push(o.kind === 'skipped' ? o.reason : o.kind)), 120);
    });
    expect(h.events).toContainEqual(expect.objectContaining({ kind: 'client-lost', clientId: 'client-1', reason: 'resource-gone' }));
    expect(checkpoints(h)).toEqual([]);
    return Promise.resolve().then(() => expect(outcomes).toEqual(['channel-closed']));
  });
});

