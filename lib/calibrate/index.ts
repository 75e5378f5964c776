// Post-training quantization calibration: observers over native reductions, threshold searches, and the
// PyTorch scale / zero-point rule. See calibrator.ts (API), observers.ts (methods), search.ts (threshold searches),
// histogram.ts (the streaming histogram) and qparams.ts (scale and zero point from a range).
export { Calibrator, calibrate } from './calibrator';
export type { Calibration, CalibrationDtype, CalibrationResult, ChannelCalibration, TensorCalibration } from './calibrator';
export { CALIBRATION_METHODS } from './options';
export type { CalibrateOptions, CalibrationMethod } from './options';
export { qparamsFromRange } from './qparams';
