// Prometheus metrics, served at /metrics. Every label has a bounded set of
// values: route patterns (never raw URLs), methods, status codes, and a few
// fixed kinds.
import { collectDefaultMetrics, Counter, Registry } from 'prom-client'
import { PreboundCounter, PreboundHistogram } from './prebound.js'

export type LookupSource = 'cache' | 'database'

export class Metrics {
  readonly registry = new Registry()

  // On every redirect: label sets resolved once (prebound.ts).
  readonly requests = new PreboundHistogram('replay_gate_http_request_duration_seconds',
    'HTTP requests by route pattern, method and status, and how long they took to answer',
    ['route', 'method', 'status'], [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], this.registry)

  readonly signing = new PreboundHistogram('replay_gate_presign_duration_seconds',
    'Time to hand out a presigned URL (reused within its window, or signed)',
    ['method'], [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.005], this.registry)

  readonly lookups = new PreboundCounter('replay_gate_lookups_total', 'Game lookups, by where the answer came from', ['source'], this.registry)

  readonly streamedBytes = this.counter('replay_gate_stream_bytes_total', 'Bytes of replays sent through /stream', [])

  readonly streams = this.counter('replay_gate_streams_total',
    'Bodies sent through /stream, by how they ended: complete, or aborted (the client left or S3 broke off)', ['outcome'])

  readonly s3Errors = this.counter('replay_gate_s3_errors_total',
    'S3 calls of /stream and HEAD /replay that failed, by kind: timeout, network, missing, or the HTTP status S3 answered', ['kind'])

  readonly rejected = this.counter('replay_gate_rejected_requests_total',
    'Requests turned away before any work: overloaded (load shedding, by the check that tripped; streams: STREAM_MAX_TOTAL), too_many_streams, rate_limited, unauthenticated, invalid_token',
    ['reason', 'check'])

  constructor ({ processMetrics = true }: { processMetrics?: boolean } = {}) {
    // Under their stock names (process_cpu_seconds_total, nodejs_heap_size_used_bytes…), which the
    // usual Node.js dashboards and alerts query; the job and instance labels tell services apart.
    if (processMetrics) collectDefaultMetrics({ register: this.registry })
  }

  private counter<L extends string> (name: string, help: string, labelNames: readonly L[]): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] })
  }
}
