// The tables of the project's Markdown documents, as the documentation tests
// read them: a table is a header row, a delimiter row, then its rows; a cell's
// `|` written as `\|` stays in the cell.
import { readFileSync } from 'node:fs'

export interface MarkdownTable {
  header: string[]
  rows: string[][]
}

/** The text of a document, by its path from the repository's root. */
export function readDocument (path: string): string {
  return readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8')
}

function cells (line: string): string[] {
  return line.trim().replace(/^\|/, '').replace(/\|$/, '').split(/(?<!\\)\|/).map((cell) => cell.trim().replaceAll('\\|', '|'))
}

/** Every table of the document, outside fenced code blocks. */
export function tables (markdown: string): MarkdownTable[] {
  const found: MarkdownTable[] = []
  const lines = markdown.split('\n')
  let fenced = false
  for (let i = 0; i + 1 < lines.length; i++) {
    const line = lines[i] as string
    if (line.startsWith('```')) fenced = !fenced
    if (fenced || !line.startsWith('|') || !/^\|(\s*:?-+:?\s*\|)+\s*$/.test(lines[i + 1] as string)) continue
    const table: MarkdownTable = { header: cells(line), rows: [] }
    for (i += 2; i < lines.length && (lines[i] as string).startsWith('|'); i++) table.rows.push(cells(lines[i] as string))
    found.push(table)
  }
  return found
}

/** The one table whose header is exactly `header`; fails when there is none or several. */
export function tableWithHeader (markdown: string, header: string[]): MarkdownTable {
  const matching = tables(markdown).filter((table) => table.header.join('|') === header.join('|'))
  if (matching.length !== 1) throw new Error(`expected one table headed | ${header.join(' | ')} |, found ${matching.length}`)
  return matching[0] as MarkdownTable
}

/** The text between backticks in a cell, in order. */
export function codeSpans (cell: string): string[] {
  return [...cell.matchAll(/`([^`]+)`/g)].map(([, span]) => span as string)
}
