import { describe, expect, it } from 'vitest';
import { defer, of, throwError } from 'rxjs';
import type { Observable } from 'rxjs';
import { dateFromNanos, nanosFromDate, tunnelControl } from '../../lib/tunnel/control.js';
import type { TunnelTransport } from '../../lib/tunnel/http-transport.js';
import { OtsServiceError } from '../../lib/wire/errors.js';

interface Sent {
  readonly path: string;
  readonly request: unknown;
}

/** A transport answering each path from a script; every attempt is recorded. */
function scripted(answers: Record<string, Array<() => Observable<unknown>>>): { transport: TunnelTransport; sent: Sent[] } {
  const sent: Sent[] = [];
  const transport: TunnelTransport = {
    call: (api, request) =>
      defer(() => {
        sent.push({ path: api.path, request });
        const next = answers[api.path]?.shift();
        if (next === undefined) throw new Error(`unexpected call to ${api.path}`);
        return next();
      }) as never,
    close: () => undefined,
  };
  return { transport, sent };
}

const unavailable = () => throwError(() => new OtsServiceError({ code: 'OTSTunnelServerUnavailable', message: 'busy', httpStatus: 503 }));
const fastRetry = { initialMs: 1, maxMs: 2, multiplier: 2, jitter: 0, maxElapsedMs: 1000 };

describe('tunnelControl', () => {
  it('converts nanoseconds to Date and back at millisecond precision', () => {
    const nanos = 1_700_000_000_123_456_789n;
    expect(dateFromNanos(nanos).toISOString()).toBe('2023-11-14T22:13:20.123Z');
    expect(nanosFromDate(new Date('2023-11-14T22:13:20.123Z'))).toBe(1_700_000_000_123_000_000n);
  });

  it('CreateTunnel sends a start time as startOffset without a flag (§2.1), a flag otherwise; it is not retried', async () => {
    const { transport, sent } = scripted({
      '/tunnel/create': [() => of({ tunnelId: 'a' }), () => of({ tunnelId: 'b' }), unavailable],
    });
    const control = tunnelControl(transport, { retry: fastRetry });
    const start = new Date('2026-01-01T00:00:00Z');
    const end = new Date('2026-01-02T00:00:00Z');
    expect(await control.createTunnel({ tableName: 't', tunnelName: 'n1', tunnelType: 'Stream', stream: { startTime: start, endTime: end } })).toEqual({
      _tag: 'Right',
      right: { tunnelId: 'a' },
    });
    expect(await control.createTunnel({ tableName: 't', tunnelName: 'n2', tunnelType: 'BaseAndStream', stream: { flag: 'EARLIEST' } })).toEqual({
      _tag: 'Right',
      right: { tunnelId: 'b' },
    });
    const failed = await control.createTunnel({ tableName: 't', tunnelName: 'n3', tunnelType: 'BaseData' });
    expect(failed._tag === 'Left' && failed.left).toMatchObject({ code: 'OTSTunnelServerUnavailable' });
    expect(sent.map((s) => s.request)).toEqual([
      { tunnel: { tableName: 't', tunnelName: 'n1', tunnelType: 'Stream', streamTunnelConfig: { startOffset: nanosFromDate(start), endOffset: nanosFromDate(end) } } },
      { tunnel: { tableName: 't', tunnelName: 'n2', tunnelType: 'BaseAndStream', streamTunnelConfig: { flag: 'EARLIEST' } } },
      { tunnel: { tableName: 't', tunnelName: 'n3', tunnelType: 'BaseData' } },
    ]);
  });

  it('ListTunnel and DescribeTunnel are retried on 503 and return typed summaries', async () => {
    const info = {
      tunnelId: 'id1',
      tunnelType: 'Stream',
      tableName: 't',
      instanceName: 'i',
      streamId: 's',
      stage: 'ProcessStream',
      tunnelName: 'n',
      createTime: 1_700_000_000_000_000_000n,
      streamTunnelConfig: { flag: 'LATEST', startOffset: 0n },
    };
    const { transport, sent } = scripted({
      '/tunnel/list': [unavailable, () => of({ tunnels: [info] })],
      '/tunnel/describe': [
        unavailable,
        unavailable,
        () =>
          of({
            tunnel: info,
            channels: [{ channelId: 'p0_e0', channelType: 'Stream', channelStatus: 'OPEN', clientId: 'c', channelRpo: 1_700_000_001_000_000_000n, channelCount: 5n }],
            tunnelRpo: 1_700_000_001_000_000_000n,
          }),
      ],
    });
    const control = tunnelControl(transport, { retry: fastRetry });
    const listed = await control.listTunnels();
    expect(listed).toEqual({
      _tag: 'Right',
      right: [
        {
          tunnelId: 'id1',
          tunnelName: 'n',
          tableName: 't',
          instanceName: 'i',
          streamId: 's',
          tunnelType: 'Stream',
          stage: 'ProcessStream',
          expired: false,
          createTimeNs: 1_700_000_000_000_000_000n,
          createTime: new Date(1_700_000_000_000),
          streamConfig: { flag: 'LATEST' },
        },
      ],
    });
    const described = await control.describeTunnel('t', 'n');
    expect(described._tag === 'Right' && described.right.channels).toEqual([
      { channelId: 'p0_e0', channelType: 'Stream', status: 'OPEN', clientId: 'c', rpoNs: 1_700_000_001_000_000_000n, rpoTime: new Date(1_700_000_001_000), count: 5n },
    ]);
    expect(described._tag === 'Right' && described.right.tunnelRpoTime).toEqual(new Date(1_700_000_001_000));
    expect(sent.map((s) => s.path)).toEqual(['/tunnel/list', '/tunnel/list', '/tunnel/describe', '/tunnel/describe', '/tunnel/describe']);
    expect(sent[0]?.request).toEqual({});
  });
});
