import { randomFillSync } from "node:crypto";
const data = randomFillSync(Buffer.alloc(256 << 20));
async function* pagesOf() {
  for (let i = 0; i * 4096 < data.length; i++) yield { objectId: 1, pageIndex: i, bytes: data.subarray(i * 4096, (i + 1) * 4096) };
}
const buf = Buffer.allocUnsafeSlow(4 << 20);
const u8 = new Uint8Array(4 << 20);
for (let r = 0; r < 4; r++) {
  let t = performance.now(); let n = 0;
  for await (const p of pagesOf()) n++;
  const t1 = performance.now();
  let k = 0;
  for await (const p of pagesOf()) { buf.set(p.bytes, (k++ & 1023) * 4096); }
  const t2 = performance.now();
  k = 0;
  for await (const p of pagesOf()) { u8.set(p.bytes, (k++ & 1023) * 4096); }
  const t3 = performance.now();
  k = 0;
  for (let i = 0; i < 65536; i++) { u8.set(data.subarray(i * 4096, (i + 1) * 4096), (k++ & 1023) * 4096); }
  const t4 = performance.now();
  console.log(`gen only ${(t1 - t).toFixed(0)} ms; gen+copy(Buffer) ${(t2 - t1).toFixed(0)}; gen+copy(u8) ${(t3 - t2).toFixed(0)}; sync copy ${(t4 - t3).toFixed(0)}`);
}
