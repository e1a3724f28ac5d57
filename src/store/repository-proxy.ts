import type { Repository } from './types';

/**
 * A repository that behaves like `inner` except for the given methods. A Proxy rather than a class,
 * so Repository methods added later pass through untouched (the audit and subscription wrappers).
 */
export function withOverrides(inner: Repository, overrides: Partial<Repository>): Repository {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (Object.hasOwn(overrides, prop)) {
        return overrides[prop as keyof Repository];
      }
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
