/**
 * A second OS process writing a file store, for the cross-process and kill -9 tests.
 *
 *   node --import tsx --conditions=@vkc/source store-writer.ts race <root> <writer> <count>
 *   node --import tsx --conditions=@vkc/source store-writer.ts big <root> <writer>
 *
 * Prints `ready` once loaded, then one line per finished operation, then `done`:
 *   race: `won <key>` / `lost <key>` / `put <key>`;  big: `committed <key> <label>` (forever).
 */
import { createFileStore } from "../file-store.ts";
import { checkedValue } from "./checked-value.ts";

const [mode, root, writer, countText] = process.argv.slice(2);
if (root === undefined || writer === undefined) throw new Error("usage: store-writer.ts race|big ROOT WRITER [COUNT]");
const store = createFileStore({ root });
const say = (line: string) => process.stdout.write(`${line}\n`);

async function* chunked(value: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < value.byteLength; at += size) {
    await new Promise((resolve) => setTimeout(resolve, 1));
    yield value.subarray(at, at + size);
  }
}

async function race(count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const key = `race/${i}`;
    say(`${(await store.putIfAbsent(key, checkedValue(`${writer}:${key}`, 2000 + i))) ? "won" : "lost"} ${key}`);
    const shared = `shared/${i % 8}`;
    await store.put(shared, checkedValue(`${writer}:${shared}:${i}`, 50_000));
    say(`put ${shared}`);
    const own = `w-${writer}/${i % 40}/${i}`;
    await store.put(own, checkedValue(`${writer}:${own}`, 1000));
    say(`put ${own}`);
    if (i % 5 === 4) {
      const gone = `w-${writer}/${(i - 1) % 40}/${i - 1}`;
      await store.delete(gone);
      say(`deleted ${gone}`);
    }
  }
}

async function big(): Promise<void> {
  for (let i = 0; ; i++) {
    const size = 256 * 1024 + ((i * 7919) % 16) * 256 * 1024;
    let key: string;
    const label = `${writer}:${i}`;
    switch (i % 4) {
      case 0:
        key = `big/${writer}-${i}`;
        await store.put(key, checkedValue(label, size));
        break;
      case 1:
        key = `big/${writer}-${i}`;
        await store.putStream(key, chunked(checkedValue(label, size), 64 * 1024));
        break;
      case 2:
        key = `pia/${i % 10}`;
        if (!(await store.putIfAbsent(key, checkedValue(label, size)))) continue;
        break;
      default:
        key = `hot/${i % 3}`;
        await store.put(key, checkedValue(label, size));
    }
    say(`committed ${key} ${label}`);
  }
}

say("ready");
if (mode === "race") await race(Number(countText ?? "100"));
else if (mode === "big") await big();
else throw new Error(`unknown mode ${mode}`);
say("done");
