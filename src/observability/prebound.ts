// Counters and histograms whose label sets are resolved once. prom-client
// hashes the label object on every observation; on the redirect's path that
// was a measurable share of a request, and a child of prom-client's
// (`histogram.labels(...)`, kept) validates and hashes them all the same
// (bench/metric-series.ts). Here `labels()` gives a series that is kept, and
// counting on it only adds numbers. Registered in a prom-client
// Registry, they are exported in the same text, line for line, as its own
// Counter and Histogram would write for the same observations
// (test/observability/prebound-exposition.test.ts).
import type { Registry } from 'prom-client'

type LabelValues<L extends string> = Record<L, string | number>

interface ExportedValue {
  labels: Record<string, string | number>
  value: number
  metricName?: string
}

abstract class PreboundFamily<L extends string, S> {
  readonly aggregator = 'sum'
  private readonly series = new Map<string, { labels: LabelValues<L>, series: S }>()

  constructor (readonly name: string, readonly help: string, readonly labelNames: readonly L[], registry: Registry) {
    // A prom-client Registry takes any object with a name and get(); its type names only its own classes.
    registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0])
  }

  /** The series of one set of label values: made on first use, then the same object. The values must be bounded. */
  labels (values: LabelValues<L>): S {
    const key = this.labelNames.map((name) => String(values[name])).join('\u0000')
    let entry = this.series.get(key)
    if (entry === undefined) {
      entry = { labels: { ...values }, series: this.create() }
      this.series.set(key, entry)
    }
    return entry.series
  }

  protected abstract create (): S
  protected abstract export (labels: LabelValues<L>, series: S): ExportedValue[]

  async get (): Promise<{ name: string, help: string, type: string, aggregator: string, values: ExportedValue[] }> {
    const values = [...this.series.values()].flatMap(({ labels, series }) => this.export(labels, series))
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values }
  }

  abstract readonly type: 'counter' | 'histogram'
}

export class CounterSeries {
  value = 0
  inc (by = 1): void { this.value += by }
}

export class PreboundCounter<L extends string> extends PreboundFamily<L, CounterSeries> {
  readonly type = 'counter'
  protected create (): CounterSeries { return new CounterSeries() }
  protected export (labels: LabelValues<L>, series: CounterSeries): ExportedValue[] {
    return [{ labels, value: series.value }]
  }
}

export class HistogramSeries {
  /** Observations per bucket, not cumulated; the last one is +Inf. */
  readonly counts: Float64Array
  sum = 0
  count = 0
  constructor (private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1)
  }

  observe (value: number): void {
    let i = 0
    while (i < this.bounds.length && value > (this.bounds[i] as number)) i++
    this.counts[i] = (this.counts[i] as number) + 1
    this.sum += value
    this.count++
  }
}

export class PreboundHistogram<L extends string> extends PreboundFamily<L, HistogramSeries> {
  readonly type = 'histogram'

  constructor (name: string, help: string, labelNames: readonly L[], readonly bounds: readonly number[], registry: Registry) {
    // As prom-client's Histogram: a label of that name would take the place of the bucket's bound.
    if ((labelNames as readonly string[]).includes('le')) throw new Error('le is a reserved label keyword')
    super(name, help, labelNames, registry)
  }

  protected create (): HistogramSeries { return new HistogramSeries(this.bounds) }

  protected export (labels: LabelValues<L>, series: HistogramSeries): ExportedValue[] {
    let cumulated = 0
    const buckets = [...this.bounds, '+Inf' as const].map((le, i) => {
      cumulated += series.counts[i] as number
      // `le` first, where prom-client writes it.
      return { labels: { le, ...labels }, value: cumulated, metricName: `${this.name}_bucket` }
    })
    return [
      ...buckets,
      { labels, value: series.sum, metricName: `${this.name}_sum` },
      { labels, value: series.count, metricName: `${this.name}_count` }
    ]
  }
}
