// Files that ship beside the code (package.json, localstack/bucket-cors.json),
// found from wherever the module that asks sits: src/ when run from source,
// dist/ as tsc writes it, or a chunk of the bundled entry points (dist/chunks/).
// The project's folder is the nearest one above that holds a package.json.
import { existsSync } from 'node:fs'

/** `path`, relative to the project's folder: the first folder above `from` with a package.json. */
export function projectFile (path: string, from: string | URL = import.meta.url): URL {
  let folder = new URL('./', from)
  while (!existsSync(new URL('package.json', folder))) {
    const parent = new URL('../', folder)
    if (parent.href === folder.href) throw new Error(`no package.json in any folder above ${String(from)}`)
    folder = parent
  }
  return new URL(path, folder)
}
