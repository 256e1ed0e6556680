namespace Viper.Models.Clip;

/// <summary>
/// The encoder states a caller keeps, in transformers' hidden_states numbering: 0 is the embeddings, i the output of
/// layer i, and negative indices count from the end (−1 the last layer's output, −2 the penultimate SDXL and clip-skip
/// use). States not asked for are released as soon as the next layer has read them.
/// </summary>
public sealed class HiddenStates
{
    private readonly int[] _indices;

    private HiddenStates(int[] indices) => _indices = indices;

    /// <summary>Keep none (the default: only the last hidden state and the pooled output).</summary>
    public static HiddenStates None { get; } = new([]);

    public static HiddenStates Only(params int[] indices) => new(indices);

    /// <summary>Whether state <paramref name="index"/> (0…<paramref name="count"/> − 1) is kept.</summary>
    public bool Keeps(int index, int count) => _indices.Any(i => (i < 0 ? count + i : i) == index);

    /// <summary>Fails before any work when an index is outside the encoder's <paramref name="count"/> states.</summary>
    public void Validate(int count)
    {
        foreach (int i in _indices)
        {
            if (i >= count || i < -count)
            {
                throw new ArgumentOutOfRangeException("keep", $"hidden_states[{i}] does not exist: the encoder has {count} states (embeddings and {count - 1} layers)");
            }
        }
    }
}
