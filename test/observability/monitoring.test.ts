// The shipped dashboard and alerting rules query only metrics the service
// exports: a renamed metric must not leave a panel empty or an alert silent.
import { readFileSync } from 'node:fs'
import t from 'tap'
import { parse } from 'yaml'
import { Metrics } from '../../src/observability/metrics.js'
import { buildTestApp, createPostgresDatabase, listen, MACHINE_POSTGRES, openTestBucket, postgresMissing, requireRealPart, testConfig } from '../helper.js'

const monitoring = new URL('../../monitoring/', import.meta.url)

/** Names PromQL gives to what follows them, never to a metric. */
const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset'])

/**
 * The metric names an expression selects: label matchers, ranges, strings and
 * grouping clauses taken out, what is left that is not a function call or a
 * keyword. Grafana's label_values(metric, label) keeps its metric.
 */
function metricNames (expr: string): string[] {
  const bare = expr
    .replace(/label_values\((.*),\s*[a-zA-Z_]\w*\)/g, '$1')
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
  return [...bare.matchAll(/(?<![\w:$.])([a-zA-Z_:][\w:]*)(?![\w:]|\s*\()/g)]
    .map(([, name]) => name as string)
    .filter((name) => !KEYWORDS.has(name))
}

/** Every PromQL expression of the dashboard: its panels' targets and its variables' queries. */
function dashboardExpressions (node: unknown, found: string[] = []): string[] {
  if (Array.isArray(node)) for (const item of node) dashboardExpressions(item, found)
  else if (typeof node === 'object' && node !== null) {
    for (const [key, value] of Object.entries(node)) {
      if ((key === 'expr' || key === 'query') && typeof value === 'string' && value !== 'prometheus') found.push(value)
      else dashboardExpressions(value, found)
    }
  }
  return found
}

interface RuleFile { groups: Array<{ name: string, rules: Array<{ alert: string, expr: string }> }> }

t.test('the extraction finds metric names, and only those', async (t) => {
  t.same(metricNames('histogram_quantile(0.99, sum by (le, operation) (rate(a_bucket{route="/x{y}",job=~"$job"}[$__rate_interval])))'), ['a_bucket'])
  t.same(metricNames('sum by (job) (rate(b_total{status=~"5.."}[5m])) / sum without (x) (rate(c_count[5m])) > 0.05'), ['b_total', 'c_count'])
  t.same(metricNames('up{job="replay-gate"} == 0 and on (instance) d offset 1h'), ['up', 'd'])
  t.same(metricNames('label_values(e_info{job=~"$job"}, instance)'), ['e_info'])
})

t.test('every metric the dashboard and the alerts query is in /metrics, process metrics under their stock names', async (t) => {
  const dashboard = JSON.parse(readFileSync(new URL('grafana-dashboard.json', monitoring), 'utf8')) as unknown
  const rules = parse(readFileSync(new URL('alerts.yml', monitoring), 'utf8')) as RuleFile
  const expressions = [
    ...dashboardExpressions(dashboard).map((expr) => ({ where: 'grafana-dashboard.json', expr })),
    ...rules.groups.flatMap((group) => group.rules.map((rule) => ({ where: `alerts.yml ${rule.alert}`, expr: rule.expr })))
  ]
  t.ok(expressions.length >= 20, `found the expressions (${expressions.length})`)
  t.same(rules.groups.flatMap((group) => group.rules.map((rule) => rule.alert)), [
    'ReplayGateHigh5xxRatio', 'ReplayGateRedirectSlow', 'ReplayGateInstanceDown', 'ReplayGateInstanceNotReady', 'ReplayGateS3ErrorsRising', 'ReplayGateDatabasePoolWaiting'
  ])

  // A real pool, for its gauges: local mode's PGlite has none.
  if (requireRealPart(t, 'PostgreSQL for the pool gauges', await postgresMissing(MACHINE_POSTGRES)) !== false) return
  const [{ db, pool }, bucket] = await Promise.all([createPostgresDatabase(t, MACHINE_POSTGRES), openTestBucket(t)])
  await db.insertInto('games').values([{ id: '1', game_folder: 'g1', replay_file: 'r.json' }, { id: '2', game_folder: 'g2', replay_file: 'gone.json' }]).execute()
  await bucket.put('g1/r.json', '{"replay":1}')
  const metrics = new Metrics()
  metrics.observePool(pool)
  const app = await buildTestApp(t, {
    config: testConfig({ streamRateLimit: { max: 3, windowSeconds: 60 } }),
    db,
    storage: bucket.storage({ onRequest: metrics.observeS3Request }),
    metrics
  })
  const base = await listen(app)
  // A redirect, a download, a missing object, a refusal past the rate limit, a probe.
  t.equal((await fetch(`${base}/games/1/replay`, { redirect: 'manual' })).status, 302)
  const download = await fetch(`${base}/games/1/replay/stream`)
  t.equal(download.status, 200)
  await download.arrayBuffer()
  t.equal((await fetch(`${base}/games/2/replay/stream`)).status, 404)
  t.equal((await fetch(`${base}/games/1/replay/stream`, { method: 'HEAD' })).status, 200)
  t.equal((await fetch(`${base}/games/1/replay/stream`)).status, 429)
  t.equal((await fetch(`${base}/readyz`)).status, 200)
  const exported = await (await fetch(`${base}/metrics`)).text()

  // The series written out, and the families that have none yet (a labelled counter before its first count).
  const series = new Set([...exported.matchAll(/^([a-zA-Z_:][\w:]*)[{ ]/gm)].map(([, name]) => name as string))
  const families = new Set([...exported.matchAll(/^# TYPE (\S+) /gm)].map(([, name]) => name as string))
  // Prometheus writes `up` itself for every scrape.
  const scraped = new Set(['up'])
  for (const { where, expr } of expressions) {
    const names = metricNames(expr)
    t.ok(names.length > 0, `${where} queries a metric: ${expr}`)
    for (const name of names) t.ok(series.has(name) || scraped.has(name), `${where}: ${name} is exported`, { expr })
  }
  t.ok(families.has('replay_gate_rejected_requests_total') && series.has('replay_gate_rejected_requests_total'), 'rejections are counted once one happens')
  t.match(exported, /^process_cpu_seconds_total /m)
  t.notMatch(exported, /^replay_gate_(process|nodejs)_/m)
})
