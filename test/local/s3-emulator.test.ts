// The embedded emulator keeps its bucket private: it listens on this machine,
// where any page or program could otherwise read and write it.
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { readBucketCors } from '../../src/bucket/cors-rules.js'
import { EMULATOR_CREDENTIALS, startS3Emulator } from '../../src/local/s3-emulator.js'
import { createS3Client } from '../../src/storage/s3-client.js'

const directory = await mkdtemp(join(tmpdir(), 'replay-gate-s3-'))
const emulator = await startS3Emulator({ directory, bucket: { name: 'replays', cors: readBucketCors() } })
t.teardown(async () => {
  await emulator.close()
  await rm(directory, { recursive: true, force: true })
})
const client = (credentials: { accessKeyId: string, secretAccessKey: string } = EMULATOR_CREDENTIALS) => {
  const made = createS3Client({ region: 'us-east-1', endpoint: emulator.endpoint, forcePathStyle: true, connectTimeoutMs: 3000, credentials })
  t.teardown(() => { made.destroy() })
  return made
}
const owner = client()
await owner.send(new PutObjectCommand({ Bucket: 'replays', Key: 'games/1/replay.json', Body: '{"replay":1}', ContentType: 'application/json' }))
const object = `${emulator.endpoint}/replays/games/1/replay.json`

async function refusal (res: Response): Promise<string | undefined> {
  return /<Code>([^<]+)<\/Code>/.exec(await res.text())?.[1]
}

t.test('a request without a signature is refused as a private bucket refuses it: 403 AccessDenied', async (t) => {
  for (const [method, url] of [['GET', object], ['HEAD', object], ['GET', `${emulator.endpoint}/replays`], ['GET', `${emulator.endpoint}/`], ['DELETE', object]] as const) {
    const res = await fetch(url, { method })
    t.equal(res.status, 403, `${method} ${url.slice(emulator.endpoint.length) || '/'}`)
    if (method !== 'HEAD') t.equal(await refusal(res), 'AccessDenied')
  }
  const put = await fetch(`${emulator.endpoint}/replays/games/1/other.json`, { method: 'PUT', body: 'written by anyone' })
  t.equal(put.status, 403, 'nothing is written')
  t.equal(await refusal(put), 'AccessDenied')
  const overwrite = await fetch(object, { method: 'PUT', body: 'replaced' })
  t.equal(overwrite.status, 403)
  const kept = await owner.send(new GetObjectCommand({ Bucket: 'replays', Key: 'games/1/replay.json' }))
  t.equal(await kept.Body?.transformToString(), '{"replay":1}', 'the object is as it was')
})

t.test('signed requests and presigned URLs work; a wrong key or signature does not', async (t) => {
  const url = await getSignedUrl(owner, new GetObjectCommand({ Bucket: 'replays', Key: 'games/1/replay.json' }), { expiresIn: 60 })
  const res = await fetch(url)
  t.equal(res.status, 200)
  t.equal(await res.text(), '{"replay":1}')

  const tampered = new URL(url)
  const signature = tampered.searchParams.get('X-Amz-Signature') as string
  tampered.searchParams.set('X-Amz-Signature', `${signature.slice(0, -1)}${signature.endsWith('0') ? '1' : '0'}`)
  const wrongSignature = await fetch(tampered)
  t.equal(wrongSignature.status, 403)
  t.equal(await refusal(wrongSignature), 'SignatureDoesNotMatch')

  const stranger = client({ accessKeyId: 'SOMEONE', secretAccessKey: 'ELSE' })
  const wrongKey = await fetch(await getSignedUrl(stranger, new GetObjectCommand({ Bucket: 'replays', Key: 'games/1/replay.json' }), { expiresIn: 60 }))
  t.equal(wrongKey.status, 403)
  t.equal(await refusal(wrongKey), 'InvalidAccessKeyId')
  const wrongSecret = await fetch(await getSignedUrl(client({ accessKeyId: EMULATOR_CREDENTIALS.accessKeyId, secretAccessKey: 'guessed' }), new GetObjectCommand({ Bucket: 'replays', Key: 'games/1/replay.json' }), { expiresIn: 60 }))
  t.equal(wrongSecret.status, 403)
  t.equal(await refusal(wrongSecret), 'SignatureDoesNotMatch')
})

t.test('a browser\'s CORS preflight, which carries no signature, is still answered', async (t) => {
  const res = await fetch(object, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'range' } })
  t.equal(res.status, 200)
  t.equal(res.headers.get('access-control-allow-origin'), '*')
})
