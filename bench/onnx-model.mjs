// A minimal protobuf encoder for ONNX models, enough to build one-node graphs in code (no .onnx files, no
// protobuf dependency). Field numbers follow onnx/onnx.proto (ModelProto, GraphProto, NodeProto, AttributeProto,
// ValueInfoProto, TypeProto, TensorShapeProto, TensorProto, OperatorSetIdProto).

/** TensorProto.DataType values. */
export const DataType = Object.freeze({
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  FLOAT16: 10,
  DOUBLE: 11,
  BFLOAT16: 16,
});

/** AttributeProto.AttributeType values used here. */
const AttrType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, INTS: 7 };

const WIRE_VARINT = 0;
const WIRE_FIXED32 = 5;
const WIRE_LEN = 2;
const utf8 = new TextEncoder();

/** Appends encoded fields to a growing list of byte chunks. */
class Writer {
  /** @type {Uint8Array[]} */
  chunks = [];
  length = 0;

  /** @param {Uint8Array} bytes */
  push(bytes) {
    this.chunks.push(bytes);
    this.length += bytes.length;
    return this;
  }

  /** An unsigned varint, or a negative int64 as its 10-byte two's complement (protobuf's int64 encoding). */
  varint(v) {
    let n = BigInt.asUintN(64, BigInt(v));
    const out = [];
    do {
      let b = Number(n & 0x7fn);
      n >>= 7n;
      if (n !== 0n) b |= 0x80;
      out.push(b);
    } while (n !== 0n);
    return this.push(Uint8Array.from(out));
  }

  tag(field, wire) {
    return this.varint((field << 3) | wire);
  }

  /** An int32/int64/enum field. */
  int(field, v) {
    return this.tag(field, WIRE_VARINT).varint(v);
  }

  float(field, v) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    return this.tag(field, WIRE_FIXED32).push(b);
  }

  /** @param {Uint8Array} bytes */
  bytes(field, bytes) {
    return this.tag(field, WIRE_LEN).varint(bytes.length).push(bytes);
  }

  string(field, s) {
    return this.bytes(field, utf8.encode(s));
  }

  /** An embedded message built by `build(writer)`. */
  message(field, build) {
    const w = new Writer();
    build(w);
    return this.bytes(field, w.finish());
  }

  finish() {
    const out = new Uint8Array(this.length);
    let off = 0;
    for (const c of this.chunks) {
      out.set(c, off);
      off += c.length;
    }
    return out;
  }
}

/**
 * A tensor constant (an initializer, or an attribute value).
 * @typedef {{ name?: string, dataType: number, dims: number[], data: ArrayBufferView }} TensorSpec
 */

/** @param {Writer} w @param {TensorSpec} t */
function writeTensor(w, t) {
  for (const d of t.dims) w.int(1, d);
  w.int(2, t.dataType);
  if (t.name) w.string(8, t.name);
  // raw_data holds the values little-endian; every supported platform for this bench is little-endian.
  w.bytes(9, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
}

/**
 * A graph input or output. `shape` entries are fixed sizes (numbers) or symbolic names (strings).
 * @typedef {{ name: string, dataType: number, shape: (number|string)[] }} ValueSpec
 */

/** @param {Writer} w @param {ValueSpec} v */
function writeValueInfo(w, v) {
  w.string(1, v.name);
  w.message(2, (type) =>
    type.message(1, (tensor) => {
      tensor.int(1, v.dataType);
      tensor.message(2, (shape) => {
        for (const d of v.shape) shape.message(1, (dim) => (typeof d === 'string' ? dim.string(2, d) : dim.int(1, d)));
      });
    }),
  );
}

/**
 * @typedef {number | string | number[] | { tensor: TensorSpec } | { float: number }} AttrValue
 *   a number is an INT attribute; use `{ float }` for FLOAT.
 */

/** @param {Writer} w @param {string} name @param {AttrValue} v */
function writeAttribute(w, name, v) {
  w.string(1, name);
  if (typeof v === 'number') w.int(3, v).int(20, AttrType.INT);
  else if (typeof v === 'string') w.string(4, v).int(20, AttrType.STRING);
  else if (Array.isArray(v)) {
    for (const i of v) w.int(8, i);
    w.int(20, AttrType.INTS);
  } else if ('float' in v) w.float(2, v.float).int(20, AttrType.FLOAT);
  else w.message(5, (t) => writeTensor(t, v.tensor)).int(20, AttrType.TENSOR);
}

/**
 * @typedef {object} NodeSpec
 * @property {string} opType
 * @property {string[]} inputs  ('' for an omitted optional input)
 * @property {string[]} outputs
 * @property {Record<string, AttrValue>} [attributes]
 * @property {string} [name]
 * @property {string} [domain]
 */

/**
 * Encodes a ModelProto holding one graph.
 * @param {object} spec
 * @param {NodeSpec[]} spec.nodes
 * @param {ValueSpec[]} spec.inputs
 * @param {ValueSpec[]} spec.outputs
 * @param {TensorSpec[]} [spec.initializers] (each needs a name)
 * @param {number} [spec.opset] default-domain opset version (default 13)
 * @param {number} [spec.irVersion] default 7 (the IR version of opset 13)
 * @param {string} [spec.graphName]
 * @returns {Uint8Array} the serialized model, for `InferenceSession.create(bytes)`
 */
export function encodeModel({ nodes, inputs, outputs, initializers = [], opset = 13, irVersion = 7, graphName = 'g' }) {
  const w = new Writer();
  w.int(1, irVersion);
  w.string(2, 'qkernels-bench');
  w.message(7, (g) => {
    nodes.forEach((n, i) =>
      g.message(1, (node) => {
        for (const s of n.inputs) node.string(1, s);
        for (const s of n.outputs) node.string(2, s);
        node.string(3, n.name ?? `${n.opType}_${i}`);
        node.string(4, n.opType);
        for (const [k, v] of Object.entries(n.attributes ?? {})) node.message(5, (a) => writeAttribute(a, k, v));
        if (n.domain) node.string(7, n.domain);
      }),
    );
    g.string(2, graphName);
    for (const t of initializers) g.message(5, (tw) => writeTensor(tw, t));
    for (const v of inputs) g.message(11, (vw) => writeValueInfo(vw, v));
    for (const v of outputs) g.message(12, (vw) => writeValueInfo(vw, v));
  });
  w.message(8, (o) => o.string(1, '').int(2, opset));
  return w.finish();
}

/**
 * A model with a single node `opType(x, ...initializers) -> y`.
 * @param {object} spec
 * @param {string} spec.opType
 * @param {number} spec.inType
 * @param {number} spec.outType
 * @param {(number|string)[]} spec.shape input and output shape
 * @param {TensorSpec[]} [spec.initializers] extra inputs after x, in order (each needs a name)
 * @param {Record<string, AttrValue>} [spec.attributes]
 * @param {number} [spec.opset]
 */
export function singleOpModel({ opType, inType, outType, shape, initializers = [], attributes, opset }) {
  return encodeModel({
    nodes: [{ opType, inputs: ['x', ...initializers.map((t) => t.name ?? '')], outputs: ['y'], attributes }],
    inputs: [{ name: 'x', dataType: inType, shape }],
    outputs: [{ name: 'y', dataType: outType, shape }],
    initializers,
    opset,
  });
}
