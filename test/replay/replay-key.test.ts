import t from 'tap'
import { MAX_KEY_BYTES, replayFileName, replayKey, wholeReplayKey } from '../../src/replay/replay-key.js'

t.test('prefix + folder + / + file', async (t) => {
  t.equal(replayKey('', 'season-1/game-42', 'replay.json'), 'season-1/game-42/replay.json')
  t.equal(replayKey('prod/', 'g42', 'r.json'), 'prod/g42/r.json')
  t.equal(replayKey('', 'g42/', 'r.json'), 'g42/r.json', 'one trailing slash on the folder is tolerated')
  t.equal(replayKey('', 'spiele/straße', 'wiederholung ü.json'), 'spiele/straße/wiederholung ü.json', 'Unicode and spaces are fine')
  t.equal(replayKey('', 'a..b', '..json'), 'a..b/..json', 'dots inside a name are not a traversal')
  t.equal(replayKey('p/', 'platform', '2024/05/match-9.json'), 'p/platform/2024/05/match-9.json', 'a file name may hold sub-folders')
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
    ['a', '../b.json', /file name has a "\.\." segment/],
    ['a', 'sub/../../r.json', /file name has a "\.\." segment/],
    ['a', '/r.json', /file name starts with "\/"/],
    ['a', 'sub//r.json', /file name has an empty segment/],
    ['a', 'sub/', /file name ends with "\/"/],
    ['a', 'sub\\r.json', /file name contains a control character or backslash/],
    ['a', '..', /file name has a "\.\." segment/],
    ['a', '.', /file name has a "\." segment/],
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

t.test('a whole key below the prefix: sub-folders, by the same rules', async (t) => {
  t.equal(wholeReplayKey('', '2024/05/match-9.json'), '2024/05/match-9.json')
  t.equal(wholeReplayKey('replays/', 'm.json'), 'replays/m.json', 'a key without folders is fine too')
  const refused: Array<[string, RegExp]> = [
    ['', /replay key is empty/],
    ['/2024/m.json', /replay key starts with "\/"/],
    ['2024/../../m.json', /replay key has a "\.\." segment/],
    ['2024//m.json', /replay key has an empty segment/],
    ['2024/05/', /replay key ends with "\/"/],
    ['2024\\m.json', /control character or backslash/],
    ['2024/m\u0000.json', /control character/],
    ['x'.repeat(MAX_KEY_BYTES + 1), /longer than 1024 bytes/]
  ]
  for (const [key, reason] of refused) t.throws(() => wholeReplayKey('', key), { name: 'UnsafeReplayKeyError', reason }, JSON.stringify(key))
})

t.test('the file name of a path is its last segment', async (t) => {
  t.equal(replayFileName('2024/05/match-9.json'), 'match-9.json')
  t.equal(replayFileName('replay.json'), 'replay.json')
})
