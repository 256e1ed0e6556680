using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Viper.Runtime;

namespace Viper.Backends.Cpu;

/// <summary>
/// Every f16 bit pattern's f32 value (256 KiB), for the block scales of Q8_0/Q4_0 weights: one load per 32 values in the
/// decode loops instead of a conversion (ggml-cpu keeps the same table, ggml_table_f32_f16).
/// </summary>
internal static class HalfTable
{
    private static readonly float[] Values = [.. Enumerable.Range(0, 65536).Select(b => FloatBits.F16ToF32((ushort)b))];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Value(ushort bits) => Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(Values), bits);
}
