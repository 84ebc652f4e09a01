// The settings file: `.env` in the working directory, read when it exists,
// with Node's own loader. What the environment already has wins over the file
// (also a variable set to the empty string, which the settings then refuse), so
// an orchestrator's settings are never overridden by a file left in the image
// or the checkout.
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'

/** Reads `file` into process.env when it exists; its full path, or undefined when there is none. */
export function loadEnvFile (file = '.env'): string | undefined {
  const path = resolve(file)
  if (!existsSync(path)) return undefined
  process.loadEnvFile(path)
  return path
}
