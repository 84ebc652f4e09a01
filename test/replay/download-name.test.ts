import t from 'tap'
import { attachment, downloadHeaders, replayExtension } from '../../src/replay/download-name.js'

t.test('the extension comes from the stored file name', async (t) => {
  const cases: Array<[string, string]> = [
    ['replay.json', 'json'],
    ['12345.replay.json', 'json'],
    ['r.json.gz', 'json.gz'],
    ['r.JSON.GZ', 'JSON.GZ'],
    ['r.gz', 'gz'],
    ['r.tar.zst', 'tar.zst'],
    ['game.fafreplay', 'fafreplay'],
    ['replay', ''],
    ['.hidden', ''],
    ['r.', ''],
    ['r.j"son', ''],
    ['r.json;x', ''],
    ['r.waytoolongextension1', ''],
    ['r.bad-part.gz', 'gz'],
    ['r.données', ''],
    ['r.ｊｓｏｎ', '']
  ]
  for (const [file, extension] of cases) t.equal(replayExtension(file), extension, file)
})

t.test('disposition and type, as the redirect asks S3 for them', async (t) => {
  t.same(downloadHeaders('42', 'replay.json'), { contentDisposition: 'attachment; filename="game-42.replay.json"', contentType: 'application/json' })
  t.same(downloadHeaders('42', 'r.json.gz'), { contentDisposition: 'attachment; filename="game-42.replay.json.gz"', contentType: 'application/gzip' })
  t.same(downloadHeaders('42', 'r.ZST'), { contentDisposition: 'attachment; filename="game-42.replay.ZST"', contentType: 'application/zstd' })
  t.same(downloadHeaders('42', 'r.fafreplay'), { contentDisposition: 'attachment; filename="game-42.replay.fafreplay"', contentType: undefined })
  t.same(downloadHeaders('42', '2024.05/match-9.json'), { contentDisposition: 'attachment; filename="game-42.replay.json"', contentType: 'application/json' },
    'the extension of the last segment of a path')
  t.same(downloadHeaders('42', 'season-2/.json'), { contentDisposition: 'attachment; filename="game-42.replay"', contentType: undefined },
    'a hidden file in a sub-folder has no extension')
  t.same(downloadHeaders('7', 'replay'), { contentDisposition: 'attachment; filename="game-7.replay"', contentType: undefined })
  t.same(downloadHeaders('7', 'r.données'), { contentDisposition: 'attachment; filename="game-7.replay"', contentType: undefined },
    'an extension that is not plain ASCII is left out')
})

t.test('RFC 6266 quoting; the RFC 5987 form only for a name that is not plain ASCII', async (t) => {
  t.equal(attachment('game-7.replay.données', 'game-7.replay'), 'attachment; filename="game-7.replay"; filename*=UTF-8\'\'game-7.replay.donn%C3%A9es')
  t.equal(attachment('a b.json', 'x'), 'attachment; filename="a b.json"')
  t.equal(attachment('a"b', 'x'), 'attachment; filename="x"; filename*=UTF-8\'\'a%22b', 'a quote never goes into the quoted form')
  t.equal(attachment("it's (1)*.json", 'x'), 'attachment; filename="it\'s (1)*.json"')
  t.equal(attachment("é's (1)*", 'x'), 'attachment; filename="x"; filename*=UTF-8\'\'%C3%A9%27s%20%281%29%2A', "' ( ) * are not attr-chars")
})
