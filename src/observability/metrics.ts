// Prometheus metrics, served at /metrics. Every label has a bounded set of
// values: route patterns (never raw URLs), methods, status codes, and a few
// fixed kinds.
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client'
import type { ReplayObject } from '../model/replay-object.js'
import type { S3RequestObserver } from '../model/s3-request.js'
import { SERVICE_VERSION } from '../version.js'
import { PreboundCounter, PreboundHistogram, type CounterSeries } from './prebound.js'

/** What the pool gauges read from a pg Pool at each scrape. */
export interface PoolCounts {
  /** Connections open or opening, whether in use or idle. */
  readonly totalCount: number
  readonly idleCount: number
  /** Queries waiting for a connection: the pool is at its size (DATABASE_POOL_SIZE). */
  readonly waitingCount: number
}

export type LookupSource = 'cache' | 'database'

/** The replay answers counted by coding: the 302, HEAD /replay, /replay/url and /stream (GET and HEAD). */
export type ReplayAnswer = 'redirect' | 'head' | 'url' | 'stream'

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

  readonly replayAnswers = new PreboundCounter('replay_gate_replay_answers_total',
    'Replay answers by route (redirect, head, url, stream) and the content coding handed out: identity, or a compressed variant (gzip, br, zstd)',
    ['route', 'encoding'], this.registry)

  readonly variantBytes = new PreboundCounter('replay_gate_variant_bytes_total',
    'For replay answers of games with compressed variants recorded: the bytes of what was handed out (handed_out) and of the replay itself (identity); their ratio is what variants save',
    ['kind'], this.registry)

  readonly #answers = new Map<string, CounterSeries>()
  readonly #handedOut = this.variantBytes.labels({ kind: 'handed_out' })
  readonly #identityBytes = this.variantBytes.labels({ kind: 'identity' })

  /** Counts a replay answer by the coding of `object` (a variant, or the replay itself), and its bytes when variants are recorded. */
  countReplayAnswer (route: ReplayAnswer, object: ReplayObject): void {
    const encoding = object.contentEncoding ?? 'identity'
    const key = `${route} ${encoding}`
    let series = this.#answers.get(key)
    if (series === undefined) {
      series = this.replayAnswers.labels({ route, encoding })
      this.#answers.set(key, series)
    }
    series.inc()
    if (object.identitySize === undefined) return
    this.#handedOut.inc(object.size ?? object.identitySize)
    this.#identityBytes.inc(object.identitySize)
  }

  readonly streamedBytes = this.counter('replay_gate_stream_bytes_total', 'Bytes of replays sent through /stream', [])

  readonly streams = this.counter('replay_gate_streams_total',
    'Bodies sent through /stream, by how they ended: complete, or aborted (the client left or S3 broke off)', ['outcome'])

  readonly s3Errors = this.counter('replay_gate_s3_errors_total',
    'S3 calls of /stream and HEAD /replay that failed, by kind: timeout, network, missing, credentials (none found), or the HTTP status S3 answered', ['kind'])

  readonly rejected = this.counter('replay_gate_rejected_requests_total',
    'Requests turned away before any work: overloaded (load shedding, by the check that tripped; streams: STREAM_MAX_TOTAL), too_many_streams, rate_limited, unauthenticated, invalid_token',
    ['reason', 'check'])

  /** Per HTTP request to S3 (a retry is one more), up to S3's answer: a body is read after, at the client's pace. */
  readonly s3Requests = new PreboundHistogram('replay_gate_s3_request_duration_seconds',
    'Requests sent to S3, by SDK operation (GetObject, HeadObject) and outcome, up to S3\'s answer (a body follows at the client\'s pace). error: no answer, or an error status (a missing object and the readiness probe\'s NoSuchKey included; also 304 and 412 of conditional reads). Presigning sends none',
    ['operation', 'outcome'], [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], this.registry)

  /** For the storage's S3 client (ReplayStorage's onRequest). */
  readonly observeS3Request: S3RequestObserver = (operation, outcome, seconds) => {
    this.s3Requests.labels({ operation, outcome }).observe(seconds)
  }

  #pool: PoolCounts | undefined

  constructor ({ processMetrics = true }: { processMetrics?: boolean } = {}) {
    // Under their stock names (process_cpu_seconds_total, nodejs_heap_size_used_bytes…), which the
    // usual Node.js dashboards and alerts query; the job and instance labels tell services apart.
    if (processMetrics) collectDefaultMetrics({ register: this.registry })
    // Which build answers, to tell instances apart during a rollout; always 1.
    new Gauge({ name: 'replay_gate_build_info', help: 'The running build: the service\'s version and Node.js\'s; always 1', labelNames: ['version', 'node'], registers: [this.registry] })
      .set({ version: SERVICE_VERSION, node: process.version }, 1)
  }

  /**
   * The database pool's connections and waiting queries, read at each scrape.
   * Only a PostgreSQL pool is observed: local mode's PGlite has none, and its
   * gauges are then left out rather than reported as an empty pool.
   */
  observePool (pool: PoolCounts): void {
    const unobserved = this.#pool === undefined
    this.#pool = pool
    if (!unobserved) return
    const connections = new Gauge({
      name: 'replay_gate_db_pool_connections',
      help: 'Connections of the database pool, by state: in_use (checked out by a query, or opening) or idle',
      labelNames: ['state'],
      registers: [this.registry],
      collect: () => {
        const { totalCount, idleCount } = this.#pool as PoolCounts
        connections.set({ state: 'in_use' }, totalCount - idleCount)
        connections.set({ state: 'idle' }, idleCount)
      }
    })
    const waiting = new Gauge({
      name: 'replay_gate_db_pool_waiting_requests',
      help: 'Queries waiting for a connection of the database pool, which is at DATABASE_POOL_SIZE',
      registers: [this.registry],
      collect: () => { waiting.set((this.#pool as PoolCounts).waitingCount) }
    })
  }

  private counter<L extends string> (name: string, help: string, labelNames: readonly L[]): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] })
  }
}
