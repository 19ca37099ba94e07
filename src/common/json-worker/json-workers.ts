import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { dirname, extname, join } from 'node:path';
import { Piscina } from 'piscina';
import { APP_CONFIG, AppConfig } from '../../config/app-config';
import type { TenantSchema } from '../validation/json-schema';
import type { ParsedBody, SchemaVerdict } from './json-work';

// Compiled (dist/) the worker module is JavaScript; run from TypeScript sources (the tests), the worker transpiles it as it loads.
const FROM_SOURCES = __filename.endsWith('.ts');

/** The task module `name` beside `caller` (a module's `__filename`): compiled JavaScript, or TypeScript run from the sources. */
export function workerModule(caller: string, name: string): string {
  return join(dirname(caller), name + extname(caller));
}

/**
 * A pool of worker threads for the JSON work whose cost grows with a body's size or a tenant's
 * schema: parsing and checking a large body, validating JSON text against a tenant's schema, and
 * the features' own task modules (`run`: a flow definition's checks). One request's 1 MiB of deeply
 * nested input, or its patterns, then cost the event loop nothing but copying text
 * (docs/api.md#event-loop-budget). Threads start on demand and stop when idle.
 */
@Injectable()
export class JsonWorkers implements OnApplicationShutdown {
  private readonly pool: Piscina;

  constructor(@Inject(APP_CONFIG) readonly config: AppConfig) {
    this.pool = new Piscina({
      filename: join(__dirname, FROM_SOURCES ? 'json-worker.ts' : 'json-worker.js'),
      // The task a thread loads when it starts (each run names its own).
      name: 'parseBody',
      minThreads: 0,
      maxThreads: config.jsonWorker.threads,
      idleTimeout: 60_000,
      execArgv: FROM_SOURCES ? ['--require', 'ts-node/register/transpile-only'] : [],
    });
  }

  /** Whether a body of this many characters is parsed here rather than on the event loop. */
  takes(chars: number): boolean {
    return chars >= this.config.jsonWorker.minChars;
  }

  parseBody(text: string): Promise<ParsedBody> {
    return this.pool.run(text, { name: 'parseBody' }) as Promise<ParsedBody>;
  }

  /** Validates JSON text against a tenant's schema (each thread compiles it once). */
  validate(schema: TenantSchema, text: string): Promise<SchemaVerdict> {
    return this.pool.run({ id: schema.id, schema: schema.text, text }, { name: 'validateJson' }) as Promise<SchemaVerdict>;
  }

  /** Runs `name` of another task module (`workerModule`): a feature's own work off the event loop, on the same threads. */
  run<T>(module: string, name: string, task: unknown): Promise<T> {
    return this.pool.run(task, { filename: module, name }) as Promise<T>;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.pool.destroy();
  }
}
