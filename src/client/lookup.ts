/** Optional PostgreSQL lookups for producers: the read model of one item (no SQL of the client's own). */
export { findItem, type ItemAttempt, type ItemView } from '../store/read-models/items.ts';
