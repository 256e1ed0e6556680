using System.Text.Json;
using Viper.Engine.Tests.Support;
using Viper.Models.Idefics2;
using Viper.Models.Tokenizers;

namespace Viper.Engine.Tests.Models;

/// <summary>
/// Token ids against transformers 4.42.4: the plain Mistral-7B tokenizer (LlamaTokenizer legacy=False, BOS) on
/// ../shared/refs/tokenizers/mistral's cases, and the IDEFICS2 processor's ids (chat template, image expansion, added
/// tokens split out) for every prompt of ../shared/refs/idefics2.
/// </summary>
public class MistralTokenizerTests
{
    public static TheoryData<int> CaseIndices() => [.. Enumerable.Range(0, Cases().GetArrayLength())];

    [Theory]
    [MemberData(nameof(CaseIndices))]
    public void EncodesAndDecodesAsTransformers(int index)
    {
        JsonElement c = Cases()[index];
        MistralTokenizer tokenizer = MistralTokenizer.FromModel(RepoPaths.Shared("data", "mistral", "tokenizer.model"));
        string text = c.GetProperty("text").GetString()!;
        int[] expected = [.. c.GetProperty("hf_llama_tokenizer_legacy_false_with_bos").EnumerateArray().Select(e => e.GetInt32())];
        Assert.Equal(expected, tokenizer.Encode(text));
        int[] pieces = [.. c.GetProperty("sentencepiece_encode").EnumerateArray().Select(e => e.GetInt32())];
        Assert.Equal(c.GetProperty("sentencepiece_decode_roundtrip").GetString(), tokenizer.Decode(pieces));
    }

    /// <summary>
    /// sentencepiece's own ids for each case, pushed one at a time as generation produces them, give back the text
    /// sentencepiece itself decodes — CJK, emoji in byte-fallback pieces, runs of spaces — with no delta showing half a
    /// character; an answer cut inside a character ends with U+FFFD per byte left over, as sentencepiece shows it.
    /// </summary>
    [Theory]
    [MemberData(nameof(CaseIndices))]
    public void StreamedIdsDecodeAsSentencePiece(int index)
    {
        JsonElement c = Cases()[index];
        MistralTokenizer tokenizer = MistralTokenizer.FromModel(RepoPaths.Shared("data", "mistral", "tokenizer.model"));
        int[] ids = [.. c.GetProperty("sentencepiece_encode").EnumerateArray().Select(e => e.GetInt32())];
        var decoder = new StreamingDecoder(tokenizer);
        string[] deltas = [.. ids.Select(decoder.Push)];
        Assert.Equal(c.GetProperty("sentencepiece_decode_roundtrip").GetString(), string.Concat(deltas) + decoder.Finish());
        Assert.DoesNotContain(deltas, d => d.Contains('\uFFFD', StringComparison.Ordinal));

        var cut = new StreamingDecoder(tokenizer);
        int[] shorter = ids[..Math.Max(ids.Length - 1, 0)];
        string held = string.Concat(shorter.Select(cut.Push)), rest = cut.Finish();
        Assert.Equal(tokenizer.Decode(shorter), held + rest);
        Assert.True(rest.All(ch => ch == '\uFFFD'), rest);
    }

    /// <summary>
    /// Where Microsoft.ML's SentencePiece decoding differs from transformers' LlamaTokenizer(legacy=False).decode(ids,
    /// skip_special_tokens=True) (tokenization_llama.py 4.42: specials dropped, then only tokens[0] loses its "▁",
    /// sentencepiece loaded with add_dummy_prefix off): a piece after a leading byte piece keeps its space, and so does
    /// a piece after a skipped special token; a character's bytes on both sides of a special token still join.
    /// </summary>
    [Fact]
    public void DecodingFollowsTransformersAroundBytePiecesAndSpecialTokens()
    {
        MistralTokenizer tokenizer = MistralTokenizer.Load(Idefics2Refs.Folder);
        int newline = tokenizer.Encode("\n")[^1], eou = tokenizer.TokenId(Idefics2Prompt.EndOfUtterance);
        int[] indented = tokenizer.EncodeContinuation("   return");
        Assert.Equal("\n   return", tokenizer.Decode([newline, .. indented]));
        int[] hello = tokenizer.Encode("Hello"), world = tokenizer.EncodeContinuation(" World");
        Assert.Equal("Hello World", tokenizer.Decode([.. hello, eou, .. world]));
        int[] dog = tokenizer.EncodeContinuation("\U0001F436"); // four byte pieces
        Assert.Equal(4, dog.Length);
        Assert.Equal("\U0001F436", tokenizer.Decode([dog[0], eou, .. dog[1..]]));
        Assert.Equal("\uFFFD\uFFFD", tokenizer.Decode(dog[..2]));
        Assert.Throws<ArgumentOutOfRangeException>(() => tokenizer.Decode([tokenizer.VocabularySize]));
    }

    [Theory]
    [InlineData("chat")]
    [InlineData("vpe")]
    [InlineData("metric")]
    public void Idefics2PromptsGiveTheProcessorsIds(string prompt)
    {
        using JsonDocument readme = JsonDocument.Parse(File.ReadAllText(Path.Combine(Idefics2Refs.Folder, "README.json")));
        using RefTensors inputs = Idefics2Refs.Inputs();
        MistralTokenizer tokenizer = MistralTokenizer.Load(Idefics2Refs.Folder);
        string text = readme.RootElement.GetProperty($"{prompt}_text").GetString()!;
        int[] ids = tokenizer.Encode(Idefics2Prompt.ExpandImages(text, imageSequenceLength: 3, imageSplitting: false));
        Assert.Equal(Idefics2Refs.InputIds(inputs, prompt), ids);
    }

    [Fact]
    public void TheChatTemplateRendersAsTransformers()
    {
        using JsonDocument readme = JsonDocument.Parse(File.ReadAllText(Path.Combine(Idefics2Refs.Folder, "README.json")));
        IReadOnlyList<ChatMessage> messages = ChatMessage.ParseList(readme.RootElement.GetProperty("chat_messages").GetRawText(), "chat_messages");
        Assert.Equal(readme.RootElement.GetProperty("chat_text").GetString(), Idefics2Prompt.RenderChat(messages));
        Assert.Equal("User:<image>Score?<end_of_utterance>\nAssistant: +<end_of_utterance>\n",
            Idefics2Prompt.RenderChat([ChatMessage.User(ChatPart.Image(), ChatPart.Text("Score?")), ChatMessage.Assistant("+")], addGenerationPrompt: false));
        Assert.Throws<InvalidDataException>(() => ChatMessage.ParseList("[{\"role\": \"user\", \"content\": [{\"type\": \"video\"}]}]", "m.json"));
        Assert.Throws<InvalidDataException>(() => ChatMessage.ParseList("{\"role\": \"user\"}", "m.json"));
    }

    [Fact]
    public void AdjacentImagesShareTheirFakeTokenAndSplittingRepeatsFiveTimes()
    {
        string f = Idefics2Prompt.FakeImageToken, i = Idefics2Prompt.ImageToken;
        Assert.Equal($"a{f}{i}{i}{f}{i}{i}{f}b", Idefics2Prompt.ExpandImages($"a{i}{i}b", 2, imageSplitting: false));
        Assert.Equal($"{f}{string.Concat(Enumerable.Repeat($"{i}{f}", 5))}", Idefics2Prompt.ExpandImages(i, 1, imageSplitting: true));
    }

    [Fact]
    public void AMissingOrCorruptModelIsReportedByPath()
    {
        using var dir = new TempFolder();
        var missing = Assert.Throws<FileNotFoundException>(() => MistralTokenizer.Load(dir.Path));
        Assert.Contains("tokenizer.model", missing.Message, StringComparison.Ordinal);
        File.WriteAllBytes(Path.Combine(dir.Path, "tokenizer.model"), [1, 2, 3, 4, 5]);
        var corrupt = Assert.Throws<InvalidDataException>(() => MistralTokenizer.Load(dir.Path));
        Assert.Contains("not a SentencePiece model", corrupt.Message, StringComparison.Ordinal);
    }

    private static JsonElement Cases()
    {
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(RepoPaths.Shared("refs", "tokenizers", "mistral", "cases.json")));
        return doc.RootElement.Clone();
    }
}
