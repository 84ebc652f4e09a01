// A client that reads a 50 MiB replay at 100 KiB/s, then goes away: the
// service holds no more than a few buffers of it (backpressure reaches S3),
// no timeout kills the download while it moves, and the S3 request ends with it.
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { parseConfig } from '../../src/config/index.js'
import { buildTestApp, listen, seedReplays, testConfig } from '../helper.js'
import { rawConnection } from '../support/raw-http.js'
import { startTcpProxy } from '../support/tcp-proxy.js'
import { sleep, waitUntil } from '../support/wait.js'

const MIB = 1024 * 1024
const RATE = 100 * 1024 // bytes per second
const SECONDS = 10

t.test(`a client reading a 50 MiB replay at 100 KiB/s for ${SECONDS} s: flat memory, no timeout, S3 released when it leaves`, async (t) => {
  const { db, bucket } = await seedReplays(t, [{ id: '1', game_folder: 'g1', replay_file: 'big.fafreplay', body: randomBytes(50 * MIB) }])
  const proxy = await startTcpProxy(t, bucket.s3.endpoint as string)
  // Timeouts far shorter than the download: a moving download must outlive them all.
  const http = { ...parseConfig({}).http, idleTimeoutMs: 2000, headersTimeoutMs: 1000, requestTimeoutMs: 1000, keepAliveTimeoutMs: 1000 }
  const storage = bucket.storage({ s3: { endpoint: proxy.endpoint, connectTimeoutMs: 1000, firstByteTimeoutMs: 1000 } })
  const app = await buildTestApp(t, { config: testConfig({ http }), db, storage })
  const { port } = new URL(await listen(app))
  // The readiness check's connection (the S3 client keeps it alive) is not the download's.
  const before = proxy.open()

  // Nothing collected: the client counts what it reads, and 50 MiB need not be kept.
  const { socket, closed: closing } = await rawConnection(port, { collect: false })
  let received = 0
  let closed = false
  closing.then(() => { closed = true }, () => {})
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

  // Fixed times on purpose: the download is measured over the clock, memory from 2 s on.
  await sleep(2000) // past the warm-up: buffers filled, code compiled
  const rssAtStart = process.memoryUsage().rss
  let rssPeak = rssAtStart
  let halfway: { fromS3: number, received: number } | undefined
  while (Date.now() - started < SECONDS * 1000) {
    await sleep(250)
    rssPeak = Math.max(rssPeak, process.memoryUsage().rss)
    if (halfway === undefined && Date.now() - started >= SECONDS * 500) halfway = { fromS3: proxy.returned(), received }
  }
  const fromS3 = proxy.returned()
  const growth = (rssPeak - rssAtStart) / MIB
  const { fromS3: fromS3Halfway, received: receivedHalfway } = halfway as { fromS3: number, received: number }
  t.comment(`after ${SECONDS} s: client read ${(received / MIB).toFixed(2)} MiB, S3 sent ${(fromS3 / MIB).toFixed(2)} MiB of 50 (${((fromS3 - fromS3Halfway) / MIB).toFixed(2)} MiB in the last ${SECONDS / 2} s, the client ${((received - receivedHalfway) / MIB).toFixed(2)}); RSS peak +${growth.toFixed(1)} MiB over 2 s..${SECONDS} s`)
  t.notOk(closed, 'the download is alive: no timeout cut it while it moved')
  t.ok(received > 0.8 * RATE * SECONDS && received < 1.2 * RATE * SECONDS + 64 * 1024, `the client read at its own pace (${received} bytes)`)
  // What S3 sent beyond what the client read waits in the kernel's socket
  // buffers along the way, which Linux grows on its own (a receive buffer up
  // to tcp_rmem's 32 MiB here): 8 to 18 MiB, seen under the whole suite's load.
  // Backpressure shows in the pace: once those buffers are full, S3 sends
  // no faster than the client reads.
  t.ok(fromS3 < 25 * MIB, 'S3 did not send the object: it was held back')
  t.ok(fromS3 - fromS3Halfway < received - receivedHalfway + 4 * MIB, 'in the second half, S3 sent at the client\'s pace: backpressure reaches S3')
  t.ok(growth < 24, `the service's memory stayed flat (RSS +${growth.toFixed(1)} MiB while 50 MiB waited in S3)`)

  socket.destroy()
  const left = Date.now()
  await waitUntil(() => proxy.open() <= before ? true : undefined, { timeoutMs: 5000 })
  t.ok(proxy.open() <= before, `the S3 request ended ${Date.now() - left} ms after the client left`)
})
