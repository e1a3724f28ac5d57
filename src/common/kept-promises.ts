/**
 * Keeps `promise` in `map` under `key` until it rejects: a failed read is tried anew by the next
 * caller, never replayed from the map (a retried unit would fail again with the old error). The
 * rejection is also marked handled, for promises started ahead and perhaps never awaited.
 */
export function keepUntilRejected<K extends object, V>(map: WeakMap<K, Promise<V>>, key: K, promise: Promise<V>): Promise<V> {
  map.set(key, promise);
  promise.catch(() => {
    if (map.get(key) === promise) {
      map.delete(key);
    }
  });
  return promise;
}
