// Peer: @petamoriken/float16, the common pure-JS Float16Array polyfill. toFloat16 is `f16.set(float32Array)`
// (its bulk conversion); fromFloat16 reads a Float16Array view over the bits with for-of, the fastest of its
// public read paths here (indexing and Float32Array#set go through its Proxy per element, Float32Array.from and
// DataView getFloat16 are slower still).
import { createRequire } from 'node:module';

import { packageVersion } from '../env.mjs';

const require = createRequire(import.meta.url);

/** @type {typeof import('@petamoriken/float16')} */
let lib;

/** @type {import('./index.mjs').Contender} */
export default {
  id: 'float16',
  kind: 'peer',
  label: () => '@petamoriken/float16',
  description: '@petamoriken/float16 (pure-JS Float16Array polyfill)',
  async load() {
    lib = require('@petamoriken/float16');
    return { version: packageVersion('@petamoriken/float16') };
  },
  ops: {
    toFloat16(d) {
      const f16 = new lib.Float16Array(d.x.length);
      const bits = new Uint16Array(f16.buffer, f16.byteOffset, f16.length);
      return { fn: () => f16.set(d.x), output: () => bits };
    },
    fromFloat16(d, out) {
      const view = new lib.Float16Array(d.h.buffer, d.h.byteOffset, d.h.length);
      return {
        fn: () => {
          let i = 0;
          for (const v of view) out[i++] = v;
        },
        output: () => out,
      };
    },
  },
};
