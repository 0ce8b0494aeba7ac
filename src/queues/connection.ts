import { Redis, type RedisOptions } from 'ioredis';

/**
 * A Redis connection suitable for BullMQ workers and queues alike (`maxRetriesPerRequest: null`
 * so commands wait through a reconnect instead of failing). RESP2, the protocol BullMQ is tested on.
 */
export function createRedis(url: string, options: RedisOptions = {}): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    protocol: 2,
    retryStrategy: (n) => Math.min(200 * 2 ** n, 5_000),
    ...options,
  });
}
