import * as pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import type { DataSource } from 'typeorm';
import { driverPool } from './driver-pool';

/** Bytes as they arrived: views of the chunks read from the connection, in order, never copied together. */
export type Bytes = readonly Buffer[];

/** A row read through `copyQuery`: each named column's bytes (UTF-8 text), or null. */
export type ByteRow<C extends string> = Record<C, Bytes | null>;

// pg's own conversion of a parameter to the text it sends (exported by pg, not declared by @types/pg).
const { prepareValue } = (pg as unknown as { utils: { prepareValue(value: unknown): string | Buffer | null } }).utils;

// Binary COPY: an 11-byte signature, a 32-bit flags field and a 32-bit header extension length.
const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

/**
 * Runs `sql` (its parameters `$1`, `$2`, … as for `query`) and hands back the named columns of its
 * rows as bytes, never decoded into JavaScript strings. The statement goes as `COPY (…) TO STDOUT
 * (FORMAT binary)` with each column cast to text, whose binary form is its UTF-8 bytes: a page of
 * JSON that PostgreSQL wrote reaches the response as the bytes it is sent as, where a `query` would
 * decode it into a string on the event loop and the response encode it back (a third of the loop's
 * work under a flood of large pages, docs/benchmarks.md#noisy-neighbour).
 *
 * COPY takes no bind parameters: each is written into the statement as the literal of the text pg
 * would have sent for it (`prepareValue`, then `escapeLiteral`), of unknown type as an untyped
 * parameter is, so that PostgreSQL resolves it from its context the same way.
 */
export async function copyQuery<C extends string>(
  dataSource: DataSource,
  sql: string,
  params: readonly unknown[],
  columns: readonly C[],
): Promise<ByteRow<C>[]> {
  const selected = columns.map((column) => `q.${column}::text`).join(', ');
  const text = `COPY (SELECT ${selected} FROM (${inlineParameters(sql, params)}) q) TO STDOUT (FORMAT binary)`;
  const client = await driverPool(dataSource).connect();
  let failed: Error | undefined;
  // A checked-out client has no listener of the pool's: without this one, its connection's end
  // (the backend terminated mid-statement) would be an unhandled 'error' event, fatal to the process.
  const lostConnection = (error: Error) => (failed ??= error);
  client.on('error', lostConnection);
  try {
    const chunks: Buffer[] = [];
    const stream = client.query(copyTo(text));
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    return decodeBinaryCopy(chunks).map((fields) => {
      const row = {} as ByteRow<C>;
      columns.forEach((column, i) => (row[column] = fields[i]));
      return row;
    });
  } catch (error) {
    failed = error as Error;
    throw error;
  } finally {
    // PostgreSQL's refusal of the statement leaves the connection ready for the next one; after any
    // other failure (a FATAL error, the socket lost) the connection is discarded, not handed on.
    const reusable = failed === undefined || (failed instanceof pg.DatabaseError && failed.severity === 'ERROR');
    client.removeListener('error', lostConnection);
    client.release(reusable ? undefined : failed);
  }
}

/**
 * A page PostgreSQL writes whole, from `sql`'s one row: `head`, the page's small fields as one JSON
 * object (parsed), and `body`, the page's JSON text (left as bytes); undefined without a row.
 */
export async function copyPage<H>(dataSource: DataSource, sql: string, params: readonly unknown[]): Promise<{ head: H; body: Bytes } | undefined> {
  const [row] = await copyQuery(dataSource, sql, params, ['head', 'body'] as const);
  return row && { head: JSON.parse(Buffer.concat(row.head ?? []).toString()) as H, body: row.body ?? [] };
}

/** `sql` with each `$n` replaced by the literal of `params[n - 1]` (NULL for null or undefined). */
export function inlineParameters(sql: string, params: readonly unknown[]): string {
  return sql.replace(/\$(\d+)(?!\d)/g, (_, n: string) => {
    const index = Number(n) - 1;
    if (index >= params.length) throw new Error(`inlineParameters: no parameter $${n}`);
    const value = prepareValue(params[index]);
    if (value === null || value === undefined) return 'NULL';
    return pg.escapeLiteral(Buffer.isBuffer(value) ? `\\x${value.toString('hex')}` : String(value));
  });
}

/** The rows of a binary COPY's output (header, tuples, trailer), each field views of `chunks` or null. */
export function decodeBinaryCopy(chunks: readonly Buffer[]): (Bytes | null)[][] {
  const reader = new ChunkReader(chunks);
  if (!Buffer.concat(reader.take(SIGNATURE.length)).equals(SIGNATURE)) throw new Error('decodeBinaryCopy: not the output of COPY … (FORMAT binary)');
  reader.int(4); // flags
  reader.take(reader.int(4)); // header extension
  const rows: (Bytes | null)[][] = [];
  for (let count = reader.int(2); count !== -1; count = reader.int(2)) {
    const fields: (Bytes | null)[] = new Array(count);
    for (let i = 0; i < count; i++) {
      const length = reader.int(4);
      fields[i] = length === -1 ? null : reader.take(length);
    }
    rows.push(fields);
  }
  return rows;
}

/** Reads across the chunk boundaries of a stream's output, in order. */
class ChunkReader {
  private chunk = 0;
  private at = 0;

  constructor(private readonly chunks: readonly Buffer[]) {}

  /** The next `length` bytes, as views of the chunks they lie in. */
  take(length: number): Buffer[] {
    const views: Buffer[] = [];
    while (length > 0) {
      const current = this.chunks[this.chunk];
      if (current === undefined) throw new Error('decodeBinaryCopy: the output ends early');
      const n = Math.min(length, current.length - this.at);
      views.push(current.subarray(this.at, this.at + n));
      length -= n;
      this.at += n;
      if (this.at === current.length) [this.chunk, this.at] = [this.chunk + 1, 0];
    }
    return views;
  }

  /**
   * A signed big-endian integer of `size` bytes (2 or 4): read in place when it lies within the current
   * chunk short of its end; otherwise through `take`, which also moves on to the next chunk.
   */
  int(size: 2 | 4): number {
    const current = this.chunks[this.chunk];
    if (current !== undefined && this.at + size < current.length) {
      const value = size === 2 ? current.readInt16BE(this.at) : current.readInt32BE(this.at);
      this.at += size;
      return value;
    }
    const views = this.take(size);
    const bytes = views.length === 1 ? views[0] : Buffer.concat(views);
    return size === 2 ? bytes.readInt16BE(0) : bytes.readInt32BE(0);
  }
}
