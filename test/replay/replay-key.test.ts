import t from 'tap'
import { MAX_KEY_BYTES, replayKey } from '../../src/replay/replay-key.js'

t.test('prefix + folder + / + file', async (t) => {
  t.equal(replayKey('', 'season-1/game-42', 'replay.json'), 'season-1/game-42/replay.json')
  t.equal(replayKey('prod/', 'g42', 'r.json'), 'prod/g42/r.json')
  t.equal(replayKey('', 'g42/', 'r.json'), 'g42/r.json', 'one trailing slash on the folder is tolerated')
  t.equal(replayKey('', 'spiele/straße', 'wiederholung ü.json'), 'spiele/straße/wiederholung ü.json', 'Unicode and spaces are fine')
  t.equal(replayKey('', 'a..b', '..json'), 'a..b/..json', 'dots inside a name are not a traversal')
})

t.test('a key that could leave its folder is refused', async (t) => {
  const refused: Array<[string, string, RegExp]> = [
    ['', 'r.json', /game folder is empty/],
    ['/', 'r.json', /game folder is empty/],
    ['/etc', 'passwd', /starts with "\/"/],
    ['../other', 'r.json', /"\.\." segment/],
    ['a/../../b', 'r.json', /"\.\." segment/],
    ['a/./b', 'r.json', /"\." segment/],
    ['a//b', 'r.json', /empty segment/],
    ['a', '', /file name is empty/],
    ['a', '../b.json', /contains "\/"/],
    ['a', 'sub/r.json', /contains "\/"/],
    ['a', '..', /file name is "\.\."/],
    ['a', '.', /file name is "\."/],
    ['a\\..\\b', 'r.json', /control character or backslash/],
    ['a', 'r\u0000.json', /control character/],
    ['a', 'r\n.json', /control character/],
    ['a\u007f', 'r.json', /control character/],
    ['a\u0085', 'r.json', /control character/],
    ['a', 'r\ud800.json', /not valid Unicode/],
    ['a', 'x'.repeat(MAX_KEY_BYTES), /longer than 1024 bytes/]
  ]
  for (const [folder, file, reason] of refused) {
    t.throws(() => replayKey('', folder, file), { name: 'UnsafeReplayKeyError', reason }, JSON.stringify([folder, file]))
  }
  t.equal(replayKey('', 'a', 'é'.repeat(509)).length, 511, 'the byte limit counts UTF-8 bytes: 2 + 1018 bytes is fine')
  t.throws(() => replayKey('', 'a', 'é'.repeat(512)), { name: 'UnsafeReplayKeyError', reason: /longer than 1024 bytes/ })
})
