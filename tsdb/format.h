/* format.h — on-disk constants of the tsdb (see tsdb/FORMAT.md for the box
 * diagrams). All integers are little-endian (lib/lk_endian.h); varints are
 * LEB128 uvarints (zigzag for signed); every CRC is CRC32 (IEEE, zlib) of
 * the bytes it follows. Bump a *_VERSION when a layout changes; readers
 * refuse a file with an unknown magic or version (LK_ECORRUPT naming it)
 * and leave it untouched.
 */
#ifndef TSDB_FORMAT_H
#define TSDB_FORMAT_H

/* Data directory layout */
#define TSDB_DIR_WAL "wal"
#define TSDB_DIR_LOCK "lock"
#define TSDB_BLOCK_PREFIX "b-"       /* b-<16 hex digit sequence> */
#define TSDB_TMP_SUFFIX ".tmp"
#define TSDB_FILE_INDEX "index"
#define TSDB_FILE_CHUNKS "chunks"

/*---- WAL (wal/seg-NNNNNNNN, wal/ckpt-NNNNNNNN) ----*/
#define TSDB_WAL_MAGIC 0x4c57534cu   /* "LSWL" read as little-endian u32 */
#define TSDB_WAL_VERSION 1
#define TSDB_WAL_HDR 8                /* magic u32, version u8, 3 reserved */
#define TSDB_WAL_REC_HDR 9            /* len u32 (payload), crc u32 (type+payload), type u8 */
#define TSDB_WAL_MAX_REC (64u << 20)  /* larger len = corrupt */

enum tsdb_wal_rec {
  TSDB_REC_SERIES = 1,  /* uvarint ref, uvarint nlabels, nlabels × (uvarint len, bytes) × 2 */
  TSDB_REC_SAMPLES = 2, /* repeated: uvarint ref, varint t − previous t (0 first), u64 value bits */
  TSDB_REC_CHUNK = 3,   /* uvarint ref, varint mint, uvarint maxt−mint, uvarint n, uvarint len, bytes */
};

/*---- Block: chunks file ----*/
#define TSDB_CHUNKS_MAGIC 0x4b43534cu /* "LSCK" */
#define TSDB_CHUNKS_VERSION 1
#define TSDB_CHUNKS_HDR 8             /* magic u32, version u8, 3 reserved */
/* then frames: a tsdb__pack frame of the chunks of one or more series
 * concatenated, then u32 crc of the frame bytes */

/*---- Block: index file ----*/
#define TSDB_INDEX_MAGIC 0x5849534cu  /* "LSIX" */
#define TSDB_INDEX_VERSION 1
/* Header: magic u32, version u8, 3 reserved, mint i64, maxt i64, nseries u64,
 * nsamples u64, nchunks u64, crc u32 (of the previous 48 bytes). */
#define TSDB_INDEX_HDR 52
/* Then four sections (symbols, series, postings, postings table), each
 * framed as len u32, bytes, crc u32; then the TOC. */
enum { TSDB_SEC_SYMBOLS, TSDB_SEC_SERIES, TSDB_SEC_POSTINGS, TSDB_SEC_PTABLE, TSDB_NSEC };
/* TOC: 4 × u64 section offsets, crc u32 (of the offsets), magic u32. */
#define TSDB_INDEX_TOC (TSDB_NSEC * 8 + 8)

/* Samples per chunk when blocks are (re-)encoded (head chunks are copied
 * verbatim into first-level blocks and re-encoded by compaction). */
#define TSDB_BLOCK_CHUNK_SAMPLES 1920
/* Unpacked bytes per chunks-file frame (series grouped by timestamps). */
#define TSDB_FRAME_BYTES (64 * 1024)
/* Writer memory bound: frame the series buffered so far beyond this. */
#define TSDB_WRITER_PENDING (8u << 20)

/*---- Block: rollup file (written by compaction; optional) ----*/
#define TSDB_FILE_ROLLUP "rollup"
#define TSDB_ROLLUP_MAGIC 0x5552534cu /* "LSRU" */
#define TSDB_ROLLUP_VERSION 2         /* 1 (values as XORs only) is still read */
#define TSDB_ROLLUP_HDR 8             /* magic u32, version u8, 3 reserved */
/* then frames (tsdb__pack + crc u32) of series' record streams, the TOC
 * (see FORMAT.md) with its crc u32, and the trailer: TOC offset u64, magic u32. */
#define TSDB_ROLLUP_TRAILER 12
#define TSDB_ROLLUP_FRAME_BYTES (64 * 1024)
#define TSDB_ROLLUP_FLUSH_BYTES (1024 * 1024) /* writer: packed frames buffered before a write */

#endif
