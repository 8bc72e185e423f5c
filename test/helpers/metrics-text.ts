/** Reading Prometheus text in tests and benchmarks. */

/** The value of one series (its name plus its exact label set, as printed), or undefined. */
export function seriesValue(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** The sum of every series whose printed name and labels start with `prefix` (say, one metric over all its label sets). */
export function seriesSum(text: string, prefix: string): number {
  return text
    .split('\n')
    .filter((line) => line.startsWith(prefix))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}
