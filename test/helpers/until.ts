/**
 * Waits until `done()` holds, checking every 25 ms; fails after `guardMs`. The guard
 * keeps a broken test from hanging: it is not a timing check.
 */
export async function until(done: () => boolean | Promise<boolean>, what: string, guardMs = 15_000): Promise<void> {
  const deadline = Date.now() + guardMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
