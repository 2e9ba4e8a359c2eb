/**
 * One small integer (a handle) per visitor or session id of a partition, while some open KPI
 * window holds it: the windows' distinct sets hold handles (int-set.ts) instead of the ids, so an
 * event's fresh copy of its id (every record is parsed anew) is hashed and compared once, here,
 * and not once per window and dimension; and the id's text is kept once, by the first copy
 * seen, instead of one copy per window. Pure: no Node.
 *
 * Lifetime: whoever adds a handle to a window says until when it holds it (`hold`, the end of
 * the last window of that time); whoever drops a window lets go of its handles (`release`). A
 * handle is free again once nothing holds it past that point, and may then go to another id:
 * no window still holding the old one may be open then (kpi-windows.ts drops a window's handles
 * only when every window holding them is sealed).
 */
export class Handles {
  private readonly byText = new Map<string, number>();
  /** Per handle: its id (null: free), and the end of the last window holding it. */
  private readonly texts: (string | null)[] = [];
  private readonly until: number[] = [];
  private readonly free: number[] = [];

  /** The handle of `text`: the one it has, or a new one. */
  of(text: string): number {
    let h = this.byText.get(text);
    if (h === undefined) {
      h = this.free.pop() ?? this.texts.length;
      this.texts[h] = text;
      this.until[h] = -Infinity;
      this.byText.set(text, h);
    }
    return h;
  }

  /** The id of a handle in use: the first copy of its text seen (one string shared by every holder). */
  text(h: number): string {
    const t = this.texts[h];
    if (t === null) throw new Error(`handle ${h} is free`);
    return t;
  }

  /** Something holds `h` until `end` (a window's end). */
  hold(h: number, end: number): void {
    if (end > this.until[h]) this.until[h] = end;
  }

  /** A holder until `end` let go of `h`: free once nothing holds it later. */
  release(h: number, end: number): void {
    const t = this.texts[h];
    if (t === null || this.until[h] > end) return;
    this.byText.delete(t);
    this.texts[h] = null;
    this.free.push(h);
  }

  /** Handles in use. */
  get size(): number {
    return this.byText.size;
  }
}
