using System.Text.Json;
using Viper.Engine.Tests.Models;
using Viper.Engine.Tests.Support;
using Viper.Cuda.Backend;
using Viper.Cuda.Emulation;
using Viper.Imaging;
using Viper.Pipelines;
using Viper.Pipelines.Chat;
using Viper.Runtime;

namespace Viper.Engine.Tests.Pipelines;

/// <summary>
/// The chat pipeline end to end on ../shared/refs/idefics2 (transformers 4.42.4): raw images and the README's prompt texts
/// in, greedy ids out — compared with generate()'s up to the first step whose recorded top-1/top-2 margin is under
/// 1e-2 (margins within 1e-3) — the metric's score from the next-token logits, the decoded text, and one prefill reused.
/// </summary>
public class Idefics2ChatTests
{
    // The 310-token VPE prompt runs on the CPU only here: on the emulated device it takes 45 s, and its prefill and
    // decode are already compared there by MistralTextTests and Idefics2ModelTests.
    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach ((string backend, string prompt) in Idefics2Refs.BackendsAndPrompts().Select(row => ((string)row[0], (string)row[1])))
        {
            if (backend == "cpu" || prompt != "vpe")
            {
                data.Add(backend, prompt);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void GreedyIdsMatchTransformersFromRawImagesAndText(string backend, string prompt)
    {
        using JsonDocument readme = Readme();
        using RefTensors inputs = Idefics2Refs.Inputs();
        using RefTensors outputs = Idefics2Refs.Outputs();
        using IBackend b = TestBackends.Create(backend);
        using Idefics2Chat chat = Idefics2Chat.Load(Idefics2Refs.Folder, b, DType.F32);
        int images = inputs.Shape($"{prompt}_pixel_values")[1];
        ChatPrompt prepared = chat.Prepare(readme.RootElement.GetProperty($"{prompt}_text").GetString()!,
            [.. Enumerable.Range(0, images).Select(i => Idefics2ProcessorTests.RawImage(inputs, i))]);
        Assert.Equal(Idefics2Refs.InputIds(inputs, prompt), prepared.Ids);

        long[] expected = outputs.Longs($"{prompt}_generated_ids");
        float[] margins = outputs.Floats($"{prompt}_generated_top1_minus_top2");
        var options = new ChatOptions { MaxNewTokens = expected.Length, RepetitionPenalty = prompt == "vpe" ? 0.99f : 1f };
        using ChatSession session = chat.Prefill(prepared, options.MaxNewTokens);
        GeneratedToken[] tokens = [.. session.Generate(options)];
        Assert.Equal(backend != "cpu" && tokens.Length > 1, session.DecodesWithGraph); // CUDA backends replay one recorded decode step
        for (int step = 0; step < tokens.Length; step++)
        {
            Assert.Equal(expected[step], tokens[step].Id);
            Assert.True(MathF.Abs(tokens[step].Margin - margins[step]) < 1e-3f, $"step {step}: margin {tokens[step].Margin} vs {margins[step]}");
            if (margins[step] < 1e-2f)
            {
                break;
            }
        }

        if (prompt == "metric")
        {
            float[] logits = session.NextTokenLogits();
            int plus = readme.RootElement.GetProperty("token_ids_plus_minus").GetProperty("+").GetInt32();
            int minus = readme.RootElement.GetProperty("token_ids_plus_minus").GetProperty("-").GetInt32();
            double score = 1 / (1 + Math.Exp(logits[minus] - logits[plus]));
            Assert.Equal(readme.RootElement.GetProperty("metric_score").GetDouble(), score, 1e-4);
        }
    }

    [Fact]
    public void OnePrefillServesSeveralContinuationsAndTextStreamsAsDecoded()
    {
        using JsonDocument readme = Readme();
        using RefTensors outputs = Idefics2Refs.Outputs();
        using IBackend b = TestBackends.Create("cpu");
        using Idefics2Chat chat = Idefics2Chat.Load(Idefics2Refs.Folder, b, DType.F32);
        ChatPrompt prepared = ChatPrompt(chat, readme);
        using ChatSession session = chat.Prefill(prepared, maxNewTokens: 10);
        GeneratedToken[] first = [.. session.Generate(new ChatOptions { MaxNewTokens = 10 })];
        GeneratedToken[] again = [.. session.Generate(new ChatOptions { MaxNewTokens = 4 })];
        Assert.Equal(first.Take(4).Select(t => t.Id), again.Select(t => t.Id));
        Assert.True(first[^1].IsEnd);
        Assert.Equal(chat.Tokenizer.Decode(first.Select(t => t.Id)), string.Concat(first.Select(t => t.Text)));
        Assert.Equal(readme.RootElement.GetProperty("vpe_decoded").GetString(), chat.Tokenizer.Decode(outputs.Longs("vpe_generated_ids").Select(i => (int)i)));
        Assert.Throws<ArgumentOutOfRangeException>(() => session.Generate(new ChatOptions { MaxNewTokens = 11 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => session.Generate(new ChatOptions { MaxNewTokens = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => session.Generate(new ChatOptions { RepetitionPenalty = -1f, MaxNewTokens = 2 }));
        var mismatch = Assert.Throws<ArgumentException>(() => chat.Prepare("User:<image>Hi<end_of_utterance>\nAssistant:", []));
        Assert.Contains("1 <image> tokens for 0 images", mismatch.Message, StringComparison.Ordinal);
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.Throws<OperationCanceledException>(() => session.Generate(new ChatOptions { MaxNewTokens = 3 }, cancelled.Token).ToList());
    }

    /// <summary>
    /// The async stream gives the same tokens and text as the synchronous one, off the caller's thread; bad settings throw
    /// when it is asked for, and a token cancelled mid-answer stops it.
    /// </summary>
    [Fact]
    public async Task TheAsyncStreamGivesTheSameTokensAndStopsWhenCancelled()
    {
        using JsonDocument readme = Readme();
        using IBackend b = TestBackends.Create("cpu");
        using Idefics2Chat chat = Idefics2Chat.Load(Idefics2Refs.Folder, b, DType.F32);
        using ChatSession session = chat.Prefill(ChatPrompt(chat, readme), maxNewTokens: 10);
        var options = new ChatOptions { MaxNewTokens = 10 };
        GeneratedToken[] expected = [.. session.Generate(options)];
        var streamed = new List<GeneratedToken>();
        await foreach (GeneratedToken token in session.GenerateAsync(options))
        {
            streamed.Add(token);
        }

        Assert.Equal(expected, streamed);
        Assert.Throws<ArgumentOutOfRangeException>(() => session.GenerateAsync(options with { MaxNewTokens = 11 }));

        using var stop = new CancellationTokenSource();
        int seen = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (GeneratedToken token in session.GenerateAsync(options).WithCancellation(stop.Token))
            {
                if (++seen == 3)
                {
                    await stop.CancelAsync();
                }
            }
        });
        Assert.Equal(3, seen);
    }

    /// <summary>
    /// Loading reports the "load" stage rising to its end, and a load cancelled part way (here after a fifth of the
    /// checkpoint) stops with OperationCanceledException and gives every tensor it had read back to the device.
    /// </summary>
    [Fact]
    public void LoadingReportsProgressAndACancelledLoadReleasesWhatItRead()
    {
        using var b = new CudaBackend(new EmulatedDevice());
        long before = b.Memory.InUseBytes;
        var reports = new List<GenerationProgress>();
        using (Idefics2Chat chat = Idefics2Chat.Load(Idefics2Refs.Folder, b, DType.F32, new ChatLoadOptions { AdapterFolder = Path.Combine(Idefics2Refs.Folder, "lora_adapter") },
            new SynchronousProgress<GenerationProgress>(reports.Add)))
        {
            Assert.True(reports.Count > 50, $"{reports.Count} reports");
            Assert.All(reports, p => Assert.Equal(("load", 1000), (p.Stage, p.TotalSteps)));
            Assert.Equal(reports.Select(p => p.Step).Order(), reports.Select(p => p.Step));
            Assert.InRange(reports[0].Step, 0, 100);
            Assert.Equal(1000, reports[^1].Step);
        }

        Assert.Equal(before, b.Memory.InUseBytes);
        using var stop = new CancellationTokenSource();
        var progress = new SynchronousProgress<GenerationProgress>(p =>
        {
            if (p.Step >= 200)
            {
                stop.Cancel();
            }
        });
        Assert.Throws<OperationCanceledException>(() => Idefics2Chat.Load(Idefics2Refs.Folder, b, DType.F32, null, progress, stop.Token));
        Assert.True(stop.IsCancellationRequested);
        Assert.Equal(before, b.Memory.InUseBytes);
    }

    [Fact]
    public void LogitsAtChosenPositionsEqualTransformers()
    {
        using RefTensors outputs = Idefics2Refs.Outputs();
        using IBackend b = TestBackends.Create("cpu");
        using Idefics2Chat chat = Idefics2Chat.Load(Idefics2Refs.Folder, b, DType.F32);
        using JsonDocument readme = Readme();
        ChatPrompt prepared = ChatPrompt(chat, readme);
        IReadOnlyList<float[]> logits = chat.PositionLogits(prepared, [-4, -3, prepared.Ids.Count - 2, -1]);
        Tolerance.Close(outputs.Floats("chat_logits_last4"), [.. logits.SelectMany(l => l)], 1e-4f, 1e-4f, "logits of the last 4 positions");
        Assert.Throws<ArgumentOutOfRangeException>(() => chat.PositionLogits(prepared, [prepared.Ids.Count]));
    }

    [Fact]
    public void AMalformedProcessorConfigIsNamed()
    {
        using var copy = new TempFolder();
        foreach (string file in Directory.GetFiles(Idefics2Refs.Folder))
        {
            File.Copy(file, Path.Combine(copy.Path, Path.GetFileName(file)));
        }

        File.WriteAllText(Path.Combine(copy.Path, "processor_config.json"), "{\"image_seq_len\": \"three\"}");
        using IBackend b = TestBackends.Create("cpu");
        var e = Assert.Throws<InvalidDataException>(() => Idefics2Chat.Load(copy.Path, b, DType.F32));
        Assert.Contains("processor_config.json: image_seq_len must be an integer", e.Message, StringComparison.Ordinal);
    }

    /// <summary>A chat over a model the host built itself (the decode benchmark's random 8B) answers as the loaded one.</summary>
    [Fact]
    public void AChatOverAModelBuiltElsewhereAnswersAsALoadedOne()
    {
        using JsonDocument readme = Readme();
        using IBackend b = TestBackends.Create("cpu");
        var tokenizer = Viper.Models.Tokenizers.MistralTokenizer.Load(Idefics2Refs.Folder);
        using Idefics2Chat built = Idefics2Chat.Create(Viper.Models.Idefics2.Idefics2ForConditionalGeneration.Load(Idefics2Refs.Folder, b, DType.F32),
            tokenizer, Idefics2ImageProcessor.Load(Path.Combine(Idefics2Refs.Folder, "preprocessor_config.json")),
            GenerationConfig.Load(Idefics2Refs.Folder, tokenizer.EosId));
        using Idefics2Chat loaded = Idefics2Chat.Load(Idefics2Refs.Folder, b, DType.F32);
        Assert.Equal(loaded.ImageSequenceLength, built.ImageSequenceLength);
        var options = new ChatOptions { MaxNewTokens = 12 };
        int[] Answer(Idefics2Chat chat)
        {
            using ChatSession session = chat.Prefill(ChatPrompt(chat, readme), options.MaxNewTokens);
            return [.. session.Generate(options).Select(t => t.Id)];
        }

        Assert.Equal(Answer(loaded), Answer(built));
    }

    // The README's chat prompt with its two images (0 and 1), prepared by the chat's processor and tokenizer.
    private static ChatPrompt ChatPrompt(Idefics2Chat chat, JsonDocument readme)
    {
        using RefTensors inputs = Idefics2Refs.Inputs();
        return chat.Prepare(readme.RootElement.GetProperty("chat_text").GetString()!,
            [Idefics2ProcessorTests.RawImage(inputs, 0), Idefics2ProcessorTests.RawImage(inputs, 1)]);
    }

    private static JsonDocument Readme() => JsonDocument.Parse(File.ReadAllText(Path.Combine(Idefics2Refs.Folder, "README.json")));
}
