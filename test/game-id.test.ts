import t from 'tap'
import { parseGameId } from '../src/game-id.js'

t.test('plain decimal ids from 1 to 2^53 - 1 pass unchanged', async (t) => {
  for (const id of ['1', '9', '10', '42', '1000000', '9007199254740991']) t.equal(parseGameId(id), id)
})

t.test('everything else is INVALID_GAME_ID', async (t) => {
  for (const id of ['', '0', '00', '01', '-1', '+1', ' 1', '1 ', '1.0', '1.5', '1e3', '0x10', '0b1', '1_000',
    'abc', 'NaN', 'Infinity', '9007199254740992', '9007199254740993', '10000000000000000', '١', '1'.repeat(8192)]) {
    t.throws(() => parseGameId(id), { code: 'INVALID_GAME_ID', statusCode: 400 }, JSON.stringify(id.slice(0, 20)))
  }
})
