// Real download clients, as users run them, against the service with its
// default limits: the bytes (SHA-256), the status chain and the saved name.
// curl, wget, aria2c and Python come from Debian's packages (.ci/run installs
// them); a missing one skips loudly here and fails under CI=true.
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { buildTestApp, listen, requireRealPart, seedReplays, testConfig } from '../helper.js'
import { sha256 } from '../support/bytes.js'

const run = promisify(execFile)
const CLIENTS = ['curl', 'wget', 'aria2c', 'python3']
const absent = CLIENTS.filter((name) => !['/usr/bin', '/usr/local/bin', '/bin'].some((dir) => existsSync(join(dir, name))) && !process.env.PATH?.split(':').some((dir) => existsSync(join(dir, name))))
const skip = requireRealPart(t, 'the download client matrix', absent.length === 0 ? undefined : `not installed: ${absent.join(', ')} (Debian: curl wget aria2 python3)`)

// Larger than aria2c's 16 segments of 1 MiB, so that every connection is used.
const replay = randomBytes(17 * 1024 * 1024 + 123)
const digest = sha256(replay)
const NAME = 'game-1.replay.bin'

t.test('every client downloads the replay whole, under its name', { skip }, async (t) => {
  const { db, bucket } = await seedReplays(t, [{ id: '1', game_folder: 'season-3/game-1', replay_file: 'match.bin', body: replay }])
  const base = await listen(await buildTestApp(t, { config: testConfig(), db, storage: bucket.storage() }))
  const redirect = `${base}/games/1/replay`
  const stream = `${redirect}/stream`
  const direct = (await (await fetch(`${redirect}/url`)).json() as { url: string }).url
  const work = await mkdtemp(join(tmpdir(), 'replay-gate-clients-'))
  t.teardown(() => rm(work, { recursive: true, force: true }))
  let folders = 0
  const folder = async (): Promise<string> => await mkdtemp(join(work, `${folders++}-`))
  const saved = async (dir: string): Promise<{ names: string[], sha: string }> => {
    const names = (await readdir(dir)).filter((name) => !name.endsWith('.aria2'))
    return { names, sha: names.length === 1 ? sha256(await readFile(join(dir, names[0] as string))) : '' }
  }
  /** A download cut after `bytes`: the partial file a client resumes. */
  const cut = async (dir: string, name: string, bytes: number): Promise<void> => { await writeFile(join(dir, name), replay.subarray(0, bytes)) }
  const seconds: Record<string, number> = {}

  t.test('curl', async (t) => {
    const followed = await run('curl', ['-sS', '-L', '-o', '-', '-w', '%{stderr}%{http_code} %{num_redirects}', redirect], { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 })
    t.equal(sha256(followed.stdout), digest, '-L: the bytes')
    t.equal(followed.stderr.toString(), '200 1', '-L: one redirect, then 200')
    const head = await run('curl', ['-sS', '-I', redirect])
    t.match(head.stdout, /^HTTP\/1\.1 200 /, '-I: answered by the service')
    t.match(head.stdout, new RegExp(`content-length: ${replay.length}\\r\\n`, 'i'))
    t.match(head.stdout, new RegExp(`content-disposition: attachment; filename="${NAME}"`, 'i'))
    const headFollowed = await run('curl', ['-sS', '-IL', '-o', '/dev/null', '-w', '%{http_code} %{num_redirects} %{url_effective}', redirect])
    t.equal(headFollowed.stdout, `200 0 ${redirect}`, '-IL: nothing to follow')
    const resolved = await run('curl', ['-sS', '-L', '-o', '/dev/null', '-w', '%{url_effective}', redirect])
    const later = await run('curl', ['-sS', '-o', '-', resolved.stdout], { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 })
    t.equal(sha256(later.stdout), digest, 'the URL a GET ended on, fetched later')
    const part = await run('curl', ['-sS', '-L', '-r', '1000-1999', '-o', '-', redirect], { encoding: 'buffer' })
    t.equal(sha256(part.stdout), sha256(replay.subarray(1000, 2000)), '-r: the range')
    const dir = await folder()
    await cut(dir, NAME, 5_000_000)
    const resumed = await run('curl', ['-sS', '-L', '-C', '-', '-o', NAME, '-w', '%{http_code}', redirect], { cwd: dir })
    t.equal(resumed.stdout, '206', '-C -: resumed with a range')
    t.same(await saved(dir), { names: [NAME], sha: digest }, '-C -: the whole file after the cut')
    const named = await folder()
    await run('curl', ['-sS', '-L', '-O', '-J', redirect], { cwd: named })
    t.same(await saved(named), { names: [NAME], sha: digest }, '-OJ: saved under the Content-Disposition name')
  })

  t.test('wget', async (t) => {
    const plain = await folder()
    await run('wget', ['-q', '-O', 'out.bin', redirect], { cwd: plain })
    t.same(await saved(plain), { names: ['out.bin'], sha: digest }, 'plain')
    const named = await folder()
    await run('wget', ['-q', '--content-disposition', redirect], { cwd: named })
    t.same(await saved(named), { names: [NAME], sha: digest }, '--content-disposition: saved under its name')
    const resumed = await folder()
    await cut(resumed, NAME, 7_000_000)
    await run('wget', ['-q', '-c', '-O', NAME, redirect], { cwd: resumed })
    t.same(await saved(resumed), { names: [NAME], sha: digest }, '-c after a cut: resumed through the redirect')
    // wget 1.21 sends a HEAD to every URL of a redirect chain when -c and
    // --content-disposition go together, and a signed URL serves one method:
    // that pair works through /stream, which answers HEAD and Range itself.
    const streamed = await folder()
    await cut(streamed, NAME, 7_000_000)
    await run('wget', ['-q', '-c', '--content-disposition', stream], { cwd: streamed })
    t.same(await saved(streamed), { names: [NAME], sha: digest }, '-c --content-disposition after a cut, through /stream: resumed under its name')
    const refused = await folder()
    await cut(refused, NAME, 7_000_000)
    const limit = await run('wget', ['-q', '-c', '--content-disposition', redirect], { cwd: refused }).then(() => 0, (error: { code: number }) => error.code)
    t.equal(limit, 8, '-c --content-disposition through the redirect: S3 refuses the HEAD on the GET-signed URL (the known limit, docs/http-contract.md)')
    const spider = await run('wget', ['--spider', '-S', redirect])
    t.match(spider.stderr, /HTTP\/1\.1 200 OK/, '--spider: the service answers the HEAD')
    t.match(spider.stderr, new RegExp(`content-length: ${replay.length}`, 'i'))
  })

  t.test('aria2c -x16 -s16 -k1M, three times in a row from one address, with the default limits', async (t) => {
    for (const [label, url] of [['redirect', redirect], ['stream', stream], ['S3 directly', direct]] as const) {
      const times: number[] = []
      for (let round = 0; round < 3; round++) {
        const dir = await folder()
        const started = performance.now()
        await run('aria2c', ['-q', '-x16', '-s16', '-k1M', '--allow-overwrite=true', '--auto-file-renaming=false', '-d', dir, url])
        times.push((performance.now() - started) / 1000)
        const { names, sha } = await saved(dir)
        t.equal(sha, digest, `${label}, round ${round + 1}: the bytes`)
        if (label !== 'S3 directly') t.same(names, [NAME], `${label}, round ${round + 1}: saved under its name`)
      }
      seconds[label] = Math.min(...times)
    }
    t.comment(`aria2c, ${(replay.length / 1048576).toFixed(1)} MiB, best of three: ${Object.entries(seconds).map(([k, v]) => `${k} ${v.toFixed(2)} s`).join(', ')}`)
  })

  t.test('Python: urllib (GET, Range, HEAD) and http.client', async (t) => {
    const script = `
import hashlib, http.client, sys, urllib.parse, urllib.request
url = sys.argv[1]
with urllib.request.urlopen(url) as r:
    print('get', r.status, hashlib.sha256(r.read()).hexdigest())
with urllib.request.urlopen(urllib.request.Request(url, headers={'Range': 'bytes=0-99'})) as r:
    print('range', r.status, r.headers['Content-Range'], hashlib.sha256(r.read()).hexdigest())
with urllib.request.urlopen(urllib.request.Request(url, method='HEAD')) as r:
    print('head', r.status, r.headers['Content-Length'], r.headers['Content-Disposition'])
u = urllib.parse.urlsplit(url)
c = http.client.HTTPConnection(u.hostname, u.port)
c.request('GET', u.path)
r = c.getresponse(); r.read()
location = r.getheader('Location')
print('client', r.status)
s = urllib.parse.urlsplit(location)
c2 = http.client.HTTPConnection(s.hostname, s.port)
c2.request('GET', s.path + '?' + s.query)
r2 = c2.getresponse()
print('client-follow', r2.status, hashlib.sha256(r2.read()).hexdigest())
`
    const { stdout } = await run('python3', ['-c', script, redirect], { maxBuffer: 1024 * 1024 })
    t.same(stdout.trim().split('\n'), [
      `get 200 ${digest}`,
      `range 206 bytes 0-99/${replay.length} ${sha256(replay.subarray(0, 100))}`,
      `head 200 ${replay.length} attachment; filename="${NAME}"`,
      'client 302',
      `client-follow 200 ${digest}`
    ])
  })

  t.test('Node\'s fetch, following and not', async (t) => {
    const followed = await fetch(redirect)
    t.equal(followed.status, 200)
    t.ok(followed.redirected)
    t.equal(sha256(Buffer.from(await followed.arrayBuffer())), digest)
    const manual = await fetch(redirect, { redirect: 'manual' })
    t.equal(manual.status, 302)
    const location = String(manual.headers.get('location'))
    t.equal(sha256(Buffer.from(await (await fetch(location)).arrayBuffer())), digest)
    const head = await fetch(redirect, { method: 'HEAD' })
    t.same([head.status, head.redirected, head.headers.get('content-length')], [200, false, String(replay.length)])
  })
})
