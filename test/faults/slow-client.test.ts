// A client that reads a 50 MiB replay at 100 KiB/s, then goes away: the
// service holds no more than a few buffers of it (backpressure reaches S3),
// no timeout kills the download while it moves, and the S3 request ends with it.
import { randomBytes } from 'node:crypto'
import { connect, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { parseConfig } from '../../src/config/index.js'
import { buildTestApp, listen, openTestBucket, openTestDatabase, testConfig } from '../helper.js'
import { startTcpProxy } from '../support/tcp-proxy.js'

const MIB = 1024 * 1024
const RATE = 100 * 1024 // bytes per second
const SECONDS = 10

t.test(`a client reading a 50 MiB replay at 100 KiB/s for ${SECONDS} s: flat memory, no timeout, S3 released when it leaves`, async (t) => {
  const db = await openTestDatabase(t)
  const bucket = await openTestBucket(t)
  await db.insertInto('games').values({ id: '1', game_folder: 'g1', replay_file: 'big.fafreplay' }).execute()
  await bucket.put('g1/big.fafreplay', randomBytes(50 * MIB))
  const proxy = await startTcpProxy(t, bucket.s3.endpoint as string)
  // Timeouts far shorter than the download: a moving download must outlive them all.
  const http = { ...parseConfig({}).http, idleTimeoutMs: 2000, headersTimeoutMs: 1000, requestTimeoutMs: 1000, keepAliveTimeoutMs: 1000 }
  const storage = bucket.storage({ s3: { endpoint: proxy.endpoint, connectTimeoutMs: 1000, firstByteTimeoutMs: 1000 } })
  const app = await buildTestApp(t, { config: testConfig({ http }), db, storage })
  const { port } = new URL(await listen(app))

  const socket: Socket = connect(Number(port), '127.0.0.1')
  let received = 0
  let closed = false
  socket.on('close', () => { closed = true })
  socket.on('error', () => {})
  const started = Date.now()
  // Reads no faster than RATE: pauses whenever it is ahead, resumes when the clock catches up.
  socket.on('data', (chunk: Buffer) => {
    received += chunk.length
    const ahead = received / RATE * 1000 - (Date.now() - started)
    if (ahead > 0) {
      socket.pause()
      setTimeout(() => { socket.resume() }, ahead)
    }
  })
  socket.write('GET /games/1/replay/stream HTTP/1.1\r\nHost: replay-gate.test\r\n\r\n')

  await sleep(2000) // past the warm-up: buffers filled, code compiled
  const rssAtStart = process.memoryUsage().rss
  let rssPeak = rssAtStart
  while (Date.now() - started < SECONDS * 1000) {
    await sleep(250)
    rssPeak = Math.max(rssPeak, process.memoryUsage().rss)
  }
  const fromS3 = proxy.returned()
  const growth = (rssPeak - rssAtStart) / MIB
  t.comment(`after ${SECONDS} s: client read ${(received / MIB).toFixed(2)} MiB, S3 sent ${(fromS3 / MIB).toFixed(2)} MiB of 50; RSS peak +${growth.toFixed(1)} MiB over 2 s..${SECONDS} s`)
  t.notOk(closed, 'the download is alive: no timeout cut it while it moved')
  t.ok(received > 0.8 * RATE * SECONDS && received < 1.2 * RATE * SECONDS + 64 * 1024, `the client read at its own pace (${received} bytes)`)
  t.ok(fromS3 < received + 16 * MIB, 'S3 sent only a few buffers more than the client read: backpressure reaches S3')
  t.ok(growth < 24, `the service's memory stayed flat (RSS +${growth.toFixed(1)} MiB while 50 MiB waited in S3)`)

  socket.destroy()
  const left = Date.now()
  while (proxy.open() > 0 && Date.now() - left < 5000) await sleep(20)
  t.equal(proxy.open(), 0, `the S3 request ended ${Date.now() - left} ms after the client left`)
})
