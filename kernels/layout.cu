// Data movement, by element size so every dtype shares one kernel: strided row copies (concat, split, KV
// cache append), permutations, nearest 2× upsampling (NHWC) and embedding gathers.
#include "common.cuh"

namespace viper {

// rows × bytes copied from src (row pitch src_pitch) to dst (row pitch dst_pitch), 4 bytes at a time when aligned.
VIPER_INLINE void copy_rows(const unsigned char* __restrict__ src, i64 src_pitch, unsigned char* __restrict__ dst, i64 dst_pitch,
                            i64 rows, i64 bytes) {
    i64 n = rows * bytes;
    for (i64 i = i64(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += i64(gridDim.x) * blockDim.x) {
        i64 r = i / bytes, b = i % bytes;
        dst[r * dst_pitch + b] = src[r * src_pitch + b];
    }
}

// Row b of values (B, Tn, row_bytes) into cache (B, Tmax, row_bytes) at sequence position positions[b]; a position
// that would overflow the cache is recorded and its row skipped.
VIPER_INLINE void kv_cache_write_rows(const unsigned char* __restrict__ values, const int* __restrict__ positions,
                                      unsigned char* __restrict__ cache, i64 tn, i64 tmax, i64 row_bytes, i64 n, BadValueRecord* bad) {
    i64 per_row = tn * row_bytes;
    for (i64 i = i64(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += i64(gridDim.x) * blockDim.x) {
        i64 b = i / per_row, rest = i % per_row;
        i64 p = positions[b];
        if (p < 0 || p > tmax - tn) {
            if (rest == 0) record_bad_value(bad, kBadCachePosition, p, int(tmax - tn));
            continue;
        }
        cache[(b * tmax + p) * row_bytes + rest] = values[i];
    }
}

template <typename E>
VIPER_INLINE void gather(const E* __restrict__ x, E* __restrict__ y, Strides s, i64 n) {
    for (i64 i = i64(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += i64(gridDim.x) * blockDim.x) y[i] = x[source_index(i, s)];
}

template <typename E>
VIPER_INLINE void upsample_nearest2x(const E* __restrict__ x, E* __restrict__ y, i64 h, i64 w, i64 c, i64 n) {
    for (i64 i = i64(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += i64(gridDim.x) * blockDim.x) {
        i64 ch = i % c, ox = i / c % (2 * w), oy = i / (c * 2 * w) % (2 * h), img = i / (c * 4 * w * h);
        y[i] = x[((img * h + oy / 2) * w + ox / 2) * c + ch];
    }
}

// Rows of table (rows, width) gathered by ids; an id outside [0, rows) is recorded and clamped.
template <typename E, typename I>
VIPER_INLINE void embedding(const E* __restrict__ table, const I* __restrict__ ids, E* __restrict__ y, i64 rows, i64 width, i64 n,
                            BadValueRecord* bad) {
    for (i64 i = i64(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += i64(gridDim.x) * blockDim.x) {
        i64 id = checked_value(i64(ids[i / width]), 0, rows - 1, bad, kBadEmbeddingId);
        y[i] = table[id * width + i % width];
    }
}

}  // namespace viper

extern "C" __global__ void copy_rows(const unsigned char* src, i64 src_pitch, unsigned char* dst, i64 dst_pitch, i64 rows, i64 bytes) {
    viper::copy_rows(src, src_pitch, dst, dst_pitch, rows, bytes);
}
VIPER_ENTRY(copy_rows)

extern "C" __global__ void kv_cache_write_rows(const unsigned char* values, const int* positions, unsigned char* cache, i64 tn, i64 tmax,
                                               i64 row_bytes, i64 n, viper::BadValueRecord* bad) {
    viper::kv_cache_write_rows(values, positions, cache, tn, tmax, row_bytes, n, bad);
}
VIPER_ENTRY(kv_cache_write_rows)

#define VIPER_LAYOUT(bits, E)                                                                                                 \
    extern "C" __global__ void gather_b##bits(const E* x, E* y, viper::Strides s, i64 n) { viper::gather<E>(x, y, s, n); }    \
    VIPER_ENTRY(gather_b##bits)                                                                                               \
    extern "C" __global__ void upsample_nearest2x_b##bits(const E* x, E* y, i64 h, i64 w, i64 c, i64 n) {                     \
        viper::upsample_nearest2x<E>(x, y, h, w, c, n);                                                                       \
    }                                                                                                                         \
    VIPER_ENTRY(upsample_nearest2x_b##bits)                                                                                   \
    extern "C" __global__ void embedding_i32_b##bits(const E* table, const int* ids, E* y, i64 rows, i64 width, i64 n,      \
                                                     viper::BadValueRecord* bad) {                                            \
        viper::embedding<E, int>(table, ids, y, rows, width, n, bad);                                                         \
    }                                                                                                                         \
    VIPER_ENTRY(embedding_i32_b##bits)                                                                                        \
    extern "C" __global__ void embedding_i64_b##bits(const E* table, const i64* ids, E* y, i64 rows, i64 width, i64 n,      \
                                                     viper::BadValueRecord* bad) {                                            \
        viper::embedding<E, i64>(table, ids, y, rows, width, n, bad);                                                         \
    }                                                                                                                         \
    VIPER_ENTRY(embedding_i64_b##bits)

VIPER_LAYOUT(8, unsigned char)
VIPER_LAYOUT(16, u16)
VIPER_LAYOUT(32, u32)
VIPER_LAYOUT(64, u64)
