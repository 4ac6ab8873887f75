// Files as xdiff sees them: records are lines including their "\n" (the last one may lack
// it), and two records are equal only when their bytes are (no whitespace flags in merges).
// A line's key is its bytes read as latin1, which is one-to-one, so keys compare as bytes do.

export interface XdFile {
  lines: Uint8Array[];
  keys: string[];
}

const latin1 = new TextDecoder("latin1");

export function splitRecords(data: Uint8Array): XdFile {
  const lines: Uint8Array[] = [];
  const keys: string[] = [];
  let start = 0;
  while (start < data.length) {
    let end = data.indexOf(0x0a, start);
    end = end < 0 ? data.length : end + 1;
    const line = data.subarray(start, end);
    lines.push(line);
    keys.push(latin1.decode(line));
    start = end;
  }
  return { lines, keys };
}

/** A slice of a file's records, as xdiff's fall-back and conflict refinement re-read them. */
export function subFile(f: XdFile, from: number, count: number): XdFile {
  return { lines: f.lines.slice(from, from + count), keys: f.keys.slice(from, from + count) };
}

/**
 * Class numbers for the records of two files: equal records share a class, and each class
 * knows how often it occurs in each file (xdiff's classifier, which Myers' pre-pass uses).
 */
export interface Classified {
  ha1: Int32Array;
  ha2: Int32Array;
  count1: Int32Array;
  count2: Int32Array;
}

export function classify(keys1: string[], keys2: string[]): Classified {
  const ids = new Map<string, number>();
  const assign = (keys: string[]) => {
    const ha = new Int32Array(keys.length);
    for (let i = 0; i < keys.length; i++) {
      let id = ids.get(keys[i]);
      if (id === undefined) ids.set(keys[i], (id = ids.size));
      ha[i] = id;
    }
    return ha;
  };
  const ha1 = assign(keys1);
  const ha2 = assign(keys2);
  const count1 = new Int32Array(ids.size);
  const count2 = new Int32Array(ids.size);
  for (const h of ha1) count1[h]++;
  for (const h of ha2) count2[h]++;
  return { ha1, ha2, count1, count2 };
}
