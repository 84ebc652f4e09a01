// Stopping the service: the last line of every run, and a signal that comes
// while the start is still opening its backends. Spawned: exit codes and
// signals need a process of their own.
import t from 'tap'
import { localDataDir, spawnEntry } from './support/spawn-service.js'

/** The JSON lines a run wrote on standard output. */
function jsonLines (service: { stdout: () => string }): Array<Record<string, unknown>> {
  return service.stdout().split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>)
}

t.test('SIGTERM while local mode still makes its database: the start stops cleanly, with a line, and the next start works', async (t) => {
  // An empty folder: the database is made, migrated and seeded, which takes a while.
  const dataDir = await localDataDir(t, { database: false })
  const service = spawnEntry('server.ts', { PORT: '0', LOCAL_DATA_DIR: dataDir })
  await service.waitFor(/"msg":"starting"/)
  service.child.kill('SIGTERM')
  t.same(await service.exited, { code: 0, signal: null }, 'exits 0, not killed by the signal')
  const lines = jsonLines(service)
  t.match(lines, [{ level: 30, msg: 'starting', mode: 'local' }, { level: 40, msg: /^stopping during the start/, signal: 'SIGTERM' }, { level: 30, msg: 'stopped', exitCode: 0 }])
  t.equal(lines.length, 3, 'nothing served, nothing else said')
  t.notMatch(service.stdout(), /curl -sL/, 'no banner: it never listened')

  const again = spawnEntry('server.ts', { PORT: '0', LOCAL_DATA_DIR: dataDir, LOG_LEVEL: 'warn' })
  const [, url] = await again.waitFor(/curl -sL (http:\/\/127\.0\.0\.1:\d+\/games\/1\/replay) /)
  const served = await fetch(url as string)
  t.equal(served.status, 200, `the folder it left starts${served.status === 200 ? '' : `: ${await served.text()}`}`)
  again.child.kill('SIGTERM')
  t.same(await again.exited, { code: 0, signal: null })
  t.notMatch(again.stdout(), /"msg":"stopped"/, 'LOG_LEVEL=warn: the info line is left out too')
})

t.test('a second signal during the start exits at once, 1, with a line', async (t) => {
  const service = spawnEntry('server.ts', { PORT: '0', LOCAL_DATA_DIR: await localDataDir(t, { database: false }) })
  await service.waitFor(/"msg":"starting"/)
  service.child.kill('SIGTERM')
  await service.waitFor(/"msg":"stopping during the start/)
  service.child.kill('SIGINT')
  t.same(await service.exited, { code: 1, signal: null })
  t.match(jsonLines(service).slice(-2), [{ level: 40, msg: 'a second signal during the start: exiting at once', signal: 'SIGINT' }, { level: 50, msg: 'stopped', exitCode: 1 }])
})
