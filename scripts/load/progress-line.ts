/**
 * Live progress on one terminal line (stderr, redrawn in place twice a second); when
 * stderr is not a terminal (CI, a pipe), a plain line every five seconds instead.
 */
export class ProgressLine {
  private timer: NodeJS.Timeout | undefined;
  private readonly tty = Boolean(process.stderr.isTTY);
  private readonly started = performance.now();

  constructor(private readonly render: () => string) {}

  start(): void {
    this.stop();
    this.timer = setInterval(() => this.draw(), this.tty ? 500 : 5000);
    this.timer.unref();
  }

  draw(): void {
    const elapsed = ((performance.now() - this.started) / 1000).toFixed(0).padStart(4);
    const line = `${elapsed} s  ${this.render()}`;
    if (this.tty) process.stderr.write(`\r\x1b[2K${line.slice(0, (process.stderr.columns || 160) - 1)}`);
    else process.stderr.write(`${line}\n`);
  }

  /** Stops redrawing and leaves the last state on its own line. */
  stop(): void {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.timer = undefined;
    this.draw();
    if (this.tty) process.stderr.write('\n');
  }
}
