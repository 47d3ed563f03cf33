/**
 * `--metrics-port`: the live view's figures as Prometheus metrics (prom-client), served on
 * `http://<host>:<port>/metrics` — for stream jobs (`otsflow sql`, `otsflow demo`) and for the
 * emulator (`otsflow emulator`). Job values are read from each job's latest progress when
 * scraped; the batch latency histogram is fed once per committed batch; the emulator's counters
 * once per answered request.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import protobuf from 'protobufjs/minimal.js';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Observable } from 'rxjs';
import type { RequestServed } from '../emulator/index.js';
import type { JobProgress } from '../stream/job/types.js';
import { TUNNEL_APIS } from '../wire/tunnel-messages.js';

export interface MetricsEndpoint {
  /** http://host:port/metrics */
  readonly url: string;
  readonly port: number;
  readonly registry: Registry;
  close(): Promise<void>;
}

/** A registry with the process's default metrics (CPU, memory, event loop lag), prefixed `otsflow_`. */
export function metricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'otsflow_' });
  return registry;
}

/** Serves `registry` at /metrics on `host` (default loopback); port 0 picks a free one. */
export function serveMetrics(registry: Registry, options: { readonly port: number; readonly host?: string }): Promise<MetricsEndpoint> {
  const host = options.host ?? '127.0.0.1';
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('otsflow serves GET /metrics only\n');
      return;
    }
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(text);
      },
      (error: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`${error instanceof Error ? error.message : String(error)}\n`);
      },
    );
  });
  server.keepAliveTimeout = 65_000;
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => reject(new Error(`--metrics-port ${options.port}: cannot listen on ${host}: ${error.code ?? error.message}`)));
    server.listen(options.port, host, () => {
      const port = (server.address() as AddressInfo).port;
      resolve({
        url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/metrics`,
        port,
        registry,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}

/** Seconds the histogram of batch latency distinguishes. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

type ChannelFigures = JobProgress['channels'][number];

export interface JobMetrics {
  /** exports one job's figures, labelled `job`, until it ends */
  add(job: { readonly name: string; readonly progress: Observable<JobProgress> }): void;
}

/**
 * The figures of stream jobs: records, rows, batches, late rows, bad rows, type mismatches
 * (counters), open windows, records/s, watermark, running (gauges), batch latency (histogram), and
 * per channel the lag in records and seconds and whether the service holds more.
 */
export function registerJobMetrics(registry: Registry): JobMetrics {
  const jobs = new Map<string, JobProgress>();
  const counted = new Map<string, number>();
  const counter = (name: string, help: string, value: (progress: JobProgress) => number): void => {
    new Counter({
      name,
      help,
      labelNames: ['job'],
      registers: [registry],
      collect() {
        // a cumulative figure of the job: the counter follows it (it only grows)
        for (const [job, progress] of jobs) {
          const key = `${name}\u0000${job}`;
          const before = counted.get(key) ?? 0;
          const now = value(progress);
          if (now > before) {
            this.inc({ job }, now - before);
            counted.set(key, now);
          }
        }
      },
    });
  };
  const gauge = (name: string, help: string, value: (progress: JobProgress) => number | undefined): void => {
    new Gauge({
      name,
      help,
      labelNames: ['job'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [job, progress] of jobs) {
          const v = value(progress);
          if (v !== undefined) this.set({ job }, v);
        }
      },
    });
  };
  const channelGauge = (name: string, help: string, value: (channel: ChannelFigures) => number | undefined): void => {
    new Gauge({
      name,
      help,
      labelNames: ['job', 'channel'],
      registers: [registry],
      collect() {
        // channels come and go (splits, other workers): only the current ones are exported
        this.reset();
        for (const [job, progress] of jobs) {
          for (const channel of progress.channels) {
            const v = value(channel);
            if (v !== undefined) this.set({ job, channel: channel.channelId }, v);
          }
        }
      },
    });
  };
  counter('otsflow_records_read_total', 'change records taken into micro-batches', (p) => p.metrics.recordsIn);
  counter('otsflow_rows_written_total', 'rows written to the sink', (p) => p.metrics.rowsWritten);
  counter('otsflow_batches_committed_total', 'micro-batches committed (sink written, state and tunnel checkpoints)', (p) => p.metrics.batchesCommitted);
  counter('otsflow_late_rows_dropped_total', '(row, window) pairs dropped behind the watermark', (p) => p.metrics.lateRows);
  counter('otsflow_bad_rows_total', 'records that did not match the catalog', (p) => p.metrics.badRows);
  counter('otsflow_type_mismatches_total', 'attribute values of the wrong type read as null', (p) => p.metrics.typeMismatches);
  gauge('otsflow_open_windows', 'windows holding state', (p) => p.metrics.openWindows);
  gauge('otsflow_records_per_second', 'records read per second over the last few seconds', (p) => p.recordsPerSecond);
  gauge('otsflow_watermark_seconds', 'the job watermark (event time, seconds since the epoch)', (p) => (Number.isFinite(p.metrics.watermark) ? p.metrics.watermark / 1000 : undefined));
  gauge('otsflow_job_running', '1 while the job runs', (p) => (p.state === 'running' ? 1 : 0));
  channelGauge('otsflow_channel_lag_records', 'records read from the channel and not committed yet', (c) => c.lagRecords);
  channelGauge('otsflow_channel_lag_seconds', 'now minus the commit time of the oldest record of the channel not committed (0 when caught up)', (c) => (c.lagMs === undefined ? undefined : c.lagMs / 1000));
  channelGauge('otsflow_channel_more_records', '1 when the last read of the channel filled a response (the service holds more)', (c) => (c.more === undefined ? undefined : c.more ? 1 : 0));
  const latency = new Histogram({
    name: 'otsflow_batch_latency_seconds',
    help: 'time from forming a micro-batch to its commit',
    labelNames: ['job'],
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  return {
    add(job) {
      let latencies = 0;
      job.progress.subscribe((progress) => {
        jobs.set(job.name, progress);
        const m = progress.metrics;
        // one observation per committed batch: every commit publishes a snapshot
        if (m.batchLatencies > latencies && m.batchLatencyMs !== undefined) latency.observe({ job: job.name }, m.batchLatencyMs / 1000);
        latencies = m.batchLatencies;
      });
    },
  };
}

/** At most this many distinct `api` labels (paths are the client's to choose); the rest are `other`. */
const MAX_API_LABELS = 64;

/** Records in a ReadRecordsResponse: its top-level field 1 entries, counted without decoding them. */
export function countReadRecords(body: Uint8Array): number {
  const reader = protobuf.Reader.create(body);
  let records = 0;
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag >>> 3 === 1) records++;
    reader.skipType(tag & 7);
  }
  return records;
}

/**
 * The emulator's figures: requests, errors, request and response bytes per API (the path, e.g.
 * `PutRow`, `tunnel/readrecords`), tunnel records served, answer time. Returns the hook for
 * `startEmulator({ onRequest })`.
 */
export function registerEmulatorMetrics(registry: Registry): (served: RequestServed) => void {
  const requests = new Counter({ name: 'otsflow_emulator_requests_total', help: 'requests answered, per API', labelNames: ['api'], registers: [registry] });
  const errors = new Counter({ name: 'otsflow_emulator_errors_total', help: 'error answers, per API and error code', labelNames: ['api', 'code'], registers: [registry] });
  const requestBytes = new Counter({ name: 'otsflow_emulator_request_bytes_total', help: 'request body bytes, per API', labelNames: ['api'], registers: [registry] });
  const responseBytes = new Counter({ name: 'otsflow_emulator_response_bytes_total', help: 'response body bytes, per API', labelNames: ['api'], registers: [registry] });
  const records = new Counter({ name: 'otsflow_emulator_records_served_total', help: 'change records served by tunnel ReadRecords', registers: [registry] });
  const seconds = new Histogram({ name: 'otsflow_emulator_request_duration_seconds', help: 'from the request to its answer, per API', labelNames: ['api'], buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5], registers: [registry] });
  const known = new Set<string>();
  const apiOf = (path: string): string => {
    const name = path.replace(/^\//, '');
    if (known.has(name)) return name;
    if (!/^(tunnel\/)?[A-Za-z]{1,40}$/.test(name) || known.size >= MAX_API_LABELS) return 'other';
    known.add(name);
    return name;
  };
  return (served) => {
    const api = apiOf(served.path);
    requests.inc({ api });
    requestBytes.inc({ api }, served.requestBytes);
    responseBytes.inc({ api }, served.body.length);
    seconds.observe({ api }, served.ms / 1000);
    if (served.status !== 200) errors.inc({ api, code: served.code ?? String(served.status) });
    else if (served.path === TUNNEL_APIS.ReadRecords.path) {
      try {
        records.inc(countReadRecords(served.body));
      } catch {
        // a body cut by fault injection is no answer to count
      }
    }
  };
}
