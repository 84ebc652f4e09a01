import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { loggerOptions, scrubSecrets, standardOutput } from '../../src/observability/logging.js'
import { buildTestApp, listen, seedReplays, testConfig } from '../helper.js'
import { waitUntil } from '../support/wait.js'

t.test('scrubbing a line', async (t) => {
  const url = 'https://s3.example/replays/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDSECRETID%2F20261126%2Fus-east-1%2Fs3%2Faws4_request' +
    '&X-Amz-Date=20261126T101930Z&X-Amz-Expires=360&X-Amz-Security-Token=FwoGZXIvYXdzSESSION&X-Amz-Signature=' + 'ab'.repeat(32) + '&x-id=GetObject'
  t.equal(scrubSecrets(url), 'https://s3.example/replays/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=[REDACTED]' +
    '&X-Amz-Date=20261126T101930Z&X-Amz-Expires=360&X-Amz-Security-Token=[REDACTED]&X-Amz-Signature=[REDACTED]&x-id=GetObject')
  t.equal(scrubSecrets('{"url":"/k?x-amz-signature%3Dabc&y=1"}'), '{"url":"/k?x-amz-signature%3D[REDACTED]&y=1"}', 'encoded and in any case')
  t.equal(scrubSecrets('"AWS4-HMAC-SHA256 Credential=AKID/20261126/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=abc123"'),
    '"AWS4-HMAC-SHA256 Credential=[REDACTED], SignedHeaders=host, Signature=[REDACTED]"')
  t.equal(scrubSecrets('{"authorization":"Bearer eyJhbGci.x.y","cookie":"sid=1","sessionToken":"T\\"Q","secretAccessKey":"s","a":1}'),
    '{"authorization":"[REDACTED]","cookie":"[REDACTED]","sessionToken":"[REDACTED]","secretAccessKey":"[REDACTED]","a":1}')
  t.equal(scrubSecrets('token Bearer abc.def in a message'), 'token Bearer [REDACTED] in a message')
  t.equal(scrubSecrets('{"msg":"nothing secret","n":1}'), '{"msg":"nothing secret","n":1}')
  t.equal(scrubSecrets('{"url":"/games/1/replay?access_token=eyJ.x.y&x=1"}'), '{"url":"/games/1/replay?access_token=[REDACTED]&x=1"}', 'a token in a query')
  t.equal(scrubSecrets('/r?a=1&API_KEY=k1&apikey=k2&token%3Dk3'), '/r?a=1&API_KEY=[REDACTED]&apikey=[REDACTED]&token%3D[REDACTED]')
})

t.test('standard output: lines are batched, yet a lone line is written while the process runs, and what is buffered when it exits', async (t) => {
  // The built module, as the service runs it; the child writes a second line when told to, and exits at once.
  const logging = new URL('../../dist/observability/logging.js', import.meta.url).href
  const script = `import { loggerOptions } from ${JSON.stringify(logging)}
const { stream } = loggerOptions('info')
stream.write('{"msg":"first"}\\n')
process.stdin.once('data', () => { stream.write('{"msg":"second","token":"?token=hunter2"}\\n'); process.exit(3) })`
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.setEncoding('utf8')
  const first = new Promise<void>((resolve) => {
    child.stdout.on('data', (chunk: string) => { out += chunk; if (out.includes('first')) resolve() })
  })
  const exited = once(child, 'exit')
  await first
  t.equal(child.exitCode, null, 'the first line came out while the process was running')
  child.stdin.end('exit now\n')
  const [code] = await exited
  t.equal(code, 3)
  t.equal(out, '{"msg":"first"}\n{"msg":"second","token":"?token=[REDACTED]"}\n', 'the buffered line was written on exit, scrubbed')
})

t.test('standard output: a full batch is written at once, the rest when the timer fires', async (t) => {
  const file = join(t.testdir(), 'out.log')
  const sink = standardOutput(file)
  const line = (i: number): string => `{"msg":"line ${String(i).padStart(3, '0')}","pad":"${'x'.repeat(230)}"}\n`
  for (let i = 0; i < 40; i++) sink.write(line(i))
  const atOnce = readFileSync(file, 'utf8')
  t.ok(atOnce.length >= 8192 && atOnce.length < 40 * line(0).length, `${atOnce.length} characters written before the timer`)
  t.ok(atOnce.endsWith('\n'), 'whole lines')
  await waitUntil(() => readFileSync(file, 'utf8').length === 40 * line(0).length || undefined)
  t.equal(readFileSync(file, 'utf8'), Array.from({ length: 40 }, (_, i) => line(i)).join(''), 'every line, once, in order')
})

t.test('standard output: a line written by the timer is not written again when the process exits', async (t) => {
  const logging = new URL('../../dist/observability/logging.js', import.meta.url).href
  const script = `import { loggerOptions } from ${JSON.stringify(logging)}
const { stream } = loggerOptions('info')
stream.write('{"msg":"only"}\\n')
setTimeout(() => { process.exit(0) }, 400)`
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (chunk: string) => { out += chunk })
  const [code] = await once(child, 'close')
  t.equal(code, 0)
  t.equal(out, '{"msg":"only"}\n', 'once')
})

t.test('at trace level, no signature, credential or token reaches the log: a redirect, a stream, an S3 error', async (t) => {
  const { db, bucket } = await seedReplays(t, [
    { id: '1', game_folder: 'g1', replay_file: 'one.rep', body: 'replay bytes' },
    { id: '2', game_folder: 'g2', replay_file: 'missing.rep' }
  ])
  const lines: string[] = []
  const sink = { write: (line: string) => lines.push(line) }
  const app = await buildTestApp(t, { config: testConfig(), db, storage: bucket.storage(), logger: loggerOptions('trace', sink) })
  const base = await listen(app)
  // Session credentials, as a container role gives them: their token travels in every URL they sign.
  const session = { ...bucket.credentials, sessionToken: 'FwoGZXIvYXdzEXAMPLESESSIONTOKEN' }
  const tokenApp = await buildTestApp(t, {
    config: testConfig(), db, storage: bucket.storage({ credentials: session }), logger: loggerOptions('trace', sink)
  })
  const tokenBase = await listen(tokenApp)

  const redirect = await fetch(`${base}/games/1/replay`, { redirect: 'manual', headers: { authorization: 'Bearer eyJhbGciOiJIUzI1NiJ9.e30.SIGNATUREPART' } })
  t.equal(redirect.status, 302)
  const location = String(redirect.headers.get('location'))
  const signature = String(new URL(location).searchParams.get('X-Amz-Signature'))
  t.equal((await fetch(`${base}/games/1/replay/stream`)).status, 200)
  t.equal((await fetch(`${base}/games/2/replay/stream`)).status, 404, 'S3 answers NoSuchKey')
  const withToken = await fetch(`${tokenBase}/games/1/replay`, { redirect: 'manual' })
  const tokenSignature = String(new URL(String(withToken.headers.get('location'))).searchParams.get('X-Amz-Signature'))
  // Unknown credentials with a session token: S3 refuses the signed request, and the SDK's error is logged.
  // (The emulator's key id and secret are the same string: an error naming the key id would look like a leaked secret.)
  const refusing = await buildTestApp(t, {
    config: testConfig(), db, storage: bucket.storage({ credentials: { ...session, accessKeyId: 'AKIDREFUSED', secretAccessKey: 'not-the-secret' } }), logger: loggerOptions('trace', sink)
  })
  const refused = await fetch(`${await listen(refusing)}/games/1/replay/stream`)
  t.equal(refused.status, 502, 'S3 refused the signature: STORAGE_UNAVAILABLE')
  t.match(lines.join(''), /"msg":"request failed: The replay storage did not answer properly/, 'the refusal is logged')

  const log = lines.join('')
  t.ok(lines.length > 10, `${lines.length} lines at trace level`)
  t.match(log, /"msg":"replay URL signed"/, 'the signed URL is logged, scrubbed')
  t.match(log, /X-Amz-Signature=\[REDACTED\]/)
  for (const [what, secret] of [
    ['a URL signature', signature],
    ['a URL signature made with a session token', tokenSignature],
    ['the session token', session.sessionToken],
    ['the secret key', bucket.credentials.secretAccessKey],
    ['the wrong secret key', 'not-the-secret'],
    ['the access key id inside a credential', `Credential=${bucket.credentials.accessKeyId}`],
    ['the access key id inside a URL credential', `X-Amz-Credential=${bucket.credentials.accessKeyId}`],
    ['a client\'s bearer token', 'SIGNATUREPART']
  ] as const) {
    t.notOk(log.includes(secret), `no ${what} in the log`)
  }
})
