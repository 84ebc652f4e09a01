// TRUST_PROXY set, and a proxy that never sends X-Forwarded-For: said once.
import t, { type Test } from 'tap'
import type { AppConfig } from '../../src/config/index.js'
import { REQUESTS_BEFORE_WARNING } from '../../src/plugins/forwarded-for-check.js'
import { buildTestApp, seedReplays, testConfig } from '../helper.js'

const { db, bucket } = await seedReplays(t, [{ id: '3', game_folder: 'g3', replay_file: 'r.json' }])
const storage = bucket.storage()
const WARNING = /TRUST_PROXY is set, but 50 requests from a trusted proxy came without X-Forwarded-For/

/** An app with this TRUST_PROXY, and the warnings it logged. */
async function proxied (t: Test, trustProxy: AppConfig['trustProxy']) {
  const lines: string[] = []
  const app = await buildTestApp(t, { config: testConfig({ trustProxy }), db, storage, logger: { level: 'warn', stream: { write: (line: string) => { lines.push(line) } } } })
  const send = async (count: number, options: { remoteAddress?: string, headers?: Record<string, string>, url?: string } = {}): Promise<void> => {
    const statuses = new Set<number>()
    for (let i = 0; i < count; i++) {
      statuses.add((await app.inject({ url: options.url ?? '/games/3/replay', remoteAddress: options.remoteAddress, headers: options.headers })).statusCode)
    }
    t.same([...statuses], [options.url === undefined ? 302 : 200], `${count} requests served`)
  }
  const warnings = () => lines.map((line) => JSON.parse(line) as { msg: string, peer?: string, requests?: number }).filter((line) => line.msg.startsWith('TRUST_PROXY is set'))
  return { send, warnings }
}

t.test('TRUST_PROXY set and no X-Forwarded-For from the proxy: one warning, after the first requests', async (t) => {
  const { send, warnings } = await proxied(t, 1)
  await send(REQUESTS_BEFORE_WARNING * 2, { url: '/readyz' })
  t.same(warnings(), [], 'a balancer\'s health checks have no such header: they do not count')
  await send(REQUESTS_BEFORE_WARNING - 1)
  t.same(warnings(), [], 'not after a few requests')
  await send(1)
  t.match(warnings(), [{ msg: WARNING, peer: '127.0.0.1', requests: REQUESTS_BEFORE_WARNING }])
  t.match(warnings()[0]?.msg, /option forwardfor/, 'and says how to fix it')
  await send(REQUESTS_BEFORE_WARNING * 2)
  t.equal(warnings().length, 1, 'once')
})

t.test('no warning once the header has been seen, nor for peers that are not the trusted proxies', async (t) => {
  const seen = await proxied(t, 2)
  await proxySendsTheHeader(seen.send)
  t.same(seen.warnings(), [], 'the proxy sends it: requests without it come from elsewhere')

  const listed = await proxied(t, ['10.0.0.0/8', '192.168.1.7', 'fd00::/8'])
  await listed.send(REQUESTS_BEFORE_WARNING * 2, { remoteAddress: '127.0.0.1' })
  await listed.send(REQUESTS_BEFORE_WARNING, { remoteAddress: 'fe80::1' })
  t.same(listed.warnings(), [], 'direct requests from other addresses do not count')
  await listed.send(REQUESTS_BEFORE_WARNING - 2, { remoteAddress: '::ffff:10.1.2.3' })
  await listed.send(1, { remoteAddress: 'fd00::9' })
  await listed.send(1, { remoteAddress: '192.168.1.7', headers: { forwarded: 'for=203.0.113.9' } })
  t.match(listed.warnings(), [{ msg: /Forwarded, which the service does not read/, peer: '192.168.1.7' }], 'a listed address, a range, an IPv4 address written as IPv6')
})

async function proxySendsTheHeader (send: (count: number, options?: { headers?: Record<string, string> }) => Promise<void>): Promise<void> {
  await send(1, { headers: { 'x-forwarded-for': '203.0.113.7' } })
  await send(REQUESTS_BEFORE_WARNING * 2)
}
