using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Viper.Runtime;

namespace Viper.Backends.Cpu;

/// <summary>
/// Every f16 bit pattern's f32 value (256 KiB), for the block scales of Q8_0/Q4_0 weights: one load per 32 values in the
/// decode loops instead of a conversion (ggml-cpu keeps the same table, ggml_table_f32_f16).
/// </summary>
internal static unsafe class HalfTable
{
    private static readonly float[] Values = MakeValues();

    /// <summary>
    /// The table's first value, for hot loops to take as a parameter: a static field read inside a loop optimized at once
    /// keeps a class-initialization check, whose helper call made the JIT keep the accumulators in memory.
    /// </summary>
    public static float* Pointer => (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(Values));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Value(ushort bits) => Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(Values), bits);

    private static float[] MakeValues()
    {
        float[] values = GC.AllocateArray<float>(65536, pinned: true);
        for (int b = 0; b < values.Length; b++)
        {
            values[b] = FloatBits.F16ToF32((ushort)b);
        }

        return values;
    }
}
