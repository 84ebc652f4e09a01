// A migrated PGlite data directory, made once and cloned for every test
// database (and beside it the same before its migrations): a fresh PGlite
// runs initdb (seconds of CPU), a clone loads a tarball (a fraction of that).
// The template is keyed by PGlite's version and the migrations' sources and
// this file, so a changed migration never meets a stale copy. It holds only
// the database PGlite opens, `postgres`: without template0 and template1, and
// with WAL segments of 1 MB (below), a clone unpacks 13 MB instead of 40.
import { createHash } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Kysely } from 'kysely'
import { openDatabase, type Database } from '../../src/db/database.js'
import { migrateToLatest } from '../../src/db/migrate.js'

const ROOT = new URL('../../', import.meta.url)
const MIGRATIONS = new URL('src/db/migrations/', ROOT)
const CACHE = new URL('node_modules/.cache/replay-gate/', ROOT)

let key: string | undefined

/** What the templates are made from (PGlite's version, the migrations, this file), hashed: in the names of the files made from them. */
export function templateKey (): string {
  if (key === undefined) {
    const hash = createHash('sha256')
    hash.update(readFileSync(new URL('node_modules/@electric-sql/pglite/package.json', ROOT)))
    hash.update(readFileSync(new URL(import.meta.url)))
    for (const file of readdirSync(MIGRATIONS).sort()) hash.update(file).update(readFileSync(new URL(file, MIGRATIONS)))
    key = hash.digest('hex').slice(0, 16)
  }
  return key
}

function templateFile (which: 'migrated' | 'unmigrated' = 'migrated'): URL {
  return new URL(`pglite-${templateKey()}${which === 'migrated' ? '' : '-unmigrated'}.tar`, CACHE)
}

const cached = new Map<'migrated' | 'unmigrated', Blob>()

/**
 * A tarball PGlite reads at once. PGlite asks its `loadDataDir` for
 * `arrayBuffer()`, and Node 20's Blob answers by reading itself in chunks and
 * joining them: for 25 MB, about a third of a clone's CPU. This Blob hands
 * over a copy of its bytes instead (PGlite may write to what it is given);
 * the rest of Blob reads the same bytes as ever.
 */
class TarballBlob extends Blob {
  readonly #bytes: Uint8Array

  constructor (bytes: Uint8Array) {
    super([bytes])
    // A plain view, whatever was given: a Buffer's slice() would not copy.
    this.#bytes = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }

  override async arrayBuffer (): Promise<ArrayBuffer> {
    return this.#bytes.slice().buffer
  }
}

/**
 * The template's tarball: read from the cache, or made (initdb and
 * migrations) and kept there. Beside it, the same database before its
 * migrations, for the tests of the command that runs them.
 */
export async function pgliteTemplate (which: 'migrated' | 'unmigrated' = 'migrated'): Promise<Blob> {
  let template = cached.get(which)
  if (template === undefined) {
    try {
      template = new TarballBlob(readFileSync(templateFile(which)))
    } catch {
      // Made below: the first run after a change of PGlite or of a migration.
      template = (await makeTemplates())[which]
    }
    cached.set(which, template)
  }
  return template
}

async function makeTemplates (): Promise<{ migrated: Blob, unmigrated: Blob }> {
  const { PGlite } = await import('@electric-sql/pglite')
  // WAL in segments of 1 MB, not initdb's 16: the segment in use is in every
  // clone whole, 16 of the tarball's 25 MB (a clone took 0.39 CPU-s with it,
  // 0.32 with 1 MB). What the tests do with a database fits in one either way.
  const pglite = await PGlite.create({ initDbStartParams: ['--wal-segsize=1'] })
  const db = await kyselyOn(pglite)
  for (const template of ['template0', 'template1']) {
    await pglite.exec(`ALTER DATABASE ${template} IS_TEMPLATE false`)
    await pglite.exec(`DROP DATABASE ${template}`)
  }
  const dump = async (): Promise<Uint8Array> => {
    await pglite.exec('CHECKPOINT')
    return new Uint8Array(await (await pglite.dumpDataDir('none')).arrayBuffer())
  }
  const unmigrated = await dump()
  await migrateToLatest(db)
  const migrated = await dump()
  await db.destroy()
  mkdirSync(CACHE, { recursive: true })
  // Written aside, then renamed: a test file running beside this one never reads half a file.
  for (const [bytes, target] of [[unmigrated, templateFile('unmigrated')], [migrated, templateFile()]] as const) {
    const partial = fileURLToPath(target) + `.${process.pid}`
    writeFileSync(partial, bytes)
    renameSync(partial, target)
  }
  // Templates of earlier versions or migrations are of no more use.
  for (const name of readdirSync(CACHE)) {
    if (/^pglite-[0-9a-f]{16}(-unmigrated)?\.tar$/.test(name) && !name.includes(templateKey())) rmSync(new URL(name, CACHE), { force: true })
  }
  return { migrated: new TarballBlob(migrated), unmigrated: new TarballBlob(unmigrated) }
}

async function kyselyOn (pglite: import('@electric-sql/pglite').PGlite): Promise<Kysely<Database>> {
  const { Kysely, sql } = await import('kysely')
  const { PGliteDialect } = await import('kysely-pglite-dialect')
  const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite) })
  // The dialect takes hold of PGlite at its first query, and only closes it on destroy() after one:
  // a database no test queried would keep the process from exiting.
  await sql`select 1`.execute(db)
  return db
}

/** A migrated database cloned from the template (or the template before its migrations): in memory, or in `dataDir` (a local-mode folder). */
export async function clonePGlite (dataDir?: string, which: 'migrated' | 'unmigrated' = 'migrated'): Promise<Kysely<Database>> {
  return (await openDatabase({ pglite: { dataDir, loadDataDir: await pgliteTemplate(which) } })).db
}
