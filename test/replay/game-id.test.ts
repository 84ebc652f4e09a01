import t from 'tap'
import { decimalsUpTo, GAME_ID_PATTERN, isGameId } from '../../src/replay/game-id.js'

t.test('plain decimal ids from 1 to 2^53 - 1 pass', async (t) => {
  for (const id of ['1', '9', '10', '42', '1000000', '8999999999999999', '9007199254740990', '9007199254740991']) t.ok(isGameId(id), id)
})

t.test('everything else breaks the rule', async (t) => {
  for (const id of ['', '0', '00', '01', '-1', '+1', ' 1', '1 ', '1.0', '1.5', '1e3', '0x10', '0b1', '1_000',
    'abc', 'NaN', 'Infinity', '9007199254740992', '9007199254740993', '9007199254740999', '10000000000000000', '١', '1'.repeat(8192)]) {
    t.notOk(isGameId(id), JSON.stringify(id.slice(0, 20)))
  }
})

t.test('the pattern is exactly the decimals from 1 to its maximum, for any maximum', async (t) => {
  for (const max of ['1', '7', '9', '10', '19', '20', '99', '100', '205', '1000', '4096']) {
    const pattern = new RegExp(decimalsUpTo(max), 'u')
    const wrong: number[] = []
    for (let n = 0; n <= Number(max) * 2 + 20; n++) if (pattern.test(String(n)) !== (n >= 1 && n <= Number(max))) wrong.push(n)
    t.same(wrong, [], `1..${max}`)
  }
  t.equal(GAME_ID_PATTERN, decimalsUpTo(String(Number.MAX_SAFE_INTEGER)))
})
