// prebound.ts writes its series itself instead of through prom-client's metric
// objects. Here each prebound family has a twin, a plain prom-client Counter or
// Histogram of the same name, help, labels and buckets in a registry of its
// own; both are given the same observations, and the two registries' texts
// must be the same, line for line: HELP and TYPE, every bucket with its `le`
// (+Inf included), `_sum`, `_count`, the counters, the escaping of label
// values, and the order of the series.
//
// The one thing done differently on prom-client's side is when a series
// appears. prebound.ts exports a series from the moment its labels are resolved
// (before any observation: that is what the service does at start), prom-client
// once it is observed or zeroed; so the twin zeroes a series where prebound.ts
// resolves it (Histogram.zero, Counter.inc by 0). A family without labels is
// exported by prom-client from its construction, and is resolved at once here.
//
// Neither registry has default labels, as the service's has none: with them,
// prom-client would write a histogram's default labels between `le` and the
// series' own labels, and prebound.ts after them.
import t from 'tap'
import { Counter, Histogram, Registry, type RegistryContentType } from 'prom-client'
import { Metrics } from '../../src/observability/metrics.js'
import { CounterSeries, HistogramSeries, PreboundCounter, PreboundHistogram } from '../../src/observability/prebound.js'

type Labels = Record<string, string | number>

/** A prebound family and its prom-client twin, driven alike. */
interface Twin {
  /** Resolves a series on both sides: prebound.ts exports it from now on. */
  resolve: (labels: Labels) => void
  /** One observation (a histogram) or increment (a counter; undefined: by 1), on both sides. */
  record: (labels: Labels, value?: number) => void
}

function histogramTwin (prebound: PreboundHistogram<string>, registry: Registry): Twin {
  const reference = new Histogram({ name: prebound.name, help: prebound.help, labelNames: prebound.labelNames, buckets: [...prebound.bounds], registers: [registry] })
  const resolved = new Map<string, HistogramSeries>()
  const resolve = (labels: Labels): HistogramSeries => {
    const key = JSON.stringify(prebound.labelNames.map((name) => String(labels[name])))
    let series = resolved.get(key)
    if (series === undefined) {
      resolved.set(key, series = prebound.labels(labels))
      // A label-less Histogram has its series from the start; zero() would only reset it.
      if (prebound.labelNames.length > 0) reference.zero(labels)
    }
    return series
  }
  return {
    resolve,
    record: (labels, value) => {
      resolve(labels).observe(value as number)
      reference.labels(labels).observe(value as number)
    }
  }
}

function counterTwin (prebound: PreboundCounter<string>, registry: Registry): Twin {
  const reference = new Counter({ name: prebound.name, help: prebound.help, labelNames: prebound.labelNames, registers: [registry] })
  const resolved = new Map<string, CounterSeries>()
  const resolve = (labels: Labels): CounterSeries => {
    const key = JSON.stringify(prebound.labelNames.map((name) => String(labels[name])))
    let series = resolved.get(key)
    if (series === undefined) {
      resolved.set(key, series = prebound.labels(labels))
      reference.inc(labels, 0)
    }
    return series
  }
  return {
    resolve,
    record: (labels, by) => {
      if (by === undefined) {
        resolve(labels).inc()
        reference.labels(labels).inc()
      } else {
        resolve(labels).inc(by)
        reference.labels(labels).inc(by)
      }
    }
  }
}

/** The smallest double above x (x positive): an observation just past a bucket's bound. */
function nextUp (x: number): number {
  const bits = new BigInt64Array(new Float64Array([x]).buffer)
  bits[0] = (bits[0] as bigint) + 1n
  return new Float64Array(bits.buffer)[0] as number
}

/** Each bound exactly, just past it, and between it and the next; below the first and past the last. */
function edgesOf (bounds: readonly number[]): number[] {
  return [-1, 0, ...bounds.flatMap((bound, i) => [bound, nextUp(bound), (bound + (bounds[i + 1] ?? bound * 2)) / 2]), (bounds.at(-1) as number) * 1000]
}

/** The registry's text in both content types: Prometheus' 0.0.4 and OpenMetrics (counters' `_total`, `# EOF`). */
const CONTENT_TYPES = [Registry.PROMETHEUS_CONTENT_TYPE, Registry.OPENMETRICS_CONTENT_TYPE] as const

function registryOf (contentType: RegistryContentType): Registry {
  const registry = new Registry()
  // Typed as the default content type, which prebound.ts's constructors take; either is set here.
  registry.setContentType(contentType as typeof Registry.PROMETHEUS_CONTENT_TYPE)
  return registry
}

t.test('families of every kind: the same text as prom-client\'s own metrics', async (t) => {
  for (const contentType of CONTENT_TYPES) {
    const actual = registryOf(contentType)
    const expected = registryOf(contentType)
    const bounds = [1e-7, 0.00001, 0.0025, 0.1, 1, 2.5, 10, 120]
    const durations = histogramTwin(new PreboundHistogram('exposition_duration_seconds',
      'Durations, with a backslash \\ and a\nline break in the help', ['route', 'method', 'status'], bounds, actual), expected)
    const idle = histogramTwin(new PreboundHistogram('exposition_idle_seconds', 'Without labels', [], [0.5, 1], actual), expected)
    // No series resolved: HELP and TYPE only.
    histogramTwin(new PreboundHistogram('exposition_unused_seconds', 'Never resolved', ['kind'], [1], actual), expected)
    const lookups = counterTwin(new PreboundCounter('exposition_lookups_total', 'Lookups, by source', ['source'], actual), expected)
    const bytes = counterTwin(new PreboundCounter('exposition_bytes_total', 'Without labels', [], actual), expected)

    const redirect = { route: '/games/:gameId/replay', method: 'GET', status: 302 }
    const escaped = { route: '/a "quoted" \\ back\\slash\nline break, {braces}=', method: 'GET', status: '200' }
    // Keys in another order than the label names: both write them as given at the series' first use.
    const reordered = { status: 404, method: 'HEAD', route: 'unmatched' }
    const odd = { route: '', method: 'ünïcødé ✓ \u0007', status: 0 }
    durations.resolve(escaped)
    durations.resolve(reordered) // never observed: all zeros
    for (const value of edgesOf(bounds)) {
      durations.record(redirect, value)
      durations.record(escaped, value / 3)
    }
    // Past 2^16 observations in one bucket, and many sums.
    for (let i = 0; i < 70_000; i++) durations.record(redirect, 0.0003 + (i % 7) * 0.0001)
    durations.record(odd, 2.5)
    idle.resolve({})
    for (const value of edgesOf([0.5, 1])) idle.record({}, value)

    lookups.resolve({ source: 'never' })
    for (let i = 0; i < 100_000; i++) lookups.record({ source: i % 3 === 0 ? 'database' : 'cache' })
    lookups.record({ source: 'say "cache"\\\n' }, 2.5)
    bytes.resolve({})
    // Fractions first, while they still count; then past 2^53, where a double's step is 2.
    const increments = [0.25, 1.5, 3 * 1024 * 1024, 1e15, 1e15, 2 ** 53, 1]
    for (const by of increments) bytes.record({}, by)

    const text = await actual.metrics()
    const reference = await expected.metrics()
    t.equal(text, reference, contentType)

    // The reference itself is what is meant: these lines are the ones a drift would change.
    const lines = reference.split('\n')
    t.equal(lines.filter((l) => l.startsWith('exposition_duration_seconds_bucket{le="+Inf",')).length, 4, '+Inf of every series')
    t.ok(lines.includes('exposition_duration_seconds_bucket{le="1e-7",route="/games/:gameId/replay",method="GET",status="302"} 3'), 'a bound of 1e-7: -1, 0 and 1e-7 itself')
    t.ok(lines.includes(`exposition_duration_seconds_count{route="/games/:gameId/replay",method="GET",status="302"} ${edgesOf(bounds).length + 70_000}`))
    t.ok(lines.includes('exposition_duration_seconds_bucket{le="+Inf",status="404",method="HEAD",route="unmatched"} 0'), 'a series resolved, never observed')
    t.ok(lines.includes('exposition_duration_seconds_sum{route="/a \\"quoted\\" \\\\ back\\\\slash\\nline break, {braces}=",method="GET",status="200"} ' +
      String(edgesOf(bounds).reduce((sum, value) => sum + value / 3, 0))), 'label values escaped')
    t.ok(lines.includes('exposition_idle_seconds_bucket{le="0.5"} 3'))
    t.ok(lines.includes('exposition_lookups_total{source="never"} 0'))
    t.ok(lines.includes('exposition_lookups_total{source="database"} 33334'))
    t.ok(lines.includes(`exposition_bytes_total ${increments.reduce((sum, by) => sum + by, 0)}`))
    t.ok(lines.includes('# TYPE exposition_unused_seconds histogram'))
    t.notOk(lines.some((l) => l.startsWith('exposition_unused_seconds_')), 'no series, no samples')
  }
})

t.test('the service\'s prebound families (Metrics): the same text as prom-client\'s', async (t) => {
  const metrics = new Metrics({ processMetrics: false })
  const expected = new Registry()
  // Label values as the service gives them, and one needing escapes for every label.
  const valuesOf: Record<string, Array<string | number>> = {
    route: ['/games/:gameId/replay', '/games/:gameId/replay/stream', 'unmatched'],
    method: ['GET', 'HEAD'],
    status: [302, 200, 404],
    operation: ['GetObject', 'HeadObject'],
    outcome: ['ok', 'error'],
    source: ['cache', 'database'],
    kind: ['handed_out', 'identity'],
    encoding: ['identity', 'gzip', 'br']
  }
  const isPrebound = (family: unknown): family is PreboundHistogram<string> | PreboundCounter<string> =>
    family instanceof PreboundHistogram || family instanceof PreboundCounter
  const families = (metrics.registry.getMetricsAsArray() as unknown[]).filter(isPrebound)
  const names = families.map((family) => family.name)
  for (const name of ['replay_gate_http_request_duration_seconds', 'replay_gate_presign_duration_seconds', 'replay_gate_lookups_total', 'replay_gate_s3_request_duration_seconds']) {
    t.ok(names.includes(name), `${name} is among them`)
  }
  for (const family of families) {
    const twin = family instanceof PreboundHistogram ? histogramTwin(family, expected) : counterTwin(family, expected)
    // Every combination of the label values, then one with a value to escape in each label.
    let combinations: Labels[] = [{}]
    for (const name of family.labelNames) {
      combinations = combinations.flatMap((labels) => (valuesOf[name] ?? ['x']).map((value) => ({ ...labels, [name]: value })))
    }
    combinations.push(Object.fromEntries(family.labelNames.map((name) => [name, `"${name}"\\\n`])))
    const observations = family instanceof PreboundHistogram ? edgesOf(family.bounds) : [undefined, 1, 0.5, 7]
    combinations.forEach((labels, i) => {
      if (i % 4 === 3) { twin.resolve(labels); return } // some never observed
      for (const value of observations) twin.record(labels, value)
    })
    t.equal(await metrics.registry.getSingleMetricAsString(family.name), await expected.getSingleMetricAsString(family.name), family.name)
  }
})

t.test('le is reserved for the buckets, as in prom-client', async (t) => {
  t.throws(() => new Histogram({ name: 'h', help: 'h', labelNames: ['le'], registers: [] }), /le is a reserved label keyword/)
  const registry = new Registry()
  t.throws(() => new PreboundHistogram('h', 'h', ['route', 'le'], [1], registry), /le is a reserved label keyword/)
  t.equal(registry.getSingleMetric('h'), undefined, 'not registered')
})
