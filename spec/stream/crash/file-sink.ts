/**
 * A keyed upsert sink over one JSON file, for the crash test: every write replaces the file
 * atomically (temp file, fsync, rename, fsync of the directory), so a kill leaves the old or the
 * new contents, never a torn file.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Sink } from '../../../lib/stream/sink.js';
import type { OutputRow } from '../../../lib/stream/table.js';

export function jsonFileSink(file: string, keyOf: (row: OutputRow) => string, options: { readonly latency?: number } = {}): Sink {
  let contents: Map<string, OutputRow> | undefined;
  return {
    async write(rows) {
      // a remote sink takes a while; the pause widens the window between a plan and its commit
      if (options.latency !== undefined) await new Promise((resolve) => setTimeout(resolve, options.latency));
      contents ??= new Map((await readJsonSink(file)).map((row) => [keyOf(row), row]));
      for (const row of rows) contents.set(keyOf(row), row);
      const temp = `${file}.${process.pid}.tmp`;
      const handle = await fs.open(temp, 'w');
      try {
        await handle.writeFile(JSON.stringify([...contents.values()]));
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fs.rename(temp, file);
      const directory = await fs.open(path.dirname(file), 'r');
      try {
        await directory.sync();
      } finally {
        await directory.close();
      }
    },
  };
}

export async function readJsonSink(file: string): Promise<OutputRow[]> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as OutputRow[];
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}
