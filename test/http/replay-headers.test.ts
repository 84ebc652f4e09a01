// A recorded variant missing from the bucket is said once per variant, in bounded memory.
import t from 'tap'
import { missingVariant } from '../../src/http/replay-headers.js'

t.test('each missing variant is logged once; the memory of them is bounded', async (t) => {
  const lines: object[] = []
  const log = { warn: (details: object) => { lines.push(details) } }
  const variant = (i: number) => ({ key: `g${i}/replay.json.variant-gzip`, contentDisposition: 'attachment', contentType: undefined, contentEncoding: 'gzip' as const })
  missingVariant(log, '1', variant(1))
  missingVariant(log, '1', variant(1))
  t.same(lines, [{ gameId: '1', key: 'g1/replay.json.variant-gzip', encoding: 'gzip' }])
  for (let i = 2; i <= 10_001; i++) missingVariant(log, String(i), variant(i))
  t.equal(lines.length, 10_001)
  missingVariant(log, '1', variant(1))
  t.equal(lines.length, 10_002, 'forgotten once 10,000 others were seen: said again')
})
