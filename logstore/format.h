/* format.h — on-disk layout of the log store (see FORMAT.md for diagrams).
 * All integers little-endian (lib/lk_endian.h); varints are protobuf-style
 * (lib/lk_varint.h). A file with an unknown magic or version is refused
 * untouched (LK_ECORRUPT naming it); bump LS_FORMAT_VERSION on any change.
 * Every record carries a CRC32 (zlib polynomial, lk_crc32). */
#ifndef LOGSTORE_FORMAT_H
#define LOGSTORE_FORMAT_H

#include <stdint.h>

/* File headers: 8 bytes, magic then version. */
#define LS_WAL_MAGIC 0x574c4b4cu     /* "LKLW" read as u32le */
#define LS_SEG_MAGIC 0x534c4b4cu     /* "LKLS" */
#define LS_FORMAT_VERSION 1u
#define LS_FILE_HDR 8u

/* WAL record: u32 payload_len, u32 crc32(payload), payload.
 * payload = u8 type, then per type (WAL_ENTRIES):
 *   uvarint nlabels, nlabels x (uvarint len, bytes name, uvarint len, bytes value),
 *   uvarint first_seq, uvarint n, n x (varint ts_ns, uvarint len, bytes line) */
#define LS_WAL_ENTRIES 1u
#define LS_WAL_REC_HDR 8u
#define LS_WAL_MAX_REC (64u << 20)

/* Segment block: fixed header of LS_BLK_HDR bytes
 *   u32 magic LS_BLK_MAGIC, u32 meta_len, u32 bloom_len, u32 data_len,
 *   u32 crc32(meta ‖ bloom), u32 crc32(data)
 * then meta (meta_len bytes):
 *   uvarint nlabels + label pairs (as in the WAL), uvarint seq_end,
 *   varint mint_ns, varint maxt_ns, uvarint nentries, uvarint raw_len (decompressed
 *   data size), u8 codec, u8 bloom_k
 * then the bloom filter (bloom_len bytes, a multiple of 8; bit i is byte i/8 bit i%8)
 * then data (data_len bytes), compressed by codec; decompressed:
 *   nentries x varint ts delta (first from mint_ns, then from the previous entry),
 *   nentries x uvarint line length, then all line bytes back to back. */
/* Optional after bloom_k (readers before it stop at bloom_k): u8 index
 * flags; LS_IDX_GRAMS: the bloom also holds winnowed 8-grams of tokens of 13+
 * bytes; LS_IDX_TRIGRAMS: LS_TRI_WORDS u64le words of trigram map follow. */
#define LS_IDX_GRAMS 1u
#define LS_IDX_TRIGRAMS 2u
#define LS_IDX_LEAN 4u     /* no prefix/suffix items; tokens of 13+ bytes by their grams only */
#define LS_TRI_LOG2 15
#define LS_TRI_WORDS ((1u << LS_TRI_LOG2) / 64)
#define LS_BLK_MAGIC 0x424c4b4cu     /* "LKLB" */
#define LS_BLK_HDR 24u
#define LS_CODEC_ZSTD 1u
#define LS_MAX_META (1u << 20)
#define LS_MAX_BLOCK_RAW (256u << 20)

/* Names inside the store directory. */
#define LS_WAL_NAME "wal.log"
#define LS_WAL_TMP_NAME "wal.log.tmp" /* a WAL being rewritten with the heads only */
#define LS_SEG_FMT "seg-%08u.lks"

#endif
