using System.Text;
using FsCheck;
using FsCheck.Fluent;
using Viper.Runtime;
using Viper.Weights;

namespace Viper.Engine.Tests.SafeTensors;

/// <summary>Every malformed safetensors file raises SafeTensorsFormatException naming the problem, and nothing else escapes.</summary>
public class MalformedFileTests
{
    private const string A = "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";

    public static TheoryData<string, byte[], string> Cases => new()
    {
        { "empty file", [], "shorter than the 8-byte header length" },
        { "truncated length prefix", [1, 0, 0], "shorter than the 8-byte header length" },
        { "header length beyond file", SafeTensorsBuilder.Raw("{" + A + "}", 8, declaredLength: 4096), "runs past the end" },
        { "header length over the cap", SafeTensorsBuilder.Raw("{}", 0, declaredLength: 200_000_000), "exceeds the" },
        { "header length near 2^64", SafeTensorsBuilder.Raw("{}", 0, declaredLength: ulong.MaxValue - 3), "exceeds the" },
        { "header not starting with {", SafeTensorsBuilder.Raw(" {}", 0), "does not start with '{'" },
        { "header is a JSON array", SafeTensorsBuilder.Raw("[1,2]", 0), "does not start with '{'" },
        { "bad UTF-8", SafeTensorsBuilder.Raw([(byte)'{', (byte)'"', 0xC3, 0x28, (byte)'"', (byte)':', (byte)'1', (byte)'}'], 0), "not valid UTF-8" },
        { "bad JSON", SafeTensorsBuilder.Raw("{\"a\":{\"dtype\":\"F32\",}", 0), "not valid JSON" },
        { "truncated JSON", SafeTensorsBuilder.Raw("{\"a\":{\"dtype\":", 0), "header" },
        { "trailing garbage after JSON", SafeTensorsBuilder.Raw("{" + A + "}x", 8), "not valid JSON" },
        { "tensor entry not an object", SafeTensorsBuilder.Raw("{\"a\":[1]}", 0), "tensor 'a' is StartArray" },
        { "unknown dtype", SafeTensorsBuilder.Raw("{\"a\":{\"dtype\":\"F99\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8), "unsupported dtype 'F99'" },
        { "dtype not a string", SafeTensorsBuilder.Raw("{\"a\":{\"dtype\":4,\"shape\":[2],\"data_offsets\":[0,8]}}", 8), "dtype is Number" },
        { "missing shape", SafeTensorsBuilder.Raw("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8), "has no 'shape'" },
        { "missing data_offsets", SafeTensorsBuilder.Raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8), "has no 'data_offsets'" },
        { "negative dimension", SafeTensorsBuilder.Raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8), "not a non-negative 64-bit integer" },
        { "fractional dimension", SafeTensorsBuilder.Raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", 8), "holds 2.5" },
        { "dimension overflow", SafeTensorsBuilder.Raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2147483647,2147483647,2147483647],\"data_offsets\":[0,8]}}", 8), "overflows a 64-bit byte count" },
        { "dimension beyond int32", SafeTensorsBuilder.Raw("{\"a\":{\"dtype\":\"U8\",\"shape\":[4294967296],\"data_offsets\":[0,8]}}", 8), "larger than" },
        { "shape × dtype ≠ byte length", SafeTensorsBuilder.Raw("{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8), "is 4 bytes but data_offsets span 8" },
        { "offsets reversed", SafeTensorsBuilder.Raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", 8), "is after end" },
        { "three offsets", SafeTensorsBuilder.Raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4,8]}}", 8), "must be [begin, end]" },
        { "offsets beyond data", SafeTensorsBuilder.Raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8), "run past the 8-byte data region" },
        { "overlapping tensors", SafeTensorsBuilder.Raw("{" + A + ",\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12), "overlap" },
        { "hole between tensors", SafeTensorsBuilder.Raw("{" + A + ",\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]}}", 16), "belong to no tensor" },
        { "trailing data bytes", SafeTensorsBuilder.Raw("{" + A + "}", 12), "4 trailing bytes" },
        { "duplicate tensor names", SafeTensorsBuilder.Raw("{" + A + "," + A + "}", 8), "duplicate entry 'a'" },
        { "repeated field", SafeTensorsBuilder.Raw("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8), "repeats the field 'dtype'" },
        { "unknown field", SafeTensorsBuilder.Raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"strides\":[1]}}", 8), "unknown field 'strides'" },
        { "metadata value not a string", SafeTensorsBuilder.Raw("{\"__metadata__\":{\"format\":1}}", 0), "metadata value 'format'" },
        { "metadata not an object", SafeTensorsBuilder.Raw("{\"__metadata__\":\"pt\"}", 0), "'__metadata__' is String" },
        { "empty tensor name", SafeTensorsBuilder.Raw("{\"\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8), "empty name" },
        { "offset beyond int64", SafeTensorsBuilder.Raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,99999999999999999999]}}", 8), "not a non-negative 64-bit integer" },
        { "deeply nested metadata", SafeTensorsBuilder.Raw("{\"__metadata__\":" + new string('[', 40) + new string(']', 40) + "}", 0), "'__metadata__' is StartArray" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void MalformedBytesRaiseFormatErrorNamingTheProblem(string description, byte[] contents, string problem)
    {
        var e = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsFile.FromBytes(contents, "case.safetensors"));
        Assert.Contains(problem, e.Message);
        Assert.StartsWith("case.safetensors: ", e.Message);
        Assert.False(string.IsNullOrEmpty(description));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MalformedFilesOnDiskRaiseTheSameErrorAndReleaseTheFile(string description, byte[] contents, string problem)
    {
        string path = Path.Combine(Path.GetTempPath(), $"viper-malformed-{Guid.NewGuid():N}.safetensors");
        File.WriteAllBytes(path, contents);
        try
        {
            var e = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsFile.Open(path));
            Assert.Contains(problem, e.Message);
            Assert.Contains(path, e.Message);
        }
        finally
        {
            File.Delete(path); // succeeds only if the mapping was released
        }

        Assert.False(File.Exists(path), description);
    }

    [Fact]
    public void MissingFileIsAFormatErrorNamingThePath()
    {
        var e = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsFile.Open("/nonexistent/model.safetensors"));
        Assert.Contains("/nonexistent/model.safetensors", e.Message);
    }

    /// <summary>
    /// Random byte flips, truncations, extensions and header-length rewrites of a valid file: every outcome is
    /// either a file that still validates (and then every tensor's bytes are readable) or a SafeTensorsFormatException.
    /// </summary>
    [FsCheck.Xunit.Property(MaxTest = 2000)]
    public Property MutatedFilesOnlyEverRaiseFormatErrors(int seed, byte kind, NonNegativeInt position, byte value)
    {
        byte[] valid = ValidFile(seed);
        byte[] mutated = Mutate(valid, kind, position.Get, value);
        try
        {
            using SafeTensorsFile f = SafeTensorsFile.FromBytes(mutated, "mutant");
            long total = f.Tensors.Sum(t => (long)f.Bytes(t).Length);
            return (total == mutated.Length - f.Header.DataStart).ToProperty();
        }
        catch (SafeTensorsFormatException e)
        {
            return (!string.IsNullOrWhiteSpace(e.Problem)).ToProperty();
        }
    }

    private static byte[] ValidFile(int seed)
    {
        var rng = new Random(seed);
        var tensors = new List<TensorData>();
        int count = rng.Next(1, 4);
        for (int i = 0; i < count; i++)
        {
            DType dtype = (DType)rng.Next(0, 7);
            var shape = new Shape(Enumerable.Range(0, rng.Next(0, 3)).Select(_ => rng.Next(0, 4)).ToArray());
            byte[] data = new byte[shape.ElementCount * dtype.SizeInBytes()];
            rng.NextBytes(data);
            tensors.Add(new TensorData($"t{i}.weight", dtype, shape, data));
        }

        return SafeTensorsWriter.ToBytes(tensors, new Dictionary<string, string> { ["format"] = "pt" });
    }

    private static byte[] Mutate(byte[] valid, byte kind, int position, byte value)
    {
        int at = position % Math.Max(valid.Length, 1);
        byte[] copy = (byte[])valid.Clone();
        switch (kind % 5)
        {
            case 0:
                copy[at] = value;
                return copy;
            case 1:
                return valid[..at];
            case 2:
                return [.. valid, .. Enumerable.Repeat(value, 1 + (position % 9))];
            case 3:
                copy[value % 8] ^= (byte)(1 << (position % 8));
                return copy;
            default:
                // Rewrite a digit inside the JSON (shapes and offsets live there).
                int header = (int)Math.Min(BitConverter.ToUInt64(valid, 0), (ulong)valid.Length - 8);
                int[] digits = Enumerable.Range(8, header).Where(i => char.IsAsciiDigit((char)valid[i])).ToArray();
                copy[digits[position % digits.Length]] = (byte)('0' + (value % 10));
                return copy;
        }
    }
}
