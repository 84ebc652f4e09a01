// Graceful shutdown of the real entry point: SIGTERM while a download runs.
import t from 'tap'
import { sha256 } from './support/bytes.js'
import { localDataDir, spawnEntry } from './support/spawn-service.js'
import { serviceWithStream } from './support/stream-service.js'
import { waitUntil } from './support/wait.js'

t.test('SIGTERM during a download: no new connections, the download completes, the process exits 0', async (t) => {
  const { service, replay, response, readAll } = await serviceWithStream(t)
  t.equal(response.statusCode, 200)
  service.child.kill('SIGTERM')
  await service.waitFor(/shutting down: no new connections/)
  const port = new URL(String((/curl -sL (http:\/\/[^/]+)/.exec(service.stdout()) ?? [])[1])).port
  // The listener closes just after that line is logged: wait for a refused connection rather than a
  // fixed time (an answer, or a kept-alive connection cut, is not that yet).
  const refused = await waitUntil(async () => await fetch(`http://127.0.0.1:${port}/healthz`).then(() => undefined,
    (error: Error) => (error.cause as NodeJS.ErrnoException | undefined)?.code === 'ECONNREFUSED' ? true : undefined))
  t.ok(refused, 'new connections are refused')
  t.equal(service.child.exitCode, null, 'still running while the download is unfinished')
  const { bytes, complete } = await readAll()
  t.ok(complete, 'the download ended cleanly')
  t.equal(bytes.length, replay.length)
  t.equal(sha256(bytes), sha256(replay), 'every byte')
  t.same(await service.exited, { code: 0, signal: null })
})

t.test('a download still running at SHUTDOWN_TIMEOUT_MS is cut, and the process still exits 0', async (t) => {
  const { service, replay, readAll } = await serviceWithStream(t, { SHUTDOWN_TIMEOUT_MS: '500' })
  const started = Date.now()
  service.child.kill('SIGTERM')
  const exited = await service.exited
  t.same(exited, { code: 0, signal: null })
  t.ok(Date.now() - started < 5000, `exited ${Date.now() - started} ms after SIGTERM`)
  t.match(service.stdout(), /shutdown deadline reached/)
  const { bytes, complete } = await readAll()
  t.notOk(complete, 'the client sees a broken transfer, not a short file that looks whole')
  t.ok(bytes.length < replay.length)
})

t.test('a second signal exits at once', async (t) => {
  const { service } = await serviceWithStream(t, { SHUTDOWN_TIMEOUT_MS: '60000' })
  service.child.kill('SIGTERM')
  await service.waitFor(/shutting down/)
  const started = Date.now()
  service.child.kill('SIGTERM')
  t.equal((await service.exited).code, 1)
  t.ok(Date.now() - started < 3000, 'without waiting for the download')
  // Local mode's banner (how to try it) is for the person who started it; every log line is JSON.
  const lines = service.stdout().split('\n').filter((line) => line.startsWith('{'))
  t.notMatch(service.stdout(), /^second SIGTERM/m, 'close-with-grace\'s own message is no plain-text line')
  t.match(lines.map((line) => JSON.parse(line) as { msg: string }).slice(-3), [
    { msg: 'shutting down: no new connections, running downloads may finish' }, { msg: 'second SIGTERM, exiting' }, { level: 50, msg: 'stopped', exitCode: 1 }
  ])
})

t.test('SHUTDOWN_DELAY_MS: /readyz answers 503 at once while requests are still served, then the listener closes', async (t) => {
  const dataDir = await localDataDir(t)
  const service = spawnEntry('server.ts', { PORT: '0', LOCAL_DATA_DIR: dataDir, LOG_LEVEL: 'warn', SHUTDOWN_DELAY_MS: '1500' })
  t.teardown(() => { service.child.kill('SIGKILL') })
  const [, base] = await service.waitFor(/curl -sL (http:\/\/127\.0\.0\.1:\d+)\/games\/1\/replay /)
  const ready = await fetch(`${base as string}/readyz`)
  t.equal(ready.status, 200, 'ready, and that answer is now kept a second')
  const signalled = Date.now()
  service.child.kill('SIGTERM')
  await service.waitFor(/draining: \/readyz answers 503/)
  const draining = await fetch(`${base as string}/readyz`)
  t.equal(draining.status, 503, 'not the kept ready answer: the drain shows at once')
  t.match(await draining.json(), { status: 'draining' })
  t.equal((await fetch(`${base as string}/games/1/replay`, { redirect: 'manual' })).status, 302, 'requests are still served')
  t.equal((await service.exited).code, 0)
  t.ok(Date.now() - signalled >= 1500, 'the listener closed after the delay')
})
