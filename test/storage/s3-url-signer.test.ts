import { GetObjectCommand } from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import t from 'tap'
import { attachment } from '../../src/replay/download-name.js'
import { createS3Client } from '../../src/storage/s3-client.js'
import { S3UrlSigner } from '../../src/storage/s3-url-signer.js'
import { openTestBucket } from '../helper.js'
import { sha256 } from '../support/bytes.js'

const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' }
const sessionCredentials = { ...credentials, sessionToken: 'FwoGZXIvYXdzE+/=session' }

const keys = [
  'season-1/game-42/replay.json',
  'season 1/gåme 42/replay (final).json',
  "odd/!'()*+,;=@$&~/%20/file.rep",
  'trailing/slash/',
  'double//slash',
  '日本/リプレイ.bin'
]
const dispositions = [
  attachment('game-42.replay.json', 'game-42.replay.json'),
  attachment('gåme "42".rep', 'game-42.rep'),
  'attachment; filename="a;b=c&d.rep"'
]
const endpoints = [
  { endpoint: 'http://127.0.0.1:7480', forcePathStyle: true, region: 'us-east-1' },
  { endpoint: 'https://cdn.example.com', forcePathStyle: false, region: 'eu-west-3' },
  { endpoint: 'https://s3.internal:9443/', forcePathStyle: true, region: 'eu-central-1' },
  { endpoint: undefined, forcePathStyle: false, region: 'us-east-1' },
  { endpoint: undefined, forcePathStyle: false, region: 'ap-southeast-2' },
  { endpoint: undefined, forcePathStyle: true, region: 'eu-west-1' }
]

t.test('the same URL, byte for byte, as getSignedUrl', async (t) => {
  const compared: string[] = []
  const differ: Array<{ ours: string, theirs: string }> = []
  for (const place of endpoints) {
    for (const who of [credentials, sessionCredentials]) {
      const client = createS3Client({ ...place, connectTimeoutMs: 1000, credentials: who })
      t.teardown(() => client.destroy())
      const signer = new S3UrlSigner(client, 'replays')
      for (const key of keys) {
        for (const contentDisposition of dispositions) {
          for (const contentType of ['application/json', undefined]) {
            const signingDate = new Date(Date.UTC(2026, 10, 26, 10, 20, 30))
            const command = new GetObjectCommand({
              Bucket: 'replays',
              Key: key,
              ResponseContentDisposition: contentDisposition,
              ...(contentType !== undefined && { ResponseContentType: contentType })
            })
            const theirs = await getSignedUrl(client, command, { signingDate, expiresIn: 360 })
            const ours = await signer.sign({ key, contentDisposition, contentType, signingDate, expiresInSeconds: 360 })
            if (ours !== theirs) differ.push({ ours, theirs })
            compared.push(ours)
          }
        }
      }
    }
  }
  t.same(differ, [], `${compared.length} URLs compared`)
  // What the comparison covered: the GET marker, session tokens, and escaped keys.
  t.ok(compared.every((url) => url.includes('x-id=GetObject')), 'GET URLs, marked as the SDK marks them')
  t.ok(compared.some((url) => url.includes('X-Amz-Security-Token=')), 'URLs signed with a session token')
  t.ok(compared.some((url) => url.includes('%21%27%28%29%2A')), 'keys with characters encodeURIComponent leaves alone')
})

t.test('the same URLs as getSignedUrl across days and credentials, whose signing keys it keeps', async (t) => {
  const client = createS3Client({ endpoint: 'http://127.0.0.1:7480', forcePathStyle: true, region: 'us-east-1', connectTimeoutMs: 1000, credentials })
  t.teardown(() => client.destroy())
  const signer = new S3UrlSigner(client, 'replays')
  const key = keys[1] as string
  const contentDisposition = dispositions[0] as string
  const differ: string[] = []
  const dates = new Set<string>()
  for (let round = 0; round < 2; round++) {
    for (let day = 0; day < 20; day++) {
      const signingDate = new Date(Date.UTC(2026, 0, 1 + day, 12, round))
      const theirs = await getSignedUrl(client, new GetObjectCommand({ Bucket: 'replays', Key: key, ResponseContentDisposition: contentDisposition }), { signingDate, expiresIn: 60 })
      const ours = await signer.sign({ key, contentDisposition, contentType: undefined, signingDate, expiresInSeconds: 60 })
      if (ours !== theirs) differ.push(`day ${day}, round ${round}`)
      dates.add(String(new URL(ours).searchParams.get('X-Amz-Date')).slice(0, 8))
    }
  }
  t.same(differ, [], '40 URLs, the same as the SDK\'s')
  t.equal(dates.size, 20, 'over 20 days, more days than the signer keeps keys for')
})

t.test('a URL of the fast signer downloads from the real S3, and S3 holds it to its method', async (t) => {
  const bucket = await openTestBucket(t)
  const body = Buffer.from('a replay, signed the fast way')
  const key = 'season 1/gåme-7/replay.rep'
  await bucket.put(key, body)
  const signer = new S3UrlSigner(bucket.admin, bucket.s3.bucket)
  const common = { key, contentDisposition: attachment('game-7.replay.rep', 'game-7.replay.rep'), contentType: 'application/octet-stream', expiresInSeconds: 120 }
  const get = await signer.sign({ ...common, signingDate: new Date() })
  const answer = await fetch(get)
  t.equal(answer.status, 200)
  t.equal(sha256(Buffer.from(await answer.arrayBuffer())), sha256(body))
  t.equal(answer.headers.get('content-disposition'), 'attachment; filename="game-7.replay.rep"')
  t.equal((await fetch(get, { method: 'HEAD' })).status, 403, 'a GET signature does not serve a HEAD: why HEAD is answered by the service')
})

t.test('a credential chain that finds nothing is the contract\'s STORAGE_CREDENTIALS_MISSING; any other failure of it passes on as it is', async (t) => {
  const failing = (error: Error) => new S3UrlSigner(createS3Client({ ...endpoints[0] as typeof endpoints[number], connectTimeoutMs: 1000, credentials: async () => { throw error } }), 'replays')
  // The SDK's providers name their failures so (CredentialsProviderError); only the name is relied on.
  const none = Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' })
  await t.rejects(failing(none).signRead('k'), { code: 'STORAGE_CREDENTIALS_MISSING', statusCode: 503, cause: none })
  const other = new Error('the role\'s token file is unreadable')
  await t.rejects(failing(other).signRead('k'), other)
})

t.test('credentials that arrive after a failure sign the next URL', async (t) => {
  const given: { now?: typeof credentials } = {}
  const none = Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' })
  const signer = new S3UrlSigner(createS3Client({ ...endpoints[0] as typeof endpoints[number], connectTimeoutMs: 1000, credentials: async () => given.now ?? await Promise.reject(none) }), 'replays')
  await t.rejects(signer.signRead('k'), { code: 'STORAGE_CREDENTIALS_MISSING' })
  given.now = credentials
  t.match(await signer.signRead('k'), /^http:\/\/127\.0\.0\.1:7480\/replays\/k\?.*X-Amz-Credential=AKIDEXAMPLE%2F/)
})
