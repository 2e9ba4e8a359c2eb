/**
 * One small integer (a handle) per visitor or session id of a partition, while some open window
 * holds it: the windows' distinct sets hold handles (int-set.ts) instead of the ids, so an event's
 * fresh copy of its id (every record is parsed anew) is hashed and compared once, here, and not
 * once per window and dimension; and the id's text is kept once, by the first copy seen, instead
 * of one copy per window. Pure: no Node.
 *
 * Lifetime: a set that takes a handle counts it (`ref`), and lets go of it when its window goes
 * (`unref`); a handle nothing counts is free and may go to another id (no set holds the old one
 * then). The caller counts a handle as soon as it has it from `of`.
 */
export class Handles {
  private readonly byText = new Map<string, number>();
  /** Per handle: its id (null: free) and how many sets hold it. */
  private readonly texts: (string | null)[] = [];
  private readonly refs: number[] = [];
  private readonly free: number[] = [];

  /** The handle of `text`: the one it has, or a new one. */
  of(text: string): number {
    let h = this.byText.get(text);
    if (h === undefined) {
      h = this.free.pop() ?? this.texts.length;
      this.texts[h] = text;
      this.refs[h] = 0;
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

  /** One more set holds `h`. */
  ref(h: number): void {
    this.refs[h]++;
  }

  /** A set holding `h` went: `h` is free when it was the last. */
  unref(h: number): void {
    if (--this.refs[h] > 0) return;
    const t = this.texts[h];
    if (t === null) throw new Error(`handle ${h} released more often than held`);
    this.byText.delete(t);
    this.texts[h] = null;
    this.free.push(h);
  }

  /** Handles in use. */
  get size(): number {
    return this.byText.size;
  }
}
