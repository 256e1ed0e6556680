namespace Viper.Weights;

/// <summary>A checkpoint that does not hold what a model needs; the message names every offending tensor.</summary>
public sealed class WeightsException : Exception
{
    public WeightsException(string message)
        : base(message)
    {
    }
}
