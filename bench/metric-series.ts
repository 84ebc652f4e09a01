// What counting costs on the request path: a series of prebound.ts, resolved
// once and kept, against prom-client's own child of the same metric
// (`histogram.labels(...)`, `counter.labels(...)`), also resolved once and
// kept. Each way observes or increments BENCH_CALLS times per round; the ways
// take turns, in an order that alternates from round to round. Prints ns per
// call (median of the rounds, and the range) and prom-client's median over
// prebound.ts's. Nothing is served: only the calls a request makes.
//   BENCH_ROUNDS (7), BENCH_CALLS (1000000)
//   npx tsx bench/metric-series.ts
//
// prom-client's child still validates the labels and hashes them on every
// call. On two cores shared with other work (load 9 to 16), three runs gave
// prom-client's child 10 to 16× prebound.ts's time per histogram observation
// (about 1–2 µs against 60–190 ns) and 190 to 370× per counter increment
// (about 0.3–0.6 µs against 1.4–2 ns); a redirect makes two observations and
// one increment.
import { Counter, Histogram, Registry } from 'prom-client'
import { PreboundCounter, PreboundHistogram } from '../src/observability/prebound.js'

const rounds = Number(process.env.BENCH_ROUNDS ?? 7)
const calls = Number(process.env.BENCH_CALLS ?? 1_000_000)

// The request histogram's buckets and labels (src/observability/metrics.ts).
const buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
const labels = { route: '/games/:gameId/replay', method: 'GET', status: 302 }
// Durations spread over the buckets, as requests' are: not the same branch every time.
const durations = Float64Array.from({ length: 1024 }, (_, i) => 0.0004 * 1.012 ** i)

const prebound = new Registry()
const preboundSeries = new PreboundHistogram('h', 'h', ['route', 'method', 'status'], buckets, prebound).labels(labels)
const preboundCounter = new PreboundCounter('c', 'c', ['source'], prebound).labels({ source: 'cache' })

const promClient = new Registry()
const promSeries = new Histogram({ name: 'h', help: 'h', labelNames: ['route', 'method', 'status'], buckets, registers: [promClient] }).labels(labels)
const promCounter = new Counter({ name: 'c', help: 'c', labelNames: ['source'], registers: [promClient] }).labels({ source: 'cache' })

interface Way { name: string, run: () => void }
const ways: Way[] = [
  { name: 'histogram, prebound.ts', run: () => { for (let i = 0; i < calls; i++) preboundSeries.observe(durations[i & 1023] as number) } },
  { name: 'histogram, prom-client child', run: () => { for (let i = 0; i < calls; i++) promSeries.observe(durations[i & 1023] as number) } },
  { name: 'counter, prebound.ts', run: () => { for (let i = 0; i < calls; i++) preboundCounter.inc() } },
  { name: 'counter, prom-client child', run: () => { for (let i = 0; i < calls; i++) promCounter.inc() } }
]

const samples = new Map<string, number[]>(ways.map((way) => [way.name, []]))
// One round unmeasured: every way compiled by the JIT before any is timed.
for (const way of ways) way.run()
for (let round = 0; round < rounds; round++) {
  for (const way of round % 2 === 0 ? ways : [...ways].reverse()) {
    const started = process.hrtime.bigint()
    way.run()
    samples.get(way.name)?.push(Number(process.hrtime.bigint() - started) / calls)
  }
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[sorted.length >> 1] as number
}
const medians = new Map<string, number>()
for (const [name, ns] of samples) {
  medians.set(name, median(ns))
  console.log(`${name.padEnd(30)} ${median(ns).toFixed(1).padStart(7)} ns/call (rounds ${Math.min(...ns).toFixed(1)}–${Math.max(...ns).toFixed(1)})`)
}
for (const kind of ['histogram', 'counter']) {
  const ratio = (medians.get(`${kind}, prom-client child`) as number) / (medians.get(`${kind}, prebound.ts`) as number)
  console.log(`${kind}: prom-client child / prebound.ts = ${ratio.toFixed(1)}×`)
}
console.log(`${rounds} rounds of ${calls} calls each way, node ${process.version}`)
