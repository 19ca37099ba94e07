import { EventEmitter } from 'node:events';
import type { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AdmissionGuard } from '../src/common/admission/admission.guard';
import { AdmissionService } from '../src/common/admission/admission.service';
import { loadConfig } from '../src/config/app-config';
import type { MetricsService } from '../src/common/metrics/metrics.service';
import { Registry } from 'prom-client';

/**
 * `npm run bench:admission`: what fair admission adds to a request when the process is not busy
 * (the hot GET): the guard's `canActivate` on a GET by id, the slot stored on the response, and its
 * release when the response closes, against the same loop with admission off. ns per request.
 */
function main(): void {
  const metrics = { registry: new Registry() } as unknown as MetricsService;
  const on = new AdmissionGuard(new AdmissionService(loadConfig({ JWT_SECRET: 'x'.repeat(32) }), metrics), new Reflector());
  const off = new AdmissionGuard(new AdmissionService(loadConfig({ JWT_SECRET: 'x'.repeat(32), ADMISSION_CONCURRENCY: '0' }), metrics), new Reflector());
  const handler = function getFlowExecution() {};
  const req = { principal: { organizationId: 'b0000000-0000-4000-8000-00000000be9c' }, query: {} };
  const context = (res: EventEmitter) =>
    ({ switchToHttp: () => ({ getRequest: () => req, getResponse: () => res }), getHandler: () => handler }) as unknown as ExecutionContext;

  const run = (guard: AdmissionGuard, n: number): number => {
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      const res = new EventEmitter();
      if (guard.canActivate(context(res)) !== true) throw new Error('a request of an idle process waited');
      res.emit('close');
    }
    return Number(process.hrtime.bigint() - start) / n;
  };
  const N = 200_000;
  // Warm up both paths.
  for (let i = 0; i < 3; i++) {
    run(on, N);
    run(off, N);
  }
  const samples: { on: number; off: number }[] = [];
  for (let i = 0; i < 7; i++) samples.push({ off: run(off, N), on: run(on, N) });
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const offNs = median(samples.map((s) => s.off));
  const onNs = median(samples.map((s) => s.on));
  console.log(`admission off: ${offNs.toFixed(0)} ns/request (the loop itself: a response emitter, the context)`);
  console.log(`admission on:  ${onNs.toFixed(0)} ns/request; added: ${(onNs - offNs).toFixed(0)} ns (${((onNs - offNs) / 1000).toFixed(2)} µs)`);
}

main();
