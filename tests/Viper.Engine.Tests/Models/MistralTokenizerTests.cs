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
