/**
 * Polls `check` until it returns a truthy value and returns it; fails after `limitMs`. The limit is
 * a safety net for a broken build, not a timing assertion: tests never assert how long things take.
 */
export async function waitUntil<T>(
  check: () => T | undefined | false,
  limitMs = 15_000,
  everyMs = 10,
): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
