namespace Viper.Pipelines.Chat;

/// <summary>Greedy decoding settings, as transformers' generate() takes them.</summary>
public sealed record ChatOptions
{
    /// <summary>Tokens to generate at most (the end-of-sequence token, when chosen, is one of them).</summary>
    public int MaxNewTokens { get; init; } = 256;

    /// <summary>RepetitionPenaltyLogitsProcessor's penalty over the prompt and the tokens so far; 1 = none, below 1 favours repeats.</summary>
    public float RepetitionPenalty { get; init; } = 1f;

    /// <summary>Check the settings and name the first bad one as the user typed it.</summary>
    public void Validate()
    {
        if (MaxNewTokens < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxNewTokens), MaxNewTokens, "max_new_tokens must be at least 1");
        }

        if (!(RepetitionPenalty > 0) || float.IsInfinity(RepetitionPenalty))
        {
            throw new ArgumentOutOfRangeException(nameof(RepetitionPenalty), RepetitionPenalty, "repetition_penalty must be a positive finite number");
        }
    }
}

/// <summary>One generated token: its id, the text it adds to the answer, and how far the winner led the runner-up.</summary>
public sealed record GeneratedToken(int Id, string Text, float Margin, bool IsEnd);
