// Prometheus metrics, served at /metrics. Every label has a bounded set of
// values: route patterns (never raw URLs), methods, status codes, and a few
// fixed kinds.
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client'

export type LookupSource = 'cache' | 'database'

export class Metrics {
  readonly registry = new Registry()

  readonly requests = new Histogram({
    name: 'replay_gate_http_request_duration_seconds',
    help: 'HTTP requests by route pattern, method and status, and how long they took to answer',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry]
  })

  readonly signing = new Histogram({
    name: 'replay_gate_presign_duration_seconds',
    help: 'Time to hand out a presigned URL (reused within its window, or signed)',
    labelNames: ['method'] as const,
    buckets: [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.005],
    registers: [this.registry]
  })

  readonly lookups = new Counter({
    name: 'replay_gate_lookups_total',
    help: 'Game lookups, by where the answer came from',
    labelNames: ['source'] as const,
    registers: [this.registry]
  })

  readonly streamedBytes = new Counter({
    name: 'replay_gate_stream_bytes_total',
    help: 'Bytes of replays sent through /stream',
    registers: [this.registry]
  })

  readonly streams = new Counter({
    name: 'replay_gate_streams_total',
    help: 'Bodies sent through /stream, by how they ended: complete, or aborted (the client left or S3 broke off)',
    labelNames: ['outcome'] as const,
    registers: [this.registry]
  })

  readonly s3Errors = new Counter({
    name: 'replay_gate_s3_errors_total',
    help: 'S3 calls of /stream that failed, by kind: timeout, network, missing, or the HTTP status S3 answered',
    labelNames: ['kind'] as const,
    registers: [this.registry]
  })

  readonly rejected = new Counter({
    name: 'replay_gate_rejected_requests_total',
    help: 'Requests turned away before any work: overloaded (load shedding, by the check that tripped), rate_limited, unauthenticated, invalid_token',
    labelNames: ['reason', 'check'] as const,
    registers: [this.registry]
  })

  constructor ({ processMetrics = true }: { processMetrics?: boolean } = {}) {
    if (processMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'replay_gate_' })
  }
}
