using Viper.Imaging;

namespace Viper.Pipelines.Preferences;

/// <summary>
/// The ViPer paper's personalized-vs-non-personalized accuracy: for each prompt, an image generated with the user's
/// preference and one without it from the same seed, both scored by the proxy metric against the user's liked and
/// disliked images; the accuracy is the fraction of prompts whose personalized image scores higher. The diffusion
/// pipeline is released before the metric's model loads, so both fit one machine.
/// </summary>
public static class PersonalizationEvaluation
{
    /// <summary>
    /// Generates both images per prompt (seed <c>request.Seed + i</c> for prompt i) with <paramref name="loadPipeline"/>'s
    /// pipeline, then scores them with <paramref name="loadMetric"/>'s metric. <paramref name="onImage"/> sees each image
    /// as it is made (to save it).
    /// </summary>
    public static EvaluationReport Run(Func<ViperPipeline> loadPipeline, Func<ProxyMetric> loadMetric, GenerationRequest template,
        VisualPreference preference, IReadOnlyList<string> prompts, IReadOnlyList<RgbImage> liked, IReadOnlyList<RgbImage> disliked,
        Action<int, bool, RgbImage>? onImage = null, CancellationToken cancellationToken = default)
    {
        if (prompts.Count == 0)
        {
            throw new ArgumentException("no prompts to evaluate");
        }

        if (liked.Count != disliked.Count || liked.Count == 0)
        {
            throw new ArgumentException($"the metric's context needs as many liked as disliked images, at least one each (got {liked.Count} liked, {disliked.Count} disliked)");
        }

        var personalized = new RgbImage[prompts.Count];
        var plain = new RgbImage[prompts.Count];
        using (ViperPipeline pipeline = loadPipeline())
        {
            for (int i = 0; i < prompts.Count; i++)
            {
                GenerationRequest request = template with { Prompt = prompts[i], Seed = template.Seed + (ulong)i, Batch = 1 };
                personalized[i] = pipeline.Generate(request with { Preference = preference }, cancellationToken: cancellationToken).Images[0];
                onImage?.Invoke(i, true, personalized[i]);
                plain[i] = pipeline.Generate(request with { Preference = null }, cancellationToken: cancellationToken).Images[0];
                onImage?.Invoke(i, false, plain[i]);
            }
        }

        using ProxyMetric metric = loadMetric();
        IReadOnlyList<double> scores = metric.Score(disliked, liked, [.. personalized, .. plain], cancellationToken);
        EvaluatedPrompt[] rows = [.. prompts.Select((p, i) => new EvaluatedPrompt(p, template.Seed + (ulong)i, scores[i], scores[prompts.Count + i]))];
        return new EvaluationReport(rows, rows.Count(r => r.PersonalizedWins) / (double)rows.Length);
    }
}

/// <summary>One prompt's two scores.</summary>
public sealed record EvaluatedPrompt(string Prompt, ulong Seed, double PersonalizedScore, double PlainScore)
{
    public bool PersonalizedWins => PersonalizedScore > PlainScore;
}

/// <summary>Every prompt's scores and the fraction of prompts where the personalized image scored higher.</summary>
public sealed record EvaluationReport(IReadOnlyList<EvaluatedPrompt> Prompts, double Accuracy);
