// Flash attention forward on tensor cores (f16/bf16 storage, f32 softmax and accumulation), FlashAttention-2
// style: a block of 4 warps takes 64 query rows (16 per warp) of one (batch, head); key/value tiles of 64 rows
// are staged in shared memory; S = Q·Kᵀ and O += P·V run on mma.sync m16n8k16 with the online softmax kept in
// registers, so the T×T score matrix never exists. Layout (B, T, H·D) as the rest of the engine; GQA, causal
// masking aligned to the end of the keys, and per-sequence key lengths as attention.cu. Head dim: a multiple
// of 8 up to 256, zero-padded to a multiple of 16 in shared memory. Dynamic shared memory: (64 + 2·64)·Dp·2 bytes.
#include "common.cuh"

namespace viper {

constexpr int kFlashRows = 64;     // query rows per block (16 per warp)
constexpr int kFlashKeys = 64;     // keys per shared-memory tile
constexpr int kFlashMaxDimTiles = 32;  // head dim ≤ 256 = 32 n-tiles of 8

template <typename T>
VIPER_INLINE void flash_attention(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v, T* __restrict__ y,
                                  const int* __restrict__ key_lengths, BadValueRecord* bad, AttentionMasks masks, int tq, int tk, int hq,
                                  int hkv, int d, int causal, float scale) {
    VIPER_DYNAMIC_SHARED(u16, smem);
    const int dp = (d + 15) / 16 * 16;
    u16* qs = smem;
    u16* ks = qs + kFlashRows * dp;
    u16* vs = ks + kFlashKeys * dp;
    const int q0 = blockIdx.x * kFlashRows, h = blockIdx.y, b = blockIdx.z, kvh = h / (hq / hkv);
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    const float neg_inf = -bits_to_float(0x7f800000u);

    for (int i = threadIdx.x; i < kFlashRows * dp; i += blockDim.x) {
        int r = i / dp, c = i % dp, qi = q0 + r;
        qs[i] = qi < tq && c < d ? q[((i64(b) * tq + qi) * hq + h) * d + c].bits : u16(0);
    }
    const int visible = visible_keys(key_lengths, b, tk, bad);
    int kv_end = visible;
    if (causal && q0 + kFlashRows + (tk - tq) < kv_end) kv_end = q0 + kFlashRows + (tk - tq);

    const int row0 = warp * 16 + g;  // this thread's rows in the tile: row0 and row0 + 8
    float m[2] = {neg_inf, neg_inf}, l[2] = {0.f, 0.f};
    float o[kFlashMaxDimTiles][4];
    for (int dt = 0; dt < kFlashMaxDimTiles; ++dt) o[dt][0] = o[dt][1] = o[dt][2] = o[dt][3] = 0.f;

    for (int kv0 = 0; kv0 < kv_end; kv0 += kFlashKeys) {
        __syncthreads();  // the previous tile is no longer read
        for (int i = threadIdx.x; i < kFlashKeys * dp; i += blockDim.x) {
            int r = i / dp, c = i % dp, kj = kv0 + r;
            bool inside = kj < tk && c < d;
            i64 at = ((i64(b) * tk + kj) * hkv + kvh) * d + c;
            ks[i] = inside ? k[at].bits : u16(0);
            vs[i] = inside ? v[at].bits : u16(0);
        }
        __syncthreads();

        // S = Q·Kᵀ: 16 rows × 64 keys per warp, as 8 n-tiles of 8 keys.
        float s[kFlashKeys / 8][4];
        for (int nt = 0; nt < kFlashKeys / 8; ++nt) {
            float acc[4] = {0.f, 0.f, 0.f, 0.f};
            for (int kt = 0; kt < dp / 16; ++kt) {
                const u16* qa = qs + row0 * dp + kt * 16 + 2 * t;
                const u16* kb = ks + (nt * 8 + g) * dp + kt * 16 + 2 * t;
                u32 a[4] = {pack2(qa[0], qa[1]), pack2(qa[8 * dp], qa[8 * dp + 1]), pack2(qa[8], qa[9]), pack2(qa[8 * dp + 8], qa[8 * dp + 9])};
                u32 bb[2] = {pack2(kb[0], kb[1]), pack2(kb[8], kb[9])};
                mma16816<T>(acc, a, bb, acc);
            }
            for (int e = 0; e < 4; ++e) {
                int row = q0 + row0 + (e >= 2 ? 8 : 0), key = kv0 + nt * 8 + 2 * t + (e & 1);
                bool ok = key < visible && (!causal || key <= row + (tk - tq)) && row < tq &&
                          (masks.key_mask == nullptr || masks.key_mask[i64(b) * tk + key] != 0);
                float bias = ok && masks.bias != nullptr ? bias_row(masks, b, h, row, tq, tk)[key] : 0.f;
                s[nt][e] = ok ? acc[e] * scale + bias : neg_inf;
            }
        }

        // Online softmax for this thread's two rows; the 4 threads of a group share a row.
        for (int r = 0; r < 2; ++r) {
            float mx = m[r];
            for (int nt = 0; nt < kFlashKeys / 8; ++nt) mx = fmaxf(mx, fmaxf(s[nt][2 * r], s[nt][2 * r + 1]));
            mx = fmaxf(mx, __shfl_xor_sync(kFullMask, mx, 1));
            mx = fmaxf(mx, __shfl_xor_sync(kFullMask, mx, 2));
            float base = mx == neg_inf ? 0.f : mx;  // a row with nothing visible yet keeps p = 0
            float alpha = expf(m[r] - base);
            float sum = 0.f;
            for (int nt = 0; nt < kFlashKeys / 8; ++nt) {
                s[nt][2 * r] = expf(s[nt][2 * r] - base);
                s[nt][2 * r + 1] = expf(s[nt][2 * r + 1] - base);
                sum += s[nt][2 * r] + s[nt][2 * r + 1];
            }
            l[r] = l[r] * alpha + sum;  // this thread's share; the group's shares are summed at the end
            m[r] = mx;
            for (int dt = 0; dt < dp / 8; ++dt) {
                o[dt][2 * r] *= alpha;
                o[dt][2 * r + 1] *= alpha;
            }
        }

        // O += P·V: the S accumulators of two adjacent key n-tiles are exactly one A fragment of P.
        for (int kk = 0; kk < kFlashKeys / 16; ++kk) {
            u32 a[4] = {pack2(from_float<T>(s[2 * kk][0]).bits, from_float<T>(s[2 * kk][1]).bits),
                        pack2(from_float<T>(s[2 * kk][2]).bits, from_float<T>(s[2 * kk][3]).bits),
                        pack2(from_float<T>(s[2 * kk + 1][0]).bits, from_float<T>(s[2 * kk + 1][1]).bits),
                        pack2(from_float<T>(s[2 * kk + 1][2]).bits, from_float<T>(s[2 * kk + 1][3]).bits)};
            const u16* vb = vs + (kk * 16 + 2 * t) * dp + g;
            for (int dt = 0; dt < dp / 8; ++dt) {
                const u16* col = vb + dt * 8;
                u32 bb[2] = {pack2(col[0], col[dp]), pack2(col[8 * dp], col[9 * dp])};
                mma16816<T>(o[dt], a, bb, o[dt]);
            }
        }
    }

    for (int r = 0; r < 2; ++r) {
        l[r] += __shfl_xor_sync(kFullMask, l[r], 1);
        l[r] += __shfl_xor_sync(kFullMask, l[r], 2);
        int qi = q0 + row0 + 8 * r;
        if (qi >= tq) continue;
        T* out = y + ((i64(b) * tq + qi) * hq + h) * d;
        float inv = l[r] > 0.f ? 1.f / l[r] : 0.f;  // no key left: zeros
        for (int dt = 0; dt < dp / 8; ++dt) {
            int c = dt * 8 + 2 * t;
            if (c < d) out[c] = from_float<T>(o[dt][2 * r] * inv);
            if (c + 1 < d) out[c + 1] = from_float<T>(o[dt][2 * r + 1] * inv);
        }
    }
}

}  // namespace viper

#define VIPER_FLASH(suffix, T)                                                                                             \
    extern "C" __global__ void flash_attention_##suffix(const T* q, const T* k, const T* v, T* y, const int* key_lengths,     \
                                                        viper::BadValueRecord* bad, viper::AttentionMasks masks, int tq,    \
                                                        int tk, int hq, int hkv, int d, int causal, float scale) {          \
        viper::flash_attention<T>(q, k, v, y, key_lengths, bad, masks, tq, tk, hq, hkv, d, causal, scale);                 \
    }                                                                                                                      \
    VIPER_ENTRY(flash_attention_##suffix)

VIPER_FLASH(f16, viper::f16)
VIPER_FLASH(bf16, viper::bf16)
