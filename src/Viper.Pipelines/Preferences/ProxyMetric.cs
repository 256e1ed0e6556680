using Viper.Imaging;
using Viper.Models.Idefics2;
using Viper.Models.Mistral;
using Viper.Pipelines.Chat;
using Viper.Runtime;

namespace Viper.Pipelines.Preferences;

/// <summary>
/// ViPer's proxy metric (EPFL-VILAB/ViPer metric.py): IDEFICS2-8b with the Metric-ViPer adapter sees pairs of images a
/// user disliked and liked, each answered "-" / "+", then a query image; the score is exp(l₊) / (exp(l₊) + exp(l₋)) over
/// the logits of "▁+" and "▁-" at the last position. The context is run once and its KV cache reused for every query;
/// context images are processed on the canvas a full recomputation would pad them to (transformers 4.42 counts a padded
/// patch with any real pixel, so the canvas matters), recomputed when a query is larger — scores equal recomputing
/// the whole prompt per query, as the authors do.
/// </summary>
public sealed class ProxyMetric : IDisposable
{
    private const string Turn = "User:<image>Score for this image?<end_of_utterance>\n";

    private ProxyMetric(Idefics2Chat chat)
    {
        Chat = chat;
        PlusId = Single(chat, "+");
        MinusId = Single(chat, "-");
    }

    public Idefics2Chat Chat { get; }

    /// <summary>The "▁+" token (648 in Mistral's vocabulary).</summary>
    public int PlusId { get; }

    /// <summary>The "▁-" token (387).</summary>
    public int MinusId { get; }

    /// <summary>IDEFICS2 from <paramref name="model"/> with the metric adapter merged, and the authors' image settings.</summary>
    public static ProxyMetric Load(string model, string? adapter, IBackend backend, DType dtype,
        IProgress<GenerationProgress>? progress = null, CancellationToken cancellationToken = default, DType? linearWeights = null) =>
        new(Idefics2Chat.Load(model, backend, dtype, new ChatLoadOptions
            {
                AdapterFolder = adapter, Processor = PreferenceExtractor.ViperImageSettings, LinearWeights = linearWeights,
            },
            progress, cancellationToken));

    /// <summary>Wraps an already loaded model (its processor settings are used as they are).</summary>
    public static ProxyMetric On(Idefics2Chat chat) => new(chat);

    /// <summary>metric.py's prompt for <paramref name="pairs"/> context pairs and one query.</summary>
    public static string Prompt(int pairs) => Context(pairs) + "\n" + Query;

    /// <summary>The scores of <paramref name="queries"/> against (disliked_i, liked_i) pairs, in the queries' order.</summary>
    public IReadOnlyList<double> Score(IReadOnlyList<RgbImage> disliked, IReadOnlyList<RgbImage> liked, IReadOnlyList<RgbImage> queries,
        CancellationToken cancellationToken = default)
    {
        if (disliked.Count != liked.Count || liked.Count == 0)
        {
            throw new ArgumentException($"the metric's context needs as many disliked as liked images, at least one each (got {disliked.Count} disliked, {liked.Count} liked)");
        }

        if (queries.Count == 0)
        {
            throw new ArgumentException("no query images to score");
        }

        RgbImage[] context = [.. disliked.Zip(liked).SelectMany(p => new[] { p.First, p.Second })];
        (int Height, int Width) contextCanvas = Chat.Processor.Canvas(context);
        int[] contextIds = Chat.Tokenizer.Encode(Expanded(Context(liked.Count)));
        int[] queryIds = Chat.Tokenizer.EncodeContinuation(Expanded("\n" + Query));
        var scores = new double[queries.Count];
        foreach (IGrouping<(int, int), int> group in Enumerable.Range(0, queries.Count)
            .GroupBy(i => Max(contextCanvas, Chat.Processor.Canvas([queries[i]]))))
        {
            using MistralKvCache cache = Chat.Model.NewCache(contextIds.Length + queryIds.Length);
            Chat.Forward(new ChatPrompt(contextIds, Chat.Processor.Process(context, group.Key)), cache, cancellationToken).Dispose();
            foreach (int i in group)
            {
                cache.Truncate(contextIds.Length);
                using Tensor hidden = Chat.Forward(new ChatPrompt(queryIds, Chat.Processor.Process([queries[i]], group.Key)), cache, cancellationToken);
                using Tensor last = Chat.Model.Backend.Narrow(hidden, 1, queryIds.Length - 1, 1);
                using Tensor logits = Chat.Model.Logits(last);
                float[] l = logits.ToFloats();
                scores[i] = 1 / (1 + Math.Exp((double)l[MinusId] - l[PlusId])); // exp(l+) / (exp(l+) + exp(l-)), without overflow
            }
        }

        return scores;
    }

    public void Dispose() => Chat.Dispose();

    private static string Context(int pairs) =>
        string.Concat(Enumerable.Repeat(Turn + "Assistant: -<end_of_utterance>\n" + Turn + "Assistant: +<end_of_utterance>\n", pairs)).TrimEnd('\n');

    // The query text after the context's last <end_of_utterance> (so the two encode apart exactly as together).
    private const string Query = Turn + "Assistant: ";

    private string Expanded(string text) => Idefics2Prompt.ExpandImages(text, Chat.ImageSequenceLength, imageSplitting: false);

    private static (int, int) Max((int Height, int Width) a, (int Height, int Width) b) => (Math.Max(a.Height, b.Height), Math.Max(a.Width, b.Width));

    // The id of "▁+" / "▁-": the piece a lone symbol after "Assistant: " becomes.
    private static int Single(Idefics2Chat chat, string symbol)
    {
        int[] ids = chat.Tokenizer.EncodeContinuation(" " + symbol);
        return ids.Length == 1 ? ids[0] : throw new InvalidDataException($"the tokenizer splits ' {symbol}' into {ids.Length} tokens; the metric needs one");
    }
}
