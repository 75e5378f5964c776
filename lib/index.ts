// qkernels: INT8 quantization kernels for Node.js. The public surface; every name here is exported from both
// the CommonJS and the ESM entry points.
export { cpuInfo, getIsa, setIsa, withIsa, ISAS } from './isa';
export type { CpuInfo, Isa } from './isa';
export { quantize, dequantize, isPerChannel, DTYPES } from './quantize';
export type { QuantDtype, QuantArrayOf, QuantParams, PerTensorParams, PerChannelParams } from './quantize';
export { toFloat16, fromFloat16, toBFloat16, fromBFloat16 } from './float16';
export type { Float16ArrayLike } from './float16';
export { int8Gemm, int8GemmAsync, packB, PackedMatrix, linearDynamic, linearDynamicAsync, setNumThreads, getNumThreads } from './gemm';
export type { GemmOptions, GemmShapeOptions, GemmScaleOptions, Int32GemmOptions, Float32GemmOptions, QuantizedGemmOptions, GemmOutput, GemmOutputArray, PackOptions, LinearDynamicOptions } from './gemm';
export { sgemm, sgemmAsync, type SgemmOptions } from './sgemm';
export { alignedArray, type AlignableArray } from './aligned';
export { calibrate, Calibrator, CALIBRATION_METHODS, qparamsFromRange } from './calibrate';
export type { CalibrateOptions, CalibrationMethod, Calibration, CalibrationResult, TensorCalibration, ChannelCalibration } from './calibrate';
export { fakeQuant, fakeQuantBackward, fakeQuantLearnable, FakeQuantize } from './fakequant';
export type { FakeQuantParams, FakeQuantTensorParams, FakeQuantChannelParams, FakeQuantResult, LearnableParams, LearnableTensorParams, LearnableChannelParams, LearnableGradients, LearnableResult, FakeQuantizeOptions, FakeQuantizeParams } from './fakequant';
