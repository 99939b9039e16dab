/** GGUF reading, dequantisation and (for fixtures) writing. */
export {
  openGguf,
  loadWeights,
  readTensorBytes,
  assertSupportedTypes,
  type GgufFile,
  type GgufTensorInfo,
  type GgufMetadata,
} from './reader.ts';
export { configFromGguf, SUPPORTED_ARCHITECTURES } from './config.ts';
export { dequantize, dequantizeTensor, elementCount, q4BlockFields, type Q4Blocks } from './dequant.ts';
export {
  BLOCK_LAYOUT,
  SUPPORTED_TYPES,
  GGML_TYPE_IDS,
  GGML_TYPE_ID_OF,
  ggmlTypeName,
  tensorByteSize,
} from './ggml-types.ts';
export { halfToFloat, floatToHalf, roundToHalf, bf16ToFloat } from './half.ts';
export { quantize, QUANTIZABLE_TYPES, type QuantizableType } from './quantize.ts';
export {
  writeGguf,
  encodeGguf,
  GGUF_ALIGNMENT,
  type GgufWriteSpec,
  type GgufWriteTensor,
  type GgufWriteValue,
} from './writer.ts';
