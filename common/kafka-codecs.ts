import { lz4Compress, lz4Decompress, snappyCompress, snappyDecompress } from '@platformatic/wasm-utils';
// Default import: Node's ESM loader does not see CompressionCodecs among kafkajs's CommonJS exports.
import kafkajs from 'kafkajs';
import { zstdCompressSync, zstdDecompressSync } from 'node:zlib';

/**
 * kafkajs ships gzip only: without these, a kafkajs consumer (the processor) cannot read record
 * batches a producer compressed with snappy, lz4 or zstd (GATEWAY_KAFKA_COMPRESSION, or any Java client),
 * and a kafkajs producer cannot write them. Snappy and LZ4 frames with the WebAssembly codecs
 * @platformatic/kafka uses; zstd with Node's own zlib. Registered once, for every kafkajs client
 * of the process, when common/kafka-client.ts is loaded.
 */
const { CompressionCodecs, CompressionTypes } = kafkajs;

const codec = (compress: (b: Buffer) => Buffer, decompress: (b: Buffer) => Buffer) => () => ({
  compress: async (encoder: { buffer: Buffer }) => compress(encoder.buffer),
  decompress: async (buffer: Buffer) => decompress(buffer),
});
/** Snappy as Java's client writes it (xerial framing: a magic header, then length-prefixed chunks) or as one raw block. */
const XERIAL = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
function snappyRead(data: Buffer): Buffer {
  if (data.length < 16 || !data.subarray(0, XERIAL.length).equals(XERIAL)) return snappyDecompress(data);
  const chunks: Buffer[] = [];
  for (let at = 16; at < data.length; ) {
    if (at + 4 > data.length) throw new Error('snappy: truncated xerial chunk length');
    const n = data.readUInt32BE(at);
    at += 4;
    if (at + n > data.length) throw new Error('snappy: truncated xerial chunk');
    chunks.push(snappyDecompress(data.subarray(at, at + n)));
    at += n;
  }
  return Buffer.concat(chunks);
}

CompressionCodecs[CompressionTypes.LZ4] = codec(lz4Compress, lz4Decompress);
CompressionCodecs[CompressionTypes.Snappy] = codec(snappyCompress, snappyRead);
CompressionCodecs[CompressionTypes.ZSTD] = codec(zstdCompressSync, zstdDecompressSync);

export const KAFKAJS_COMPRESSIONS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
