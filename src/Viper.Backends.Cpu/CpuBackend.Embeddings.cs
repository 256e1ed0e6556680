using Viper.Runtime;

namespace Viper.Backends.Cpu;

public sealed unsafe partial class CpuBackend
{
    protected override Tensor EmbeddingCore(Tensor table, Tensor ids, Shape outShape)
    {
        long rowBytes = (long)table.Shape[1] * table.DType.SizeInBytes();
        int[] index = ids.ToInts();
        TensorValueException.ThrowIfOutside(index, 0, table.Shape[0] - 1, id => TensorValueException.EmbeddingId(id, table.Shape[0]));

        Tensor y = Allocate(outShape, table.DType, zeroed: false);
        for (long r = 0; r < index.Length; r++)
        {
            Buffer.MemoryCopy(Ptr(table) + (index[r] * rowBytes), Ptr(y) + (r * rowBytes), rowBytes, rowBytes);
        }

        return y;
    }

    /// <summary>
    /// diffusers get_timestep_embedding (embeddings.py), in f32 as diffusers computes it:
    /// freq_i = exp(−ln(max_period)·i / (half − shift)); [sin, cos] of scale·t·freq, halves swapped when
    /// flip_sin_to_cos, zero-padded by one column for an odd dim.
    /// </summary>
    protected override Tensor TimestepEmbeddingCore(Tensor timesteps, TimestepEmbeddingOptions options)
    {
        int half = options.Dim / 2;
        float[] t = timesteps.ToFloats();
        float[] freq = new float[half];
        float logPeriod = (float)-Math.Log(options.MaxPeriod);
        for (int i = 0; i < half; i++)
        {
            freq[i] = MathF.Exp(logPeriod * i / (half - options.DownscaleFreqShift));
        }

        float[] y = new float[t.Length * options.Dim];
        for (int n = 0; n < t.Length; n++)
        {
            for (int i = 0; i < half; i++)
            {
                float arg = options.Scale * (t[n] * freq[i]);
                int sinAt = options.FlipSinToCos ? half + i : i;
                int cosAt = options.FlipSinToCos ? i : half + i;
                y[(n * options.Dim) + sinAt] = MathF.Sin(arg);
                y[(n * options.Dim) + cosAt] = MathF.Cos(arg);
            }
        }

        return this.FromFloats(y, new Shape(t.Length, options.Dim));
    }

    /// <summary>HF rotary embedding (modeling_mistral.py): inv_freq_i = 1/θ^(2i/D), x·cos + rotate_half(x)·sin.</summary>
    protected override Tensor RotaryCore(Tensor x, Tensor positions, int headDim, float theta)
    {
        int half = headDim / 2;
        int c = x.Shape[2];
        int[] pos = positions.ToInts();
        float[] invFreq = new float[half];
        for (int i = 0; i < half; i++)
        {
            invFreq[i] = 1f / MathF.Pow(theta, (2 * i) / (float)headDim);
        }

        using F32Input xs = Read(x);
        F32Output y = Write(x.Shape, x.DType);
        float* xp = xs.Pointer, yp = y.Pointer;
        ParallelRows(x.Shape.Rows, c, row =>
        {
            // One position per row: its angles' cosines and sines once, for every head (they were computed per head).
            float p = pos[row % pos.Length]; // (T) repeats for every batch row; (B, T) gives each row its own
            Span<float> cos = stackalloc float[half], sin = stackalloc float[half];
            for (int i = 0; i < half; i++)
            {
                float angle = p * invFreq[i];
                (cos[i], sin[i]) = (MathF.Cos(angle), MathF.Sin(angle));
            }

            for (int head = 0; head < c / headDim; head++)
            {
                float* v = xp + (row * c) + (head * headDim);
                float* o = yp + (row * c) + (head * headDim);
                for (int i = 0; i < half; i++)
                {
                    o[i] = (v[i] * cos[i]) - (v[i + half] * sin[i]);
                    o[i + half] = (v[i + half] * cos[i]) + (v[i] * sin[i]);
                }
            }
        });
        return y.Finish();
    }
}
