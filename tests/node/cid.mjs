// Print the CIDv1 Kubo's `ipfs add --cid-version=1` gives each file named on the command line, computed by
// Helia's UnixFS importer with Kubo's settings (256 KiB chunks, raw leaves, balanced DAG of 174 links).
import fs from "node:fs";
import { unixfs } from "@helia/unixfs";
import { MemoryBlockstore } from "blockstore-core";
import { balanced } from "ipfs-unixfs-importer/layout";
import { fixedSize } from "ipfs-unixfs-importer/chunker";

const fs_ = unixfs({ blockstore: new MemoryBlockstore() });
for (const file of process.argv.slice(2)) {
  const cid = await fs_.addBytes(fs.readFileSync(file), {
    cidVersion: 1,
    rawLeaves: true,
    chunker: fixedSize({ chunkSize: 262144 }),
    layout: balanced({ maxChildrenPerNode: 174 }),
    reduceSingleLeafToSelf: true,
  });
  console.log(`${cid.toString()} ${file}`);
}
