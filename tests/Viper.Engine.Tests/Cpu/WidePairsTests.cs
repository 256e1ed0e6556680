using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Viper.Backends.Cpu;
using Viper.Runtime;

namespace Viper.Engine.Tests.Cpu;

/// <summary>The bf16 decode by in-lane unpacks gives 32 values in <see cref="WidePairs"/>' order, and the activations are permuted to the same order.</summary>
public unsafe class WidePairsTests
{
    [Fact]
    public void TheWideBf16DecodeAndThePermutedActivationsAgreeOnEveryPosition()
    {
        if (!Avx512BW.IsSupported)
        {
            return; // the order exists only where the wide decode runs
        }

        float[] values = [.. Enumerable.Range(0, 64).Select(i => (float)i)];
        ushort[] bf16 = [.. values.Select(FloatBits.F32ToBF16)];
        float[] permuted = new float[64];
        fixed (ushort* w = bf16)
        fixed (float* x = values, p = permuted)
        {
            WidePairs.Permute(x, 64, p);
            for (int at = 0; at < 64; at += 32)
            {
                BF16Weights.Decode32Wide((byte*)w, at, out Vector512<float> lo, out Vector512<float> hi);
                for (int i = 0; i < 16; i++)
                {
                    Assert.Equal(permuted[at + i], lo[i]);
                    Assert.Equal(permuted[at + 16 + i], hi[i]);
                }
            }
        }

        Assert.Equal(values.Order(), permuted.Order()); // a permutation: every value once
    }
}
