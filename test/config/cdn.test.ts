// The CDN settings: all three or none, a URL without query or fragment, an id
// of letters and digits, and a file that holds an RSA private key, whose
// content never shows in the settings, their dump or an error message.
import { generateKeyPairSync } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { inspect } from 'node:util'
import t from 'tap'
import { parseConfig, type Env } from '../../src/config/index.js'
import { testKeyPair } from '../support/cloudfront-policy.js'
import { problemsOf } from '../support/config-problems.js'

const configured: Env = { DATABASE_URL: 'postgres://app:pw@db.internal:5432/games', S3_BUCKET: 'replays' }
const keys = await testKeyPair(t)
const dir = t.testdir()
const complete: Env = { ...configured, CLOUDFRONT_URL: 'https://d111111abcdef8.cloudfront.net', CLOUDFRONT_KEY_PAIR_ID: 'K2JCJMDEHXQW5F', CLOUDFRONT_PRIVATE_KEY_FILE: keys.file }
/** The lines of the PEM's body: none of them may show anywhere. */
const secretLines = keys.pem.split('\n').filter((line) => line !== '' && !line.startsWith('-----'))

t.test('none of the three: no CDN, S3\'s own URLs', async (t) => {
  t.equal(parseConfig(configured).cdn, undefined)
  t.equal(parseConfig({}).cdn, undefined, 'local mode too')
  t.throws(() => parseConfig({ ...configured, CLOUDFRONT_URL: ' ', CLOUDFRONT_KEY_PAIR_ID: '', CLOUDFRONT_PRIVATE_KEY_FILE: '' }),
    /CLOUDFRONT_URL is set but blank[\s\S]*CLOUDFRONT_KEY_PAIR_ID is set but blank[\s\S]*CLOUDFRONT_PRIVATE_KEY_FILE is set but blank/, 'blank is an error, never unset')
})

t.test('all three: the base URL, the key pair id and the private key, read once', async (t) => {
  const { cdn } = parseConfig({ ...complete, CLOUDFRONT_URL: 'https://cdn.example.com/replays/' })
  t.equal(cdn?.url, 'https://cdn.example.com/replays', 'without the "/" at the end')
  t.equal(cdn?.keyPairId, 'K2JCJMDEHXQW5F')
  t.equal(cdn?.privateKey.type, 'private')
  t.equal(cdn?.privateKey.asymmetricKeyType, 'rsa')
  t.ok(cdn?.privateKey.equals(keys.privateKey), 'the key in the file')
  t.equal(parseConfig({ ...complete, CLOUDFRONT_URL: 'http://127.0.0.1:8080' }).cdn?.url, 'http://127.0.0.1:8080', 'http: for a test distribution')
})

t.test('the key never shows: not in the settings as JSON or inspected, nor in the start\'s messages', async (t) => {
  const config = parseConfig(complete)
  const dumps = [JSON.stringify(config), inspect(config, { depth: 10 }), inspect(config.cdn, { depth: 10, showHidden: true })]
  t.ok(secretLines.length > 20, 'the PEM has a body to look for')
  for (const dump of dumps) t.notOk(secretLines.some((line) => dump.includes(line)), 'no line of the PEM in a dump of the settings')
  // A file whose content is near a key, but not one: what is said of it must not quote it.
  const broken = join(dir, 'broken.pem')
  await writeFile(broken, keys.pem.replace(/[A-Z]/, '!'))
  const problems = problemsOf({ ...complete, CLOUDFRONT_PRIVATE_KEY_FILE: broken }).join('\n')
  t.match(problems, /CLOUDFRONT_PRIVATE_KEY_FILE must be a PEM file of an unencrypted RSA private key/)
  t.notOk(secretLines.some((line) => problems.includes(line)), 'no line of the file in the message')
})

t.test('a partial set stops the start and names the missing settings', async (t) => {
  const { CLOUDFRONT_URL: url, CLOUDFRONT_KEY_PAIR_ID: id, CLOUDFRONT_PRIVATE_KEY_FILE: file } = complete
  t.same(problemsOf({ ...configured, CLOUDFRONT_URL: url }).map((p) => p.split(':')[0]), ['CLOUDFRONT_KEY_PAIR_ID is missing', 'CLOUDFRONT_PRIVATE_KEY_FILE is missing'])
  t.match(problemsOf({ ...configured, CLOUDFRONT_URL: url })[0], /CLOUDFRONT_URL is set, and signing CloudFront URLs needs CLOUDFRONT_URL, CLOUDFRONT_KEY_PAIR_ID and CLOUDFRONT_PRIVATE_KEY_FILE together/)
  t.same(problemsOf({ ...configured, CLOUDFRONT_KEY_PAIR_ID: id, CLOUDFRONT_PRIVATE_KEY_FILE: file }), [
    'CLOUDFRONT_URL is missing: CLOUDFRONT_KEY_PAIR_ID and CLOUDFRONT_PRIVATE_KEY_FILE are set, and signing CloudFront URLs needs CLOUDFRONT_URL, CLOUDFRONT_KEY_PAIR_ID and CLOUDFRONT_PRIVATE_KEY_FILE together (unset them all to hand out S3\'s own URLs)'
  ])
  t.same(problemsOf({ ...configured, CLOUDFRONT_URL: url, CLOUDFRONT_PRIVATE_KEY_FILE: file }).map((p) => p.split(':')[0]), ['CLOUDFRONT_KEY_PAIR_ID is missing'])
  t.same(problemsOf({ ...configured, CLOUDFRONT_PRIVATE_KEY_FILE: file }).map((p) => p.split(':')[0]), ['CLOUDFRONT_URL is missing', 'CLOUDFRONT_KEY_PAIR_ID is missing'])
})

t.test('a URL that is not one, or has a query or a fragment, and an id that is not one', async (t) => {
  t.match(problemsOf({ ...complete, CLOUDFRONT_URL: 'ftp://cdn.example.com' }), [/^CLOUDFRONT_URL must be a URL starting with https:\/\/ or http:\/\//])
  t.match(problemsOf({ ...complete, CLOUDFRONT_URL: 'cdn.example.com' }), [/^CLOUDFRONT_URL must be a URL/])
  t.match(problemsOf({ ...complete, CLOUDFRONT_URL: 'https://cdn.example.com/?x=1' }), [/^CLOUDFRONT_URL must not carry credentials, a query or a fragment/])
  t.match(problemsOf({ ...complete, CLOUDFRONT_URL: 'https://cdn.example.com/#top' }), [/^CLOUDFRONT_URL must not carry credentials, a query or a fragment/])
  t.match(problemsOf({ ...complete, CLOUDFRONT_KEY_PAIR_ID: 'K2JC JMDE' }), [/^CLOUDFRONT_KEY_PAIR_ID must be the id of a public key of the distribution's trusted key group/])
})

t.test('a key file that is missing, unreadable or no RSA private key stops the start, naming the setting', async (t) => {
  const missing = join(dir, 'nowhere.pem')
  t.same(problemsOf({ ...complete, CLOUDFRONT_PRIVATE_KEY_FILE: missing }), [`CLOUDFRONT_PRIVATE_KEY_FILE cannot be read: ${JSON.stringify(missing)} (ENOENT)`])
  const folder = join(dir, 'a-folder.pem')
  await mkdir(folder)
  t.same(problemsOf({ ...complete, CLOUDFRONT_PRIVATE_KEY_FILE: folder }), [`CLOUDFRONT_PRIVATE_KEY_FILE cannot be read: ${JSON.stringify(folder)} (EISDIR)`])
  const write = async (name: string, content: string): Promise<string> => {
    const path = join(dir, name)
    await writeFile(path, content)
    return path
  }
  const publicKey = await write('public.pem', keys.publicKey.export({ type: 'spki', format: 'pem' }).toString())
  const text = await write('notes.txt', 'not a key at all\n')
  const encrypted = await write('encrypted.pem', keys.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'a passphrase' }).toString())
  for (const [what, path] of [['a public key', publicKey], ['text', text], ['a key encrypted with a passphrase', encrypted]] as const) {
    t.match(problemsOf({ ...complete, CLOUDFRONT_PRIVATE_KEY_FILE: path }), [new RegExp(`^CLOUDFRONT_PRIVATE_KEY_FILE must be a PEM file of an unencrypted RSA private key \\(openssl genrsa -out private_key.pem 2048\\); ${JSON.stringify(path)} is none \\(ERR_`)], what)
  }
  const ec = await write('ec.pem', generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString())
  t.same(problemsOf({ ...complete, CLOUDFRONT_PRIVATE_KEY_FILE: ec }), [`CLOUDFRONT_PRIVATE_KEY_FILE must hold an RSA private key, as CloudFront's trusted keys are; ${JSON.stringify(ec)} holds an ec key`])
  t.same(problemsOf({ ...complete, CLOUDFRONT_URL: 'ftp://x', CLOUDFRONT_PRIVATE_KEY_FILE: missing }).map((p) => p.split(' ')[0]), ['CLOUDFRONT_URL', 'CLOUDFRONT_PRIVATE_KEY_FILE'], 'every bad one at once')
})
