import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { join } from 'node:path';
import { Piscina } from 'piscina';
import { APP_CONFIG, AppConfig } from '../../config/app-config';
import type { SchemaValidator } from '../validation/json-schema';
import type { ParsedBody, SchemaVerdict } from './json-work';

// Compiled (dist/) the worker module is JavaScript; run from TypeScript sources (the tests), the worker transpiles it as it loads.
const FROM_SOURCES = __filename.endsWith('.ts');

/**
 * A pool of worker threads for the JSON work whose cost grows with a body's size: parsing and
 * checking a large body, and validating its JSON text against a tenant's schema. One request's
 * 1 MiB of deeply nested input then costs the event loop nothing but copying its text
 * (docs/api.md#event-loop-budget). Threads start on demand and stop when idle.
 */
@Injectable()
export class JsonWorkers implements OnApplicationShutdown {
  private readonly pool: Piscina;
  private readonly schemaIds = new WeakMap<SchemaValidator, number>();
  private nextSchemaId = 1;

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

  /** Validates JSON text against the schema `validate` was compiled from here (the worker compiles its own copy once). */
  validate(validate: SchemaValidator, schema: object, text: string): Promise<SchemaVerdict> {
    let id = this.schemaIds.get(validate);
    if (id === undefined) this.schemaIds.set(validate, (id = this.nextSchemaId++));
    return this.pool.run({ id, schema, text }, { name: 'validateJson' }) as Promise<SchemaVerdict>;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.pool.destroy();
  }
}
