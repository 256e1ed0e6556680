namespace Viper.Weights.Torch;

/// <summary>A <c>.pt</c> file that is not a tensor saved by <c>torch.save</c>, or that asks for anything a saved tensor does not need.</summary>
public sealed class TorchSaveFormatException : FormatException
{
    public TorchSaveFormatException(string source, string problem, Exception? inner = null)
        : base($"{source}: {problem}", inner)
    {
        Source = source;
        Problem = problem;
    }

    public new string Source { get; }

    public string Problem { get; }
}
