// A spawned service in local mode with a large replay, and a download of it
// under way: what the shutdown tests stop the service during.
import { PutObjectCommand } from '@aws-sdk/client-s3'
import { randomBytes } from 'node:crypto'
import { Agent, get, type IncomingMessage } from 'node:http'
import { DEMO_GAME } from '../../src/local/demo-seed.js'
import { EMULATOR_CREDENTIALS } from '../../src/local/s3-emulator.js'
import { createS3Client } from '../../src/storage/s3-client.js'
import type { Tap } from '../helper.js'
import { localDataDir, spawnEntry, type Service } from './spawn-service.js'

/** Local mode with a large demo replay, and a download of it through /stream that reads nothing until told to. */
export async function serviceWithStream (t: Tap, env: Record<string, string> = {}, { keepAlive = false } = {}): Promise<{
  service: Service, port: number, replay: Buffer, response: IncomingMessage, readAll: () => Promise<{ bytes: Buffer, complete: boolean }>
}> {
  const dataDir = await localDataDir(t)
  const service = spawnEntry('server.ts', { PORT: '0', LOCAL_DATA_DIR: dataDir, LOG_LEVEL: 'warn', ...env })
  t.teardown(() => { service.child.kill('SIGKILL') })
  const [, base] = await service.waitFor(/curl -sL (http:\/\/127\.0\.0\.1:\d+)\/games\/1\/replay /)
  const [, s3Endpoint] = await service.waitFor(/S3 emulator at (http:\/\/127\.0\.0\.1:\d+)/)
  const replay = randomBytes(24 * 1024 * 1024)
  const s3 = createS3Client({ region: 'us-east-1', endpoint: s3Endpoint, forcePathStyle: true, connectTimeoutMs: 2000, credentials: EMULATOR_CREDENTIALS })
  await s3.send(new PutObjectCommand({ Bucket: 'replays', Key: `${DEMO_GAME.folder}/${DEMO_GAME.file}`, Body: replay }))
  s3.destroy()
  // A kept-alive connection is what browsers and balancers use: the service must not wait for it to idle out.
  const agent = keepAlive ? new Agent({ keepAlive: true }) : false
  if (agent !== false) t.teardown(() => { agent.destroy() })
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    get(`${base as string}/games/1/replay/stream`, { agent }, resolve).on('error', reject)
  })
  response.pause()
  const readAll = async (): Promise<{ bytes: Buffer, complete: boolean }> => await new Promise((resolve) => {
    const chunks: Buffer[] = []
    response.on('data', (chunk: Buffer) => chunks.push(chunk))
    response.on('end', () => resolve({ bytes: Buffer.concat(chunks), complete: response.complete }))
    response.on('error', () => resolve({ bytes: Buffer.concat(chunks), complete: false }))
    response.on('aborted', () => resolve({ bytes: Buffer.concat(chunks), complete: false }))
    response.resume()
  })
  return { service, port: Number(new URL(base as string).port), replay, response, readAll }
}
