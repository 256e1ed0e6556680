namespace Viper.Runtime;

/// <summary>
/// Storage types a tensor can hold: the compute floats (F32, F16, BF16), integers and bool, and the weight-only
/// formats a <c>Linear</c> weight may be stored in (I8 and FP8 with a separate per-channel scale; Q8_0 and Q4_0 blocks
/// that carry their own scales). Names follow the safetensors header spelling where it has one.
/// </summary>
public enum DType
{
    F32,
    F16,
    BF16,
    I32,
    I64,
    U8,
    Bool,

    /// <summary>Signed 8-bit integers; as a weight, symmetric per output channel with an f32 scale (y = q·scale[n]).</summary>
    I8,

    /// <summary>FP8 E4M3 (OCP "fn": no infinities, 0x7F/0xFF are NaN, max 448); as a weight, with an f32 scale per channel or tensor.</summary>
    F8E4M3,

    /// <summary>FP8 E5M2 (IEEE-like: the top byte of an f16); as a weight, with an f32 scale per channel or tensor.</summary>
    F8E5M2,

    /// <summary>llama.cpp's block_q8_0: 32 values as one f16 scale d and 32 int8 q, value = q·d (34 bytes per block).</summary>
    Q8_0,

    /// <summary>llama.cpp's block_q4_0: 32 values as one f16 scale d and 16 bytes of nibbles, value = (q − 8)·d (18 bytes per block).</summary>
    Q4_0,
}

public static class DTypeExtensions
{
    /// <summary>Bytes per element; a block format has no per-element size (use <see cref="BytesFor(DType, long)"/>).</summary>
    public static int SizeInBytes(this DType dtype) => dtype switch
    {
        DType.F32 or DType.I32 => 4,
        DType.F16 or DType.BF16 => 2,
        DType.I64 => 8,
        DType.U8 or DType.Bool or DType.I8 or DType.F8E4M3 or DType.F8E5M2 => 1,
        DType.Q8_0 or DType.Q4_0 => throw new InvalidOperationException($"{dtype.Label()} is a block format of {dtype.BlockSize()} values: its size is per block"),
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "unknown dtype"),
    };

    /// <summary>Values per block along the last axis (1 for per-element types).</summary>
    public static int BlockSize(this DType dtype) => dtype is DType.Q8_0 or DType.Q4_0 ? 32 : 1;

    /// <summary>Bytes per block (the element size for per-element types).</summary>
    public static int BlockBytes(this DType dtype) => dtype switch
    {
        DType.Q8_0 => 34,
        DType.Q4_0 => 18,
        _ => dtype.SizeInBytes(),
    };

    /// <summary>Bytes that <paramref name="elements"/> values take; for a block format a whole number of blocks.</summary>
    public static long BytesFor(this DType dtype, long elements)
    {
        int block = dtype.BlockSize();
        if (elements % block != 0)
        {
            throw new ArgumentException($"{dtype.Label()} stores values in blocks of {block}; {elements} values is not a whole number of blocks");
        }

        return checked(elements / block * dtype.BlockBytes());
    }

    /// <summary>Bytes a tensor of <paramref name="shape"/> takes. Block formats block the last axis, so every row is whole blocks.</summary>
    public static long BytesFor(this DType dtype, Shape shape)
    {
        if (dtype.BlockSize() > 1 && (shape.Rank == 0 || shape.Last % dtype.BlockSize() != 0))
        {
            throw new ArgumentException($"{dtype.Label()} blocks the last axis by {dtype.BlockSize()}; shape {shape} does not divide");
        }

        return dtype.BytesFor(shape.ElementCount);
    }

    public static bool IsFloat(this DType dtype) => dtype is DType.F32 or DType.F16 or DType.BF16;

    public static bool IsInteger(this DType dtype) => dtype is DType.I32 or DType.I64;

    /// <summary>A weight-only format: a linear layer's weight may be stored in it, and nothing computes in it.</summary>
    public static bool IsQuantized(this DType dtype) => dtype is DType.I8 or DType.F8E4M3 or DType.F8E5M2 or DType.Q8_0 or DType.Q4_0;

    /// <summary>Formats whose values need a separate scale tensor (per output channel or per tensor) to mean anything.</summary>
    public static bool NeedsScale(this DType dtype) => dtype is DType.I8 or DType.F8E4M3 or DType.F8E5M2;

    /// <summary>The lower-case name users type and messages show: f32, bf16, int8, q8_0, q4_0, fp8_e4m3.</summary>
    public static string Label(this DType dtype) => dtype switch
    {
        DType.I8 => "int8",
        DType.F8E4M3 => "fp8_e4m3",
        DType.F8E5M2 => "fp8_e5m2",
        _ => dtype.ToString().ToLowerInvariant(),
    };

    /// <summary>The dtype's name in a safetensors header ("F32", "BF16", "BOOL", "F8_E4M3", ...); block formats have none.</summary>
    public static string SafeTensorsName(this DType dtype) => dtype switch
    {
        DType.Bool => "BOOL",
        DType.F8E4M3 => "F8_E4M3",
        DType.F8E5M2 => "F8_E5M2",
        DType.Q8_0 or DType.Q4_0 => throw new InvalidOperationException($"safetensors has no {dtype.Label()} dtype; it is written as U8 blocks with its format in the metadata"),
        _ => dtype.ToString().ToUpperInvariant(),
    };

    public static bool TryParseSafeTensorsName(string name, out DType dtype)
    {
        switch (name)
        {
            case "F32": dtype = DType.F32; return true;
            case "F16": dtype = DType.F16; return true;
            case "BF16": dtype = DType.BF16; return true;
            case "I32": dtype = DType.I32; return true;
            case "I64": dtype = DType.I64; return true;
            case "U8": dtype = DType.U8; return true;
            case "I8": dtype = DType.I8; return true;
            case "BOOL": dtype = DType.Bool; return true;
            case "F8_E4M3": dtype = DType.F8E4M3; return true;
            case "F8_E5M2": dtype = DType.F8E5M2; return true;
            default: dtype = default; return false;
        }
    }
}
