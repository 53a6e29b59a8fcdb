/** `bytes` cut at random points into 1..maxCut-byte chunks, each its own Buffer (as gRPC hands a body over). */
export function cutRandomly(bytes: Buffer, random: () => number, maxCut: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < bytes.length;) {
    const size = 1 + Math.floor(random() * maxCut);
    chunks.push(Buffer.from(bytes.subarray(offset, offset + size)));
    offset += size;
  }
  return chunks;
}
