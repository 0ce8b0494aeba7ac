/**
 * `/_simulator/*`: inspection and control for tests and demos, no auth. `GET stats` is the
 * report of {@link SimulatorStats}; `POST reset` clears everything; `POST advance {seconds}`
 * moves the simulated clock; `GET clock` tells simulated now and the time scale.
 */
import { invalidType } from '../errors.ts';
import type { SimContext } from './context.ts';
import { readJson, type Reply, type RequestContext, type Route } from './http.ts';

async function stats(sim: SimContext): Promise<Reply> {
  return { json: sim.snapshot() };
}

async function reset(sim: SimContext, rc: RequestContext): Promise<Reply> {
  rc.req.resume();
  await sim.reset();
  return { json: { ok: true } };
}

async function advance(sim: SimContext, rc: RequestContext): Promise<Reply> {
  const body = await readJson(rc.req);
  if (typeof body.seconds !== 'number' || !(body.seconds >= 0)) throw invalidType('seconds', 'a number >= 0');
  sim.clock.advance(body.seconds);
  return { json: { now: sim.clock.nowSeconds(), wallNow: sim.clock.wallSeconds(), timeScale: sim.clock.timeScale } };
}

async function clock(sim: SimContext): Promise<Reply> {
  return { json: { now: sim.clock.nowSeconds(), wallNow: sim.clock.wallSeconds(), timeScale: sim.clock.timeScale } };
}

/** The inspection routes. */
export const inspectRoutes: Route[] = [
  { method: 'GET', path: '/_simulator/stats', handler: stats, open: true },
  { method: 'POST', path: '/_simulator/reset', handler: reset, open: true },
  { method: 'POST', path: '/_simulator/advance', handler: advance, open: true },
  { method: 'GET', path: '/_simulator/clock', handler: clock, open: true },
];
