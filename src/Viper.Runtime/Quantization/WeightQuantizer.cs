namespace Viper.Runtime.Quantization;

/// <summary>
/// A weight matrix (N, K) in a weight-only format on the host: the stored bytes and, for int8 and FP8, one f32 scale per
/// output row (dequantized w[n, k] = q[n, k]·scale[n]). Q8_0/Q4_0 keep their scales inside their blocks.
/// </summary>
public sealed record QuantizedMatrix(DType Format, int Rows, int Cols, byte[] Data, float[]? Scale);

/// <summary>
/// Quantizes f32 rows into a weight format and back. int8: symmetric per output channel, scale = amax/127, q =
/// round-half-even(w/scale). FP8 E4M3: per output channel, scale = amax/448, q = e4m3(w/scale). Q8_0/Q4_0: llama.cpp's
/// blocks (<see cref="BlockQuant"/>). A row of zeros gets scale 0 and zero codes. Rows are independent, so a matrix can
/// be quantized a slab of rows at a time without an f32 copy of the whole.
/// </summary>
public static class WeightQuantizer
{
    public static QuantizedMatrix Quantize(ReadOnlySpan<float> values, int rows, int cols, DType format)
    {
        var data = new byte[format.BytesFor(new Shape(rows, cols))];
        float[]? scale = format.NeedsScale() ? new float[rows] : null;
        QuantizeRows(values, cols, format, data, scale);
        return new QuantizedMatrix(format, rows, cols, data, scale);
    }

    /// <summary>Quantizes whole rows of <paramref name="values"/> (length a multiple of <paramref name="cols"/>) into their bytes and scales.</summary>
    public static void QuantizeRows(ReadOnlySpan<float> values, int cols, DType format, Span<byte> data, Span<float> scale)
    {
        Check(format, cols);
        int rows = values.Length / cols;
        long rowBytes = format.BytesFor(cols);
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> row = values.Slice(r * cols, cols);
            Span<byte> q = data.Slice((int)(r * rowBytes), (int)rowBytes);
            switch (format)
            {
                case DType.Q8_0:
                    BlockQuant.QuantizeQ8_0(row, q);
                    break;
                case DType.Q4_0:
                    BlockQuant.QuantizeQ4_0(row, q);
                    break;
                case DType.I8:
                    scale[r] = ScaledRow(row, 127f, q, static v => unchecked((byte)(sbyte)Math.Clamp(MathF.Round(v, MidpointRounding.ToEven), -127f, 127f)));
                    break;
                case DType.F8E4M3:
                    scale[r] = ScaledRow(row, Fp8.E4M3Max, q, Fp8.F32ToE4M3);
                    break;
                default:
                    throw new ArgumentException($"cannot quantize to {format.Label()}", nameof(format));
            }
        }
    }

    /// <summary>The f32 values a quantized matrix stands for.</summary>
    public static float[] Dequantize(QuantizedMatrix m)
    {
        var values = new float[(long)m.Rows * m.Cols];
        DequantizeRows(m.Data, m.Scale, m.Cols, m.Format, values);
        return values;
    }

    /// <summary>Dequantizes whole rows: <paramref name="values"/>.Length / cols rows from the start of <paramref name="data"/> and <paramref name="scale"/>.</summary>
    public static void DequantizeRows(ReadOnlySpan<byte> data, ReadOnlySpan<float> scale, int cols, DType format, Span<float> values)
    {
        int rows = values.Length / cols;
        long rowBytes = format.BytesFor(cols);
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<byte> q = data.Slice((int)(r * rowBytes), (int)rowBytes);
            Span<float> y = values.Slice(r * cols, cols);
            switch (format)
            {
                case DType.Q8_0:
                    BlockQuant.DequantizeQ8_0(q, y);
                    break;
                case DType.Q4_0:
                    BlockQuant.DequantizeQ4_0(q, y);
                    break;
                case DType.I8:
                    for (int k = 0; k < cols; k++) y[k] = (sbyte)q[k] * ScaleOf(scale, r);
                    break;
                case DType.F8E4M3:
                    for (int k = 0; k < cols; k++) y[k] = Fp8.E4M3ToF32(q[k]) * ScaleOf(scale, r);
                    break;
                case DType.F8E5M2:
                    for (int k = 0; k < cols; k++) y[k] = Fp8.E5M2ToF32(q[k]) * ScaleOf(scale, r);
                    break;
                default:
                    throw new ArgumentException($"{format.Label()} is not a weight format", nameof(format));
            }
        }
    }

    /// <summary>A per-channel scale has one value per row; a per-tensor scale one value for all.</summary>
    private static float ScaleOf(ReadOnlySpan<float> scale, int row) => scale.Length == 1 ? scale[0] : scale[row];

    private static float ScaledRow(ReadOnlySpan<float> row, float max, Span<byte> q, Func<float, byte> encode)
    {
        float amax = 0;
        foreach (float v in row)
        {
            amax = MathF.Max(amax, MathF.Abs(v));
        }

        float s = amax / max;
        for (int k = 0; k < row.Length; k++)
        {
            q[k] = s == 0 ? (byte)0 : encode(row[k] / s);
        }

        return s;
    }

    private static void Check(DType format, int cols)
    {
        if (!format.IsQuantized())
        {
            throw new ArgumentException($"{format.Label()} is not a weight format", nameof(format));
        }

        format.BytesFor(cols); // a block format needs whole blocks per row
    }
}
