/**
 * The conversion step of setup: GGUF → ONNX target (and self-drafting model). Skipped when
 * the converted files record the same source checksum.
 */
export async function ensureConverted(_gguf: string, _outDir: string, log: (line: string) => void): Promise<void> {
  log('… ONNX conversion is not wired into setup yet');
}
