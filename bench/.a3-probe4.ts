import { createImageStore, createMemoryStore, createPageStage } from "@vkc/checkpoint";
const images = createImageStore(createMemoryStore());
const stage = createPageStage(images);
const t = setTimeout(() => { console.log("hung", stage.stats()); process.exit(1); }, 10000);
const buf2 = new Uint8Array(1024 * 4096); for (let i = 0; i < buf2.length; i += 4096) buf2[i] = (i / 4096) % 500;
await stage.put(Array(1024).fill(1), [...Array(1024).keys()], buf2, 977);
console.log("ok2", stage.stats());
clearTimeout(t);
process.exit(0);
