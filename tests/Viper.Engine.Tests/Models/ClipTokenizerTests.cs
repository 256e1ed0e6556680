using System.Text.Json;
using Viper.Engine.Tests.Support;
using Viper.Models.Tokenizers;
using Viper.Weights;

namespace Viper.Engine.Tests.Models;

/// <summary>
/// Ids against ../shared/refs/tokenizers/clip (transformers 4.42.4 CLIPTokenizer with ftfy, padding="max_length",
/// truncation, 77), for every reference string: padded with EOS (SD1.x, SDXL tokenizer) and with "!" = 0 (SDXL tokenizer_2).
/// </summary>
public class ClipTokenizerTests
{
    private static readonly Lazy<ClipTokenizer> Eos = new(() => Create(ClipTokenizer.EndOfText));
    private static readonly Lazy<ClipTokenizer> Bang = new(() => Create("!"));

    public static TheoryData<int> Cases() => new(Enumerable.Range(0, Strings().Length));

    [Theory]
    [MemberData(nameof(Cases))]
    public void PaddedIdsMatchTransformers(int row)
    {
        string text = Strings()[row];
        Assert.Equal(Reference("sd_ids_pad_eot", row), Eos.Value.EncodePadded(text));
        Assert.Equal(Reference("sd_ids_pad_0", row), Bang.Value.EncodePadded(text));
    }

    [Fact]
    public void LoadsPadTokenAndLengthFromTheCheckpointFolder()
    {
        ClipTokenizer t = ClipTokenizer.Load(RepoPaths.Shared("refs", "sd15", "tokenizer"));
        Assert.Equal((49406, 49407, 49407, 77), (t.BosId, t.EosId, t.PadId, t.MaxLength));
        Assert.Equal("a photo of a cat", t.Decode(t.EncodePadded("A photo of a  CAT")).Trim());
    }

    [Fact]
    public void ChunksLongTextIntoWrappedWindowsOf75()
    {
        string text = string.Join(' ', Enumerable.Repeat("word", 160));
        int[][] chunks = Eos.Value.EncodeChunks(text);
        Assert.Equal(3, chunks.Length);
        IReadOnlyList<int> all = Eos.Value.Encode(text);
        for (int c = 0; c < 3; c++)
        {
            Assert.Equal(77, chunks[c].Length);
            Assert.Equal(49406, chunks[c][0]);
            int n = Math.Min(75, all.Count - (c * 75));
            Assert.Equal(all.Skip(c * 75).Take(n), chunks[c].Skip(1).Take(n));
            Assert.Equal(49407, chunks[c][n + 1]);
        }

        Assert.Single(Eos.Value.EncodeChunks(""));
    }

    [Fact]
    public void MissingOrBrokenFilesAreTypedErrors()
    {
        string dir = Directory.CreateTempSubdirectory().FullName;
        try
        {
            Assert.Throws<FileNotFoundException>(() => ClipTokenizer.Load(dir));
            File.WriteAllText(Path.Combine(dir, "vocab.json"), "{not json");
            File.WriteAllText(Path.Combine(dir, "merges.txt"), "#version: 0.2\n");
            Assert.Throws<InvalidDataException>(() => ClipTokenizer.Load(dir));
            File.WriteAllText(Path.Combine(dir, "vocab.json"), "{\"a</w>\": 0}");
            var e = Assert.Throws<InvalidDataException>(() => ClipTokenizer.Load(dir));
            Assert.Contains("<|startoftext|>", e.Message);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    private static ClipTokenizer Create(string pad) =>
        ClipTokenizer.Create(RepoPaths.Shared("data", "clip", "vocab.json"), RepoPaths.Shared("data", "clip", "merges.txt"), pad);

    private static string[] Strings()
    {
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(RepoPaths.Shared("refs", "tokenizers", "clip", "README.json")));
        return doc.RootElement.GetProperty("strings").EnumerateArray().Select(s => s.GetString()!).ToArray();
    }

    private static int[] Reference(string tensor, int row)
    {
        using SafeTensorsFile file = SafeTensorsFile.Open(RepoPaths.Shared("refs", "tokenizers", "clip", "ids.safetensors"));
        long[] all = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(file.Bytes(tensor)).ToArray();
        return all.Skip(row * 77).Take(77).Select(v => (int)v).ToArray();
    }
}
