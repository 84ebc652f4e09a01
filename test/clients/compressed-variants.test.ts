// The client matrix with compressed variants recorded: every client ends up
// with the replay's own bytes (SHA-256 of the saved file, or of what a
// decoding client decoded). A client that offers no coding (curl without
// --compressed, wget, aria2c's ranges, Python's urllib) gets the replay
// itself; one that decodes (curl --compressed, wget --compression=auto,
// Node's fetch) gets gzip through the http: URL and the smallest coding it
// offers from /stream. Fronts before the service and S3
// (test/support/http-front.ts) note what each client offered and was sent.
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import type { ContentCoding } from '../../src/model/replay-object.js'
import { buildTestApp, describeBackends, listen, requireRealPart, seedReplays, testConfig } from '../helper.js'
import { sha256 } from '../support/bytes.js'
import { CODINGS, jsonReplay, smallestOf, storeVariants } from '../support/compressed-replays.js'
import { startFront, type Exchange } from '../support/http-front.js'

const run = promisify(execFile)
const CLIENTS = ['curl', 'wget', 'aria2c', 'python3']
const onPath = (name: string): boolean => ['/usr/bin', '/usr/local/bin', '/bin', ...(process.env.PATH ?? '').split(':')].some((dir) => existsSync(join(dir, name)))
const absent = CLIENTS.filter((name) => !onPath(name))
const skip = requireRealPart(t, 'the download client matrix with compressed variants', absent.length === 0 ? undefined : `not installed: ${absent.join(', ')} (Debian: curl wget aria2 python3)`)

t.test('with compressed variants recorded, every client ends up with the replay\'s bytes', { skip }, async (t) => {
  // Larger than aria2c's 16 segments of 1 MiB, so that every connection is used.
  const replay = jsonReplay(17 * 1024 * 1024)
  const digest = sha256(replay)
  const NAME = 'game-5.replay.json'
  const key = 'season-5/game-5/replay.json'
  const { db, bucket } = await seedReplays(t, [{ id: '5', game_folder: 'season-5/game-5', replay_file: 'replay.json', body: replay, contentType: 'application/json' }])
  const variants = await storeVariants(db, bucket, { gameId: '5', key, replay })
  t.comment(`backends: ${describeBackends()}; replay ${replay.length} bytes; variants ${variants.map((v) => `${v.encoding} ${v.body.length}`).join(', ')}${CODINGS.includes('zstd') ? '' : ` (no zstd in Node ${process.version}'s zlib)`}`)

  const s3 = await startFront(t, { target: new URL(bucket.s3.endpoint as string).origin, name: '127.0.0.1' })
  const app = await buildTestApp(t, { config: testConfig(), db, storage: bucket.storage({ s3: { publicEndpoint: s3.origin } }) })
  const service = await startFront(t, { target: await listen(app), name: '127.0.0.1' })
  const redirect = `${service.origin}/games/5/replay`
  const stream = `${redirect}/stream`
  const work = await mkdtemp(join(tmpdir(), 'replay-gate-variant-clients-'))
  t.teardown(() => rm(work, { recursive: true, force: true }))
  let folders = 0
  const folder = async (): Promise<string> => await mkdtemp(join(work, `${folders++}-`))
  const savedIn = async (dir: string): Promise<{ names: string[], sha: string }> => {
    const names = (await readdir(dir)).filter((name) => !name.endsWith('.aria2'))
    return { names, sha: names.length === 1 ? sha256(await readFile(join(dir, names[0] as string))) : '' }
  }

  /** What the client offered the service, and which objects S3 sent it in which coding, while `action` ran. */
  const watch = async (action: () => Promise<unknown>): Promise<{ offered: string[], streamed: string[], read: string[] }> => {
    const [fromService, fromS3] = [service.exchanges.length, s3.exchanges.length]
    await action()
    const asked = service.exchanges.slice(fromService).filter((e) => e.method === 'GET')
    return {
      offered: [...new Set(asked.map((e) => e.acceptEncoding ?? 'none'))],
      streamed: asked.filter((e) => e.url.endsWith('/stream')).map((e) => `${e.status} ${e.contentEncoding ?? 'identity'}`),
      read: [...new Set(s3.exchanges.slice(fromS3).filter((e) => e.method === 'GET').map(objectRead))]
    }
  }
  const objectRead = ({ url, status, contentEncoding, range }: Exchange): string =>
    `${new URL(url, 'http://s3').pathname.split('/').at(-1) ?? ''} ${status} ${contentEncoding ?? 'identity'}${range === undefined ? '' : ' ranged'}`
  const identity = 'replay.json 200 identity'
  const variant = (coding: ContentCoding): string => `replay.json.variant-${coding} 200 ${coding}`
  // What /stream sends a client that offers every coding: the smallest stored.
  const smallest = smallestOf(variants, CODINGS)

  t.test('curl -L, without and with --compressed', async (t) => {
    const plain = await folder()
    const seen = await watch(async () => await run('curl', ['-sS', '-L', '-o', join(plain, 'out'), redirect]))
    t.same(seen.offered, ['none'], 'offers no coding')
    t.same(seen.read, [identity], 'S3 sent the replay itself')
    t.same(await savedIn(plain), { names: ['out'], sha: digest }, '-L: the replay\'s bytes')

    const decoded = await folder()
    let downloaded = ''
    const compressed = await watch(async () => { downloaded = (await run('curl', ['-sS', '-L', '--compressed', '-o', join(decoded, 'out'), '-w', '%{size_download}', redirect])).stdout })
    t.match(compressed.offered[0], /gzip/, `--compressed offers gzip (${compressed.offered.join('; ')})`)
    t.same(compressed.read, [variant('gzip')], 'through the http: URL: gzip')
    t.ok(Number(downloaded) * 5 < replay.length, `a fraction of the bytes crossed (${downloaded})`)
    t.same(await savedIn(decoded), { names: ['out'], sha: digest }, '-L --compressed: decoded, the replay\'s bytes')

    const streamed = await folder()
    const fromStream = await watch(async () => await run('curl', ['-sS', '--compressed', '-o', join(streamed, 'out'), stream]))
    t.same(fromStream.streamed, [`200 ${smallest}`], `/stream sent the smallest coding curl offers: ${smallest}`)
    t.same(await savedIn(streamed), { names: ['out'], sha: digest }, '/stream --compressed: decoded, the replay\'s bytes')

    // Each coding on its own: /stream sends it and curl decodes it; the redirect hands out none but gzip through an http: URL.
    for (const { encoding } of variants) {
      const only = await folder()
      const streamedOnly = await watch(async () => await run('curl', ['-sS', '--compressed', '-H', `Accept-Encoding: ${encoding}`, '-o', join(only, 'out'), stream]))
      t.same(streamedOnly.streamed, [`200 ${encoding}`], `/stream, offered ${encoding} alone, sent it`)
      t.same(await savedIn(only), { names: ['out'], sha: digest }, `${encoding} from /stream: decoded, the replay's bytes`)
      const redirected = await folder()
      const followed = await watch(async () => await run('curl', ['-sS', '-L', '--compressed', '-H', `Accept-Encoding: ${encoding}`, '-o', join(redirected, 'out'), redirect]))
      t.same(followed.read, [encoding === 'gzip' ? variant('gzip') : identity], `the redirect, offered ${encoding} alone: ${encoding === 'gzip' ? 'gzip' : 'the replay itself (not through an http: URL)'}`)
      t.same(await savedIn(redirected), { names: ['out'], sha: digest }, `the redirect, offered ${encoding} alone: the replay's bytes`)
    }
  })

  t.test('wget, by default and with --compression=auto', async (t) => {
    const plain = await folder()
    const seen = await watch(async () => await run('wget', ['-q', '-O', 'out', redirect], { cwd: plain }))
    t.same(seen.offered, ['identity'], 'wget says Accept-Encoding: identity')
    t.same(seen.read, [identity], 'S3 sent the replay itself')
    t.same(await savedIn(plain), { names: ['out'], sha: digest }, 'default: the replay\'s bytes')

    const decoded = await folder()
    const auto = await watch(async () => await run('wget', ['-q', '--compression=auto', '-O', 'out', redirect], { cwd: decoded }))
    t.same(auto.offered, ['gzip'], '--compression=auto offers gzip')
    t.same(auto.read, [variant('gzip')], 'S3 sent the gzip variant')
    t.same(await savedIn(decoded), { names: ['out'], sha: digest }, '--compression=auto: saved decoded, the replay\'s bytes')

    const named = await folder()
    const fromStream = await watch(async () => await run('wget', ['-q', '--compression=auto', '--content-disposition', stream], { cwd: named }))
    t.same(fromStream.streamed, ['200 gzip'], '/stream sent gzip')
    t.same(await savedIn(named), { names: [NAME], sha: digest }, '/stream --compression=auto --content-disposition: decoded, under its name')
  })

  t.test('aria2c -x16 -s16 -k1M: ranges, so the replay itself', async (t) => {
    for (const [label, url] of [['redirect', redirect], ['stream', stream]] as const) {
      const dir = await folder()
      const seen = await watch(async () => await run('aria2c', ['-q', '-x16', '-s16', '-k1M', '--allow-overwrite=true', '--auto-file-renaming=false', '-d', dir, url]))
      if (label === 'redirect') {
        // Whether aria2c gets to split the download depends on how fast the first connection reads it
        // (RGW can send all of it first): every read, ranged or not, must be of the replay itself.
        t.ok(seen.read.length > 0 && seen.read.every((read) => /^replay\.json 20[06] identity/.test(read)), `${label}: S3 sent only the replay itself (${seen.read.join('; ')})`)
      } else {
        t.ok(seen.streamed.length > 0 && seen.streamed.every((answer) => / identity$/.test(answer)), `${label}: the service sent the replay itself (${[...new Set(seen.streamed)].join('; ')})`)
      }
      t.same(await savedIn(dir), { names: [NAME], sha: digest }, `${label}: the replay's bytes, under its name`)
    }
  })

  t.test('Python urllib', async (t) => {
    const script = `
import hashlib, sys, urllib.request
with urllib.request.urlopen(sys.argv[1]) as r:
    print(r.status, r.headers.get('Content-Encoding', 'identity'), hashlib.sha256(r.read()).hexdigest())
`
    for (const url of [redirect, stream]) {
      let stdout = ''
      const seen = await watch(async () => { stdout = (await run('python3', ['-c', script, url])).stdout })
      t.same(seen.offered, ['identity'], 'urllib says Accept-Encoding: identity')
      t.equal(stdout.trim(), `200 identity ${digest}`, `${url.endsWith('/stream') ? '/stream' : 'the redirect'}: the replay's bytes`)
    }
  })

  t.test('Node\'s fetch decodes', async (t) => {
    for (const url of [redirect, stream]) {
      let answer: { encoding: string | null, sha: string } = { encoding: null, sha: '' }
      const seen = await watch(async () => {
        const response = await fetch(url)
        answer = { encoding: response.headers.get('content-encoding'), sha: sha256(Buffer.from(await response.arrayBuffer())) }
      })
      t.match(seen.offered[0], /gzip/, `fetch offers gzip (${seen.offered.join('; ')})`)
      t.equal(answer.encoding, 'gzip', `${url.endsWith('/stream') ? '/stream' : 'the redirect'}: gzip`)
      t.equal(answer.sha, digest, 'decoded, the replay\'s bytes')
    }
  })
})
