namespace Viper.Schedulers;

/// <summary>
/// PyTorch's CPU generator (<c>torch.Generator().manual_seed(seed)</c>): mt19937 seeded with the low 32 bits, with
/// <c>torch.randn</c>'s float32 sampling reproduced bit for bit, so a seed gives the same latents as diffusers with a
/// CPU generator. Mirrors aten/src/ATen/core/MT19937RNGEngine.h and native/cpu/DistributionTemplates.h (normal_fill_AVX2, the
/// path x86-64 builds take for float tensors of 16 or more elements).
/// </summary>
public sealed class TorchGenerator
{
    private const int StateSize = 624;
    private const int Shift = 397;
    private const float TwoPi = 2f * MathF.PI;
    private readonly uint[] _state = new uint[StateSize];
    private int _left = 1;
    private int _next;
    private double? _cachedNormal;

    public TorchGenerator(ulong seed)
    {
        Seed = seed;
        _state[0] = (uint)(seed & 0xffffffff);
        for (int j = 1; j < StateSize; j++)
        {
            _state[j] = (1812433253u * (_state[j - 1] ^ (_state[j - 1] >> 30))) + (uint)j;
        }
    }

    public ulong Seed { get; }

    /// <summary>The next 32-bit output of mt19937 (std::mt19937 tempering).</summary>
    public uint NextUInt32()
    {
        if (--_left <= 0)
        {
            NextState();
        }

        uint y = _state[_next++];
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c5680u;
        y ^= (y << 15) & 0xefc60000u;
        y ^= y >> 18;
        return y;
    }

    /// <summary>torch's uniform_real_distribution&lt;float&gt;(0, 1): the low 24 bits of one draw, times 2⁻²⁴.</summary>
    public float NextUniformFloat() => (NextUInt32() & 0xffffff) * (1f / (1 << 24));

    /// <summary>torch.randn(count) on the CPU in float32 (a contiguous tensor of that many elements).</summary>
    public float[] Randn(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var data = new float[count];
        if (count >= 16)
        {
            FillNormalVectorised(data);
        }
        else
        {
            for (int i = 0; i < count; i++)
            {
                data[i] = NextScalarNormal();
            }
        }

        return data;
    }

    // normal_fill: uniforms for every element, Box-Muller over blocks of 16 (j with j+8); a ragged tail redraws the last 16.
    private void FillNormalVectorised(float[] data)
    {
        for (int i = 0; i < data.Length; i++)
        {
            data[i] = NextUniformFloat();
        }

        for (int i = 0; i + 16 <= data.Length; i += 16)
        {
            BoxMuller16(data.AsSpan(i, 16));
        }

        if (data.Length % 16 != 0)
        {
            Span<float> tail = data.AsSpan(data.Length - 16, 16);
            for (int i = 0; i < 16; i++)
            {
                tail[i] = NextUniformFloat();
            }

            BoxMuller16(tail);
        }
    }

    private static void BoxMuller16(Span<float> block)
    {
        for (int j = 0; j < 8; j++)
        {
            float u1 = 1 - block[j];
            float u2 = block[j + 8];
            float radius = MathF.Sqrt(-2f * AvxMathFun.Log(u1));
            (float sin, float cos) = AvxMathFun.SinCos(TwoPi * u2);
            block[j] = radius * cos;
            block[j + 8] = radius * sin;
        }
    }

    // at::normal_distribution<double> for tensors under 16 elements: two 53-bit uniforms give r·cos θ, and r·sin θ is
    // kept in the generator for the next sample (CPUGeneratorImpl's next_double_normal_sample).
    private float NextScalarNormal()
    {
        if (_cachedNormal is { } cached)
        {
            _cachedNormal = null;
            return (float)cached;
        }

        double u1 = NextUniformDouble();
        double u2 = NextUniformDouble();
        double r = Math.Sqrt(-2.0 * Math.Log(1.0 - u2));
        double theta = 2.0 * Math.PI * u1;
        _cachedNormal = r * Math.Sin(theta);
        return (float)(r * Math.Cos(theta));
    }

    private double NextUniformDouble()
    {
        ulong hi = NextUInt32();
        ulong lo = NextUInt32();
        ulong bits = (hi << 32) | lo;
        return (bits & ((1UL << 53) - 1)) * (1.0 / (1UL << 53));
    }

    private void NextState()
    {
        _left = StateSize;
        _next = 0;
        for (int i = 0; i < StateSize; i++)
        {
            uint y = (_state[i] & 0x80000000u) | (_state[(i + 1) % StateSize] & 0x7fffffffu);
            _state[i] = _state[(i + Shift) % StateSize] ^ (y >> 1) ^ ((y & 1) != 0 ? 0x9908b0dfu : 0u);
        }
    }
}
