// docs/configuration.md lists every setting in one table. This holds that
// table to the settings the service reads and to .env.example, so that a
// setting added, removed or given another default shows up here first.
import { readdirSync } from 'node:fs'
import t from 'tap'
import { parseConfig, parseDatabaseConfig, parseStorageConfig, type Env } from '../../src/config/index.js'
import { lookAlikes } from '../../src/config/reader.js'
import { codeSpans, readDocument, tables, tableWithHeader } from './markdown-tables.js'

/**
 * The names the config reader asks for. Every reading of a setting looks its
 * name up in the environment it was given, and on an empty environment every
 * setting is read (none is read only when another one is set), so an
 * environment that records what it is asked for lists them all. NODE_ENV is
 * read by parseConfig itself to refuse local mode in production: Node's
 * variable, not a setting of the service.
 */
function settingsRead (): Set<string> {
  const asked = new Set<string>()
  const env = new Proxy<Env>({}, {
    get (_target, name) {
      asked.add(String(name))
      return undefined
    }
  })
  parseConfig(env)
  parseDatabaseConfig(env)
  parseStorageConfig(env)
  asked.delete('NODE_ENV')
  return asked
}

const doc = readDocument('docs/configuration.md')
const table = tableWithHeader(doc, ['setting', 'default', 'what it does'])
const rows = table.rows.map(([setting, fallback, what]) => ({ spans: codeSpans(setting as string), setting: setting as string, fallback: fallback as string, what: what as string }))
const documented = rows.map((row) => row.spans[0] as string)

t.test('the settings table has one row per setting, each with a default and a description', async (t) => {
  t.ok(rows.length > 40, `the table was read (${rows.length} rows)`)
  for (const row of rows) {
    t.same(row.spans.length === 1 && row.setting === `\`${row.spans[0]}\``, true, `${row.setting}: one setting, alone in its cell`)
    t.match(row.spans[0], /^[A-Z][A-Z0-9_]*$/, `${row.setting} is a variable's name`)
    t.not(row.fallback, '', `${row.setting} has a default`)
    t.ok(row.what.length > 10, `${row.setting} says what it does`)
  }
  t.same(documented.filter((name, i) => documented.indexOf(name) !== i), [], 'no setting is listed twice')
})

t.test('the table names exactly the settings the service reads', async (t) => {
  const read = settingsRead()
  t.ok(read.size > 40, `the settings were found (${read.size})`)
  t.same([...read].filter((name) => !documented.includes(name)).sort(), [], 'every setting the service reads is in docs/configuration.md')
  t.same(documented.filter((name) => !read.has(name)).sort(), [], 'every setting in docs/configuration.md is one the service reads')
  // What an operator would see: a documented setting, set, is never called unknown at start.
  const env: Env = Object.fromEntries(documented.map((name) => [name, 'set']))
  t.same(lookAlikes(env, read), [], 'no documented setting is taken for a misspelt one')
})

t.test('the table and .env.example name the same settings, with the same defaults', async (t) => {
  const example = readDocument('.env.example')
  const lines = [...example.matchAll(/^(#?)([A-Z][A-Z0-9_]*)=(.*)$/gm)].map(([, comment, name, value]) => ({ commented: comment === '#', name: name as string, value: value as string }))
  const inExample = new Set(lines.map((line) => line.name))
  t.same(documented.filter((name) => !inExample.has(name)).sort(), [], 'every documented setting is in .env.example')
  t.same([...inExample].filter((name) => !documented.includes(name)).sort(), [], 'every setting of .env.example is documented')
  const withValue = lines.filter((line) => !line.commented)
  t.ok(withValue.length > 20, `.env.example gives defaults (${withValue.length})`)
  for (const { name, value } of withValue) {
    const row = rows.find((candidate) => candidate.spans[0] === name)
    t.equal(codeSpans(row?.fallback ?? '')[0], value, `${name}: the table's default is .env.example's ${value}`)
  }
})

t.test('every setting is in that one table, and in no other table of the documentation', async (t) => {
  t.equal(tables(doc).length, 1, 'docs/configuration.md has one table')
  const read = settingsRead()
  const others = ['README.md', ...readdirSync(new URL('../../docs/', import.meta.url)).filter((file) => file.endsWith('.md') && file !== 'configuration.md').map((file) => `docs/${file}`)]
  for (const path of others) {
    const listed = tables(readDocument(path)).flatMap((other) => other.rows.flatMap((row) => codeSpans(row[0] as string))).filter((span) => read.has(span))
    t.same(listed, [], `${path} has no table of settings`)
  }
})

t.test('a table that is not there is an error, not an empty table', async (t) => {
  t.throws(() => tableWithHeader(doc, ['setting', 'value']), { message: /expected one table headed \| setting \| value \|, found 0/ })
})
