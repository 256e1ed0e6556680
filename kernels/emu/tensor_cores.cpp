// Host implementations of common.cuh's tensor-core wrappers for the emulated device, following the PTX
// fragment layouts exactly: each lane gathers the whole warp's fragments and computes its own part of D.
#include "../common.cuh"

namespace viper {
namespace {

struct Fragments {
    u32 a[4];
    u32 b[2];
    float c[4];
};

u16 half_at(u32 packed, int high) { return u16(high ? packed >> 16 : packed & 0xFFFFu); }

template <typename T>
void mma(float d[4], const u32 a[4], const u32 b[2], const float c[4]) {
    Fragments mine{}, all[32];
    for (int i = 0; i < 4; ++i) mine.a[i] = a[i], mine.c[i] = c[i];
    mine.b[0] = b[0];
    mine.b[1] = b[1];
    emu::warp_gather(0xffffffffu, &mine, sizeof mine, all);
    // Rebuild A (16×16) and B (16×8) from the fragment layout, then compute this lane's D elements.
    float A[16][16], B[16][8];
    for (int lane = 0; lane < 32; ++lane) {
        int g = lane / 4, t = lane % 4;
        const Fragments& f = all[lane];
        for (int h = 0; h < 2; ++h) {
            A[g][2 * t + h] = to_float(T{half_at(f.a[0], h)});
            A[g + 8][2 * t + h] = to_float(T{half_at(f.a[1], h)});
            A[g][2 * t + 8 + h] = to_float(T{half_at(f.a[2], h)});
            A[g + 8][2 * t + 8 + h] = to_float(T{half_at(f.a[3], h)});
            B[2 * t + h][g] = to_float(T{half_at(f.b[0], h)});
            B[2 * t + 8 + h][g] = to_float(T{half_at(f.b[1], h)});
        }
    }
    int lane = int(emu::lane_id()), g = lane / 4, t = lane % 4;
    for (int i = 0; i < 4; ++i) {
        int row = g + (i >= 2 ? 8 : 0), col = 2 * t + (i & 1);
        float acc = c[i];
        for (int k = 0; k < 16; ++k) acc += A[row][k] * B[k][col];
        d[i] = acc;
    }
}

}  // namespace

void mma_m16n8k16_f16(float d[4], const u32 a[4], const u32 b[2], const float c[4]) { mma<f16>(d, a, b, c); }

void mma_m16n8k16_bf16(float d[4], const u32 a[4], const u32 b[2], const float c[4]) { mma<bf16>(d, a, b, c); }

void ldmatrix_x4(u32 r[4], const void* shared_row) {
    const void* rows[32];
    emu::warp_gather(0xffffffffu, &shared_row, sizeof shared_row, rows);
    int lane = int(emu::lane_id());
    for (int j = 0; j < 4; ++j) {
        const u16* row = static_cast<const u16*>(rows[8 * j + lane / 4]);
        r[j] = u32(row[2 * (lane % 4)]) | (u32(row[2 * (lane % 4) + 1]) << 16);
    }
}

}  // namespace viper
