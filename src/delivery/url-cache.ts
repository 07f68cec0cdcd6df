/**
 * A memo of what a URL parses to. Callbacks go to a few URLs over and over,
 * and a `new URL()` per attempt showed in worker profiles. Bounded: the memo
 * is simply emptied when it holds `max` URLs.
 */
export function urlMemo<T>(derive: (url: URL) => T, max = 1000): (url: string) => T | null {
  const memo = new Map<string, T | null>();
  return (url) => {
    const hit = memo.get(url);
    if (hit !== undefined) return hit;
    let value: T | null;
    try {
      value = derive(new URL(url));
    } catch {
      value = null;
    }
    if (memo.size >= max) memo.clear();
    memo.set(url, value);
    return value;
  };
}
